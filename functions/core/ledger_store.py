"""Ledger table storage: one partition per account holding

    BALANCE                      balance.current, unapplied_credit (and where it came from: its credit
                                 lots), entry and invoice counters
    ENTRY#<seq:010>              ledger entries, gapless per account
    REF#<source id>              dedupe marker: a payment/refund/invoice is posted at most once; for money
                                 back, also how much of it is placed so far (placed over several steps)
    INV#<invoice id>             invoice header (the commit point; written last)
    INV#<invoice id>#L#<n:06>    invoice lines (child items, written before the header)
    OPEN#<date>#<number>         pointer to an open debit invoice, oldest first (strongly consistent)
    REFUNDED#<invoice id>        what operator refunds took back of a debit invoice (its `refunded` total,
                                 reserved by the refund's transaction; never more than the invoice's total)

Models never leave this module: readers get the frozen records below, writers get `Op`s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core.db import IntegerAttribute, SpecIndex, index_meta, meta, one_page
from functions.core.errors import ConcurrentUpdateError
from functions.core.uow import Op

BALANCE_SK = "BALANCE"
ENTRY = "ENTRY#"
REF = "REF#"
INV = "INV#"
LINE = "#L#"
OPEN = "OPEN#"
REFUNDED = "REFUNDED#"


class InvoicesByDate(SpecIndex):
    Meta = index_meta("ledger", "by_date")
    gsi1_pk = UnicodeAttribute(hash_key=True)  # <account>#INV
    gsi1_sk = UnicodeAttribute(range_key=True)  # <date>#<number>


class _Ledger(Model):
    Meta = meta("ledger")
    pk = UnicodeAttribute(hash_key=True)  # account id
    sk = UnicodeAttribute(range_key=True)


class BalanceModel(_Ledger):
    currency = UnicodeAttribute()
    current = IntegerAttribute()
    unapplied_credit = IntegerAttribute()
    entry_seq = IntegerAttribute()
    invoice_seq = IntegerAttribute()
    account_number = IntegerAttribute()
    # Payments in flight (DESIGN §3 v4): reserved by a payment's first transaction, released by its apply
    # step or its failure. Absent on balances written before v4 (= 0).
    in_flight = IntegerAttribute(null=True)
    # JSON [[source, amount], ...] oldest first: which payment or Credit/Refund invoice the unapplied
    # credit came from (source null: not known, e.g. credit from before lots were kept); Σ = unapplied_credit.
    credit_lots = UnicodeAttribute(null=True)


class EntryModel(_Ledger):
    entry_id = UnicodeAttribute()
    at = UnicodeAttribute()
    kind = UnicodeAttribute()  # invoice | payment | money_back | money_back_reversed | dispute_won
    ref = UnicodeAttribute()  # the invoice, payment or refund id
    amount = IntegerAttribute()  # signed: + the customer owes more, - less
    balance_after = IntegerAttribute()


class RefModel(_Ledger):
    entry_seq = IntegerAttribute()
    # Money back only (placed over as many transactions as it needs): its amount, how much is placed so
    # far, and the One-time invoice "Payment refunded" that took what could not be placed.
    amount = IntegerAttribute(null=True)
    placed = IntegerAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)


class InvoiceModel(_Ledger):
    invoice_id = UnicodeAttribute()
    number = UnicodeAttribute()
    type = UnicodeAttribute()  # new | recurring | one_time | credit | refund
    status = UnicodeAttribute()  # open | closed
    date = UnicodeAttribute()
    period_start = UnicodeAttribute()
    period_end = UnicodeAttribute()
    currency = UnicodeAttribute()
    subtotal = IntegerAttribute()
    total = IntegerAttribute()
    amount_paid = IntegerAttribute()
    balance_due = IntegerAttribute()
    description = UnicodeAttribute()
    line_count = IntegerAttribute()
    balance_before = IntegerAttribute()
    balance_after = IntegerAttribute()
    applications = UnicodeAttribute()  # JSON: money applied to this invoice [{source, kind, amount, at}]
    applied_to = UnicodeAttribute()  # JSON, money-in invoices: [{invoice_id, amount}] and the unapplied rest
    created_at = UnicodeAttribute()
    in_flight = IntegerAttribute(null=True)  # payments in flight that target this invoice (absent = 0)
    gsi1_pk = UnicodeAttribute()
    gsi1_sk = UnicodeAttribute()
    by_date = InvoicesByDate()


class LineModel(_Ledger):
    description = UnicodeAttribute()
    amount = IntegerAttribute()
    quantity = UnicodeAttribute(null=True)  # decimal string, for usage lines
    unit_amount = UnicodeAttribute(null=True)  # decimal string of minor units
    period_start = UnicodeAttribute()
    period_end = UnicodeAttribute()
    group = UnicodeAttribute(null=True)  # device or service the line belongs to
    item_id = UnicodeAttribute(null=True)


class OpenModel(_Ledger):
    invoice_id = UnicodeAttribute()


class RefundedModel(_Ledger):
    """An invoice's refunded total, beside its header (the header's own transaction may settle it)."""

    invoice_id = UnicodeAttribute()
    total = IntegerAttribute()  # the invoice's total, the ceiling of `refunded`
    refunded = IntegerAttribute()


# ---- records -----------------------------------------------------------------------------------

# A credit lot: (where the credit came from — a payment id or a Credit/Refund invoice id, None when not
# known —, how much of it is still unapplied).
CreditLot = tuple[str | None, int]


@dataclass(frozen=True)
class Balance:
    account_id: str
    currency: str
    current: int
    unapplied_credit: int
    entry_seq: int
    invoice_seq: int
    account_number: int
    credit_lots: tuple[CreditLot, ...] = ()  # oldest first; Σ = unapplied_credit (normalised on read)
    in_flight: int = 0


@dataclass(frozen=True)
class Line:
    description: str
    amount: int
    period_start: date
    period_end: date
    quantity: str | None = None
    unit_amount: str | None = None
    group: str | None = None
    item_id: str | None = None


@dataclass(frozen=True)
class Application:
    source: str
    kind: str  # payment | credit | refund | unapplied_credit | money_back
    amount: int
    at: str
    # unapplied_credit: the payment or Credit/Refund invoice the credit came from (its credit lot);
    # money_back: the Stripe refund (or dispute) id that took the money back. None: not known.
    origin: str | None = None


@dataclass
class Invoice:
    account_id: str
    id: str
    number: str
    type: str
    status: str
    date: date
    period_start: date
    period_end: date
    currency: str
    subtotal: int
    total: int
    amount_paid: int
    balance_due: int
    description: str
    line_count: int
    balance_before: int
    balance_after: int
    created_at: str
    applications: list[Application] = field(default_factory=list)
    applied_to: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0


@dataclass(frozen=True)
class Placement:
    """How far a money back has been placed (its REF# marker). A marker without an amount (a payment, an
    invoice, a refund to a card through billow) is complete."""

    amount: int
    placed: int
    entry_seq: int
    invoice_id: str | None = None

    @property
    def done(self) -> bool:
        return self.placed >= self.amount


@dataclass(frozen=True)
class Entry:
    seq: int
    entry_id: str
    at: str
    kind: str
    ref: str
    amount: int
    balance_after: int


# ---- reads ---------------------------------------------------------------------------------------


def take_credit(
    lots: tuple[CreditLot, ...], amount: int, first: str | None = None
) -> tuple[list[CreditLot], tuple[CreditLot, ...]]:
    """Take `amount` out of credit lots, oldest first (`first`'s own lot before the others): the parts
    taken, (source, amount) in order, and the lots left. Takes at most what the lots hold."""
    order = sorted(range(len(lots)), key=lambda n: (lots[n][0] != first or first is None, n))
    left = [amount_ for _, amount_ in lots]
    parts: list[CreditLot] = []
    for n in order:
        if amount <= 0:
            break
        take = min(amount, left[n])
        if take > 0:
            parts.append((lots[n][0], take))
            left[n] -= take
            amount -= take
    return parts, tuple((lots[n][0], left[n]) for n in range(len(lots)) if left[n] > 0)


def _credit_lots(raw: str | None, unapplied: int) -> tuple[CreditLot, ...]:
    """The stored lots made to add up to `unapplied_credit`: a writer that moved the credit without
    keeping lots consumed the oldest first, or added credit whose source is not known (None, oldest)."""
    lots = tuple((source, int(amount)) for source, amount in json.loads(raw or "[]") if int(amount) > 0)
    held = sum(amount for _, amount in lots)
    unapplied = max(unapplied, 0)
    if held > unapplied:
        return take_credit(lots, held - unapplied)[1]
    if held < unapplied:
        return ((None, unapplied - held), *lots)
    return lots


def _balance(m: BalanceModel) -> Balance:
    return Balance(
        m.pk,
        m.currency,
        m.current,
        m.unapplied_credit,
        m.entry_seq,
        m.invoice_seq,
        m.account_number,
        credit_lots=_credit_lots(m.credit_lots, m.unapplied_credit),
        in_flight=m.in_flight or 0,
    )


def get_balance(account_id: str, *, consistent: bool = True) -> Balance | None:
    try:
        return _balance(BalanceModel.get(account_id, BALANCE_SK, consistent_read=consistent))
    except BalanceModel.DoesNotExist:
        return None


def _invoice(m: InvoiceModel) -> Invoice:
    return Invoice(
        account_id=m.pk,
        id=m.invoice_id,
        number=m.number,
        type=m.type,
        status=m.status,
        date=date.fromisoformat(m.date),
        period_start=date.fromisoformat(m.period_start),
        period_end=date.fromisoformat(m.period_end),
        currency=m.currency,
        subtotal=m.subtotal,
        total=m.total,
        amount_paid=m.amount_paid,
        balance_due=m.balance_due,
        description=m.description,
        line_count=m.line_count,
        balance_before=m.balance_before,
        balance_after=m.balance_after,
        created_at=m.created_at,
        applications=[Application(**a) for a in json.loads(m.applications)],
        applied_to=json.loads(m.applied_to),
        in_flight=m.in_flight or 0,
    )


def get_invoice(account_id: str, invoice_id: str) -> Invoice | None:
    try:
        return _invoice(InvoiceModel.get(account_id, INV + invoice_id, consistent_read=True))
    except InvoiceModel.DoesNotExist:
        return None


def get_invoices(account_id: str, invoice_ids: list[str]) -> list[Invoice]:
    """Several headers in one BatchGetItem (order not kept)."""
    if not invoice_ids:
        return []
    keys = [(account_id, INV + i) for i in dict.fromkeys(invoice_ids)]
    return [_invoice(m) for m in InvoiceModel.batch_get(keys, consistent_read=True)]


def open_invoice_ids(account_id: str, limit: int) -> list[str]:
    """The oldest open debit invoices, at most `limit` (strongly consistent: base-table query)."""
    result = OpenModel.query(account_id, OpenModel.sk.startswith(OPEN), limit=limit, consistent_read=True)
    return [m.invoice_id for m in result][:limit]


def list_invoices(
    account_id: str,
    *,
    limit: int,
    last_key: dict[str, Any] | None,
    types: list[str] | None = None,
    status: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> tuple[list[Invoice], dict[str, Any] | None]:
    """One page of headers, newest first, from the date-ordered index: reads at most `limit` items
    whatever the history; type and status filter after the read, so a page may be shorter."""
    range_condition = None
    low = date_from.isoformat() if date_from else None
    high = f"{date_to.isoformat()}#~" if date_to else None  # '~' sorts after every invoice number
    if low and high:
        range_condition = InvoiceModel.gsi1_sk.between(low, high)
    elif low:
        range_condition = InvoiceModel.gsi1_sk >= low
    elif high:
        range_condition = InvoiceModel.gsi1_sk <= high
    filter_condition = None
    if types:
        filter_condition = InvoiceModel.type.is_in(*types)
    if status:
        by_status = InvoiceModel.status == status
        filter_condition = by_status if filter_condition is None else filter_condition & by_status
    result = InvoiceModel.by_date.query(
        f"{account_id}#INV",
        range_key_condition=range_condition,
        filter_condition=filter_condition,
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=last_key,
        page_size=limit,
    )
    models, last = one_page(result, InvoiceModel)
    return [_invoice(m) for m in models], last


def all_open_pointer_ids(account_id: str) -> list[str]:
    return [m.invoice_id for m in OpenModel.query(account_id, OpenModel.sk.startswith(OPEN), consistent_read=True)]


def all_invoices(account_id: str) -> list[Invoice]:
    """Every invoice header of the account, by date (audits; the index skips the lines)."""
    return [_invoice(m) for m in InvoiceModel.by_date.query(f"{account_id}#INV")]


def get_lines(account_id: str, invoice_id: str) -> list[Line]:
    result = LineModel.query(account_id, LineModel.sk.startswith(f"{INV}{invoice_id}{LINE}"))
    return [
        Line(
            description=m.description,
            amount=m.amount,
            period_start=date.fromisoformat(m.period_start),
            period_end=date.fromisoformat(m.period_end),
            quantity=m.quantity,
            unit_amount=m.unit_amount,
            group=m.group,
            item_id=m.item_id,
        )
        for m in result
    ]


def lines_above(account_id: str, limit: int) -> list[tuple[str, int]]:
    """(invoice id, amount) of every invoice line of the account above `limit` (audits; one Query whose
    filter leaves out the headers, which have no amount, and the lines within the limit)."""
    result = LineModel.query(
        account_id, LineModel.sk.startswith(INV), filter_condition=LineModel.amount > limit, consistent_read=True
    )
    return [(m.sk[len(INV) :].split(LINE)[0], m.amount) for m in result]


def entries(account_id: str) -> list[Entry]:
    """Every entry of the account, in order (audits and tests; not a request path)."""
    return [
        Entry(int(m.sk[len(ENTRY) :]), m.entry_id, m.at, m.kind, m.ref, m.amount, m.balance_after)
        for m in EntryModel.query(account_id, EntryModel.sk.startswith(ENTRY), consistent_read=True)
    ]


def get_placement(account_id: str, ref: str) -> Placement | None:
    """How far the money back `ref` (a Stripe refund id) is placed; None if it never started."""
    try:
        m = RefModel.get(account_id, REF + ref, consistent_read=True)
    except RefModel.DoesNotExist:
        return None
    if m.amount is None:  # a marker of something posted in one go
        return Placement(0, 0, m.entry_seq)
    return Placement(m.amount, m.placed or 0, m.entry_seq, m.invoice_id)


def ref_exists(account_id: str, ref: str) -> bool:
    try:
        RefModel.get(account_id, REF + ref, consistent_read=True)
        return True
    except RefModel.DoesNotExist:
        return False


def invoice_refunded_totals(account_id: str) -> dict[str, int]:
    """Every invoice's refunded total (audits), by invoice id."""
    result = RefundedModel.query(account_id, RefundedModel.sk.startswith(REFUNDED), consistent_read=True)
    return {m.invoice_id: m.refunded for m in result}


def get_invoice_refunded(account_id: str, invoice_id: str) -> int:
    try:
        return RefundedModel.get(account_id, REFUNDED + invoice_id, consistent_read=True).refunded
    except RefundedModel.DoesNotExist:
        return 0


def balance_account_ids() -> list[str]:
    """Every account with a balance (the offline audit walks them; never used by a request)."""
    return [m.pk for m in BalanceModel.scan(BalanceModel.sk == BALANCE_SK)]


# ---- ops -----------------------------------------------------------------------------------------


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


def update_balance(before: Balance, after: Balance, in_flight_delta: int = 0) -> Op:
    """Move the balance item from `before` to `after`, only if nobody moved it since `before` was read;
    `in_flight_delta` (a release: negative) is added atomically, whatever other payments reserved since."""
    model = BalanceModel(before.account_id, BALANCE_SK)
    actions = [
        BalanceModel.current.set(after.current),
        BalanceModel.unapplied_credit.set(after.unapplied_credit),
        BalanceModel.entry_seq.set(after.entry_seq),
        BalanceModel.invoice_seq.set(after.invoice_seq),
        BalanceModel.credit_lots.set(json.dumps([list(lot) for lot in after.credit_lots])),
    ]
    if in_flight_delta:
        actions.append(BalanceModel.in_flight.add(in_flight_delta))
    condition = (BalanceModel.entry_seq == before.entry_seq) & (BalanceModel.invoice_seq == before.invoice_seq)
    condition &= BalanceModel.unapplied_credit == before.unapplied_credit
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
    model = EntryModel(
        account_id,
        f"{ENTRY}{entry.seq:010d}",
        entry_id=entry.entry_id,
        at=entry.at,
        kind=entry.kind,
        ref=entry.ref,
        amount=entry.amount,
        balance_after=entry.balance_after,
    )
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


def _application(a: Application) -> dict[str, Any]:
    """An application as stored: `origin` only when known (older records have none)."""
    return {k: v for k, v in a.__dict__.items() if k != "origin" or v is not None}


def _line_model(account_id: str, invoice_id: str, n: int, line: Line) -> LineModel:
    return LineModel(
        account_id,
        f"{INV}{invoice_id}{LINE}{n:06d}",
        description=line.description,
        amount=line.amount,
        quantity=line.quantity,
        unit_amount=line.unit_amount,
        period_start=line.period_start.isoformat(),
        period_end=line.period_end.isoformat(),
        group=line.group,
        item_id=line.item_id,
    )


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
        number=inv.number,
        type=inv.type,
        status=inv.status,
        date=inv.date.isoformat(),
        period_start=inv.period_start.isoformat(),
        period_end=inv.period_end.isoformat(),
        currency=inv.currency,
        subtotal=inv.subtotal,
        total=inv.total,
        amount_paid=inv.amount_paid,
        balance_due=inv.balance_due,
        description=inv.description,
        line_count=inv.line_count,
        balance_before=inv.balance_before,
        balance_after=inv.balance_after,
        applications=json.dumps([_application(a) for a in inv.applications]),
        applied_to=json.dumps(inv.applied_to),
        created_at=inv.created_at,
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
    actions = [
        InvoiceModel.status.set(after.status),
        InvoiceModel.amount_paid.set(after.amount_paid),
        InvoiceModel.balance_due.set(after.balance_due),
        InvoiceModel.applications.set(json.dumps([_application(a) for a in after.applications])),
    ]
    if in_flight_delta:
        actions.append(InvoiceModel.in_flight.add(in_flight_delta))
    condition = InvoiceModel.balance_due == before.balance_due
    return Op("update", model, actions=actions, condition=condition, on_conflict=_conflict, label="settle")


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
