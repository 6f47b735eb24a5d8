"""The ledger's operation builders (condition + put/update) for the unit of work: the balance and its
in-flight totals, entries, dedupe and placement markers, invoice headers, lines and open pointers."""

from __future__ import annotations

import json
from typing import Any

from functions.core.errors import ConcurrentUpdateError
from functions.core.ledger_store.models import (
    BALANCE_SK,
    ENTRY,
    INV,
    LINE,
    OPEN,
    REF,
    REFUNDED,
    BalanceModel,
    EntryModel,
    InvoiceModel,
    LineModel,
    OpenModel,
    RefModel,
    RefundedModel,
)
from functions.core.ledger_store.records import (
    Balance,
    Entry,
    Invoice,
    Line,
    Placement,
    application_item,
)
from functions.core.uow import Op


def _conflict() -> ConcurrentUpdateError:
    return ConcurrentUpdateError("the account's balance changed while this request ran; retry")


def open_balance(account_id: str, currency: str, account_number: int) -> Op:
    """The op that creates an account's zero balance; part of the account's creation transaction."""
    model = BalanceModel(
        account_id,
        BALANCE_SK,
        currency=currency,
        current=0,
        unapplied_credit=0,
        entry_seq=0,
        invoice_seq=0,
        account_number=account_number,
    )
    return Op("put", model, condition=BalanceModel.pk.does_not_exist(), label="balance")


def _set_actions(model: Any, after: Any, names: tuple[str, ...], in_flight_delta: int, **values: Any) -> list[Any]:
    """The update's actions, in this order: SET each attribute of `names` to `after`'s value, SET each of
    `values`, then ADD `in_flight_delta` (when not 0) to the item's in_flight."""
    actions = [getattr(model, name).set(getattr(after, name)) for name in names]
    actions += [getattr(model, name).set(value) for name, value in values.items()]
    if in_flight_delta:
        actions.append(model.in_flight.add(in_flight_delta))
    return actions


def update_balance(before: Balance, after: Balance, in_flight_delta: int = 0, past_due_delta: int = 0) -> Op:
    """Move the balance item from `before` to `after`, only if nobody moved it since `before` was read;
    `in_flight_delta` (a release: negative) is added atomically, whatever other payments reserved since;
    so is `past_due_delta` (past-due invoices closed: negative, reopened: positive)."""
    model = BalanceModel(before.account_id, BALANCE_SK)
    moved = ("current", "unapplied_credit", "entry_seq", "invoice_seq")
    credit_lots = json.dumps([list(lot) for lot in after.credit_lots])
    actions = _set_actions(BalanceModel, after, moved, in_flight_delta, credit_lots=credit_lots)
    condition = (BalanceModel.entry_seq == before.entry_seq) & (BalanceModel.invoice_seq == before.invoice_seq)
    condition &= BalanceModel.unapplied_credit == before.unapplied_credit
    if past_due_delta:
        actions.append(BalanceModel.past_due.add(past_due_delta))
        # the count read is still the count: account.past_due / account.restored follow from it (ledger/outbound.py)
        condition &= past_due_is(before.past_due)
    return Op("update", model, actions=actions, condition=condition, on_conflict=_conflict, label="balance")


def _not_more_in_flight(attribute: Any, read: int) -> Any:
    """In flight now ≤ what was read (releases only lower it): the room checked against still holds."""
    return (attribute <= read) | attribute.does_not_exist() if read == 0 else attribute <= read


def reserve_in_flight(balance: Balance, amount: int, invoice: Invoice | None, conflict: Any) -> list[Op]:
    """Reserve `amount` for a payment in flight (DESIGN §3 v4), in the transaction that writes the payment's
    row: the caller checked amount ≤ balance.current - balance.in_flight (and ≤ the invoice's balance_due
    - its in_flight) on what it read; the conditions keep that true at commit — the balance (and the
    invoice's balance due) not lower, what is in flight not higher — without serialising unrelated writes."""
    ops = [
        Op(
            "update",
            BalanceModel(balance.account_id, BALANCE_SK),
            actions=[BalanceModel.in_flight.add(amount)],
            condition=(BalanceModel.current >= balance.current)
            & _not_more_in_flight(BalanceModel.in_flight, balance.in_flight),
            on_conflict=conflict,
            label="reserve",
        )
    ]
    if invoice is not None:
        ops.append(
            Op(
                "update",
                InvoiceModel(invoice.account_id, INV + invoice.id),
                actions=[InvoiceModel.in_flight.add(amount)],
                condition=(InvoiceModel.status == "open")
                & (InvoiceModel.balance_due >= invoice.balance_due)
                & _not_more_in_flight(InvoiceModel.in_flight, invoice.in_flight),
                on_conflict=conflict,
                label="reserve",
            )
        )
    return ops


def release_in_flight(account_id: str, amount: int, invoice_id: str | None, with_balance: bool = True) -> list[Op]:
    """Give back a reservation (the payment failed, or its apply step moved the money): atomic adds, no
    condition but the items' existence — the payment row's own transition makes it happen once."""
    ops = []
    if with_balance:
        ops.append(
            Op(
                "update",
                BalanceModel(account_id, BALANCE_SK),
                actions=[BalanceModel.in_flight.add(-amount)],
                condition=BalanceModel.pk.exists(),
                label="release",
            )
        )
    if invoice_id is not None:
        ops.append(
            Op(
                "update",
                InvoiceModel(account_id, INV + invoice_id),
                actions=[InvoiceModel.in_flight.add(-amount)],
                condition=InvoiceModel.pk.exists(),
                label="release",
            )
        )
    return ops


def put_entry(account_id: str, entry: Entry) -> Op:
    model = EntryModel(account_id, f"{ENTRY}{entry.seq:010d}", **EntryModel.values_of(entry))
    return Op("put", model, condition=EntryModel.pk.does_not_exist(), on_conflict=_conflict, label="entry")


def put_ref(account_id: str, ref: str, entry_seq: int, on_conflict: Any) -> Op:
    model = RefModel(account_id, REF + ref, entry_seq=entry_seq)
    return Op("put", model, condition=RefModel.pk.does_not_exist(), on_conflict=on_conflict, label="ref")


def put_placement(account_id: str, ref: str, before: Placement | None, after: Placement, on_conflict: Any) -> Op:
    """Record how far the money back `ref` is placed, only if nobody placed any of it since `before` was
    read (None: nobody started it): a redelivery or a racer never places it twice."""
    if before is None:
        model = RefModel(
            account_id,
            REF + ref,
            entry_seq=after.entry_seq,
            amount=after.amount,
            placed=after.placed,
            invoice_id=after.invoice_id,
        )
        return Op("put", model, condition=RefModel.pk.does_not_exist(), on_conflict=on_conflict, label="placement")
    actions = [
        RefModel.entry_seq.set(after.entry_seq),
        RefModel.placed.set(after.placed),
    ]
    if after.invoice_id:
        actions.append(RefModel.invoice_id.set(after.invoice_id))
    return Op(
        "update",
        RefModel(account_id, REF + ref),
        actions=actions,
        condition=RefModel.placed == before.placed,
        on_conflict=on_conflict,
        label="placement",
    )


def _line_model(account_id: str, invoice_id: str, n: int, line: Line) -> LineModel:
    return LineModel(account_id, f"{INV}{invoice_id}{LINE}{n:06d}", **LineModel.values_of(line))


def put_lines_ops(account_id: str, invoice_id: str, lines: list[Line]) -> list[Op]:
    return [Op("put", _line_model(account_id, invoice_id, n, line), label="line") for n, line in enumerate(lines, 1)]


def write_lines_ahead(account_id: str, invoice_id: str, lines: list[Line]) -> None:
    """Write many lines before the header (BatchWriteItem). Lines without a header are invisible and are
    rewritten identically by a retry (deterministic keys), so a crash here leaves nothing that counts."""
    with LineModel.batch_write() as batch:
        for n, line in enumerate(lines, 1):
            batch.save(_line_model(account_id, invoice_id, n, line))


def _header_model(inv: Invoice) -> InvoiceModel:
    return InvoiceModel(
        inv.account_id,
        INV + inv.id,
        invoice_id=inv.id,
        **InvoiceModel.values_of(inv),
        applications=json.dumps([application_item(a) for a in inv.applications]),
        applied_to=json.dumps(inv.applied_to),
        gsi1_pk=f"{inv.account_id}#INV",
        gsi1_sk=f"{inv.date.isoformat()}#{inv.number}",
    )


def put_invoice(inv: Invoice, on_conflict: Any) -> Op:
    return Op(
        "put", _header_model(inv), condition=InvoiceModel.pk.does_not_exist(), on_conflict=on_conflict, label="invoice"
    )


def _open_sk(inv: Invoice) -> str:
    return f"{OPEN}{inv.date.isoformat()}#{inv.number}"


def put_open(inv: Invoice) -> Op:
    return Op("put", OpenModel(inv.account_id, _open_sk(inv), invoice_id=inv.id), label="open")


def delete_open(inv: Invoice) -> Op:
    return Op("delete", OpenModel(inv.account_id, _open_sk(inv)), label="open")


def settle_invoice(before: Invoice, after: Invoice, in_flight_delta: int = 0) -> Op:
    """Record money applied to (or taken back from) an open/closed invoice, guarded by its old state
    (`in_flight_delta`: the release of a payment in flight for it, in the same update)."""
    model = InvoiceModel(before.account_id, INV + before.id)
    applications = json.dumps([application_item(a) for a in after.applications])
    moved = ("status", "amount_paid", "balance_due")
    actions = _set_actions(InvoiceModel, after, moved, in_flight_delta, applications=applications)
    # The past_due mark read is still the mark: closing or reopening it moves the balance's count.
    condition = (InvoiceModel.balance_due == before.balance_due) & _marked(InvoiceModel.past_due, before.past_due)
    return Op("update", model, actions=actions, condition=condition, on_conflict=_conflict, label="settle")


def _marked(attribute: Any, marked: bool) -> Any:
    return attribute == True if marked else attribute.does_not_exist() | (attribute == False)  # noqa: E712


def mark_invoice(inv: Invoice, mark: str, on_conflict: Any) -> Op:
    """Set a mark (`past_due`, `carried_forward`) on an open invoice not marked so yet: refused (on_conflict)
    when it was closed or marked since it was read."""
    attribute = getattr(InvoiceModel, mark)
    return Op(
        "update",
        InvoiceModel(inv.account_id, INV + inv.id),
        actions=[attribute.set(True)],
        condition=(InvoiceModel.status == "open") & _marked(attribute, False),
        on_conflict=on_conflict,
        label=mark,
    )


def past_due_is(count: int) -> Any:
    """The balance's past-due count is `count` (absent = 0)."""
    attribute = BalanceModel.past_due
    return (attribute.does_not_exist() | (attribute == 0)) if count == 0 else attribute == count


def add_past_due(account_id: str, count: int, read: int) -> Op:
    """Add `count` invoices to the balance's past-due count (with the marks' own ops), only while it is still
    `read`: whether the account just became past due (its event) follows from that count."""
    return Op(
        "update",
        BalanceModel(account_id, BALANCE_SK),
        actions=[BalanceModel.past_due.add(count)],
        condition=BalanceModel.pk.exists() & past_due_is(read),
        on_conflict=_conflict,
        label="past_due",
    )


def reserve_invoice_refund(inv: Invoice, amount: int, on_conflict: Any) -> Op:
    """Add `amount` to the invoice's refunded total, only while refunded + amount <= its total: one
    conditional update, so concurrent refunds can never take back more than the invoice was."""
    model = RefundedModel(inv.account_id, REFUNDED + inv.id)
    actions = [
        RefundedModel.invoice_id.set(inv.id),
        RefundedModel.total.set(inv.total),
        RefundedModel.refunded.add(amount),
    ]
    if amount > inv.total:
        raise on_conflict()
    condition = RefundedModel.refunded.does_not_exist() | (RefundedModel.refunded <= inv.total - amount)
    return Op("update", model, actions=actions, condition=condition, on_conflict=on_conflict, label="refunded")


def set_due_date(inv: Invoice, due: Any) -> Op:
    """Give an open invoice a due date (an account switched to send_invoice), only while it is open and
    has none: a closed or already dated invoice is left as it is (the op fails with ConcurrentUpdateError)."""
    model = InvoiceModel(inv.account_id, INV + inv.id)
    condition = (InvoiceModel.status == "open") & InvoiceModel.due_date.does_not_exist()
    return Op(
        "update",
        model,
        actions=[InvoiceModel.due_date.set(due.isoformat())],
        condition=condition,
        on_conflict=_conflict,
        label="due_date",
    )
