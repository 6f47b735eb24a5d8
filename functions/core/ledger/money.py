"""Money in and out: a payment Stripe accepted (and other money in applied like one), a refund to a
card through billow, and unapplied credit settling open invoices (the capped continuation)."""

from __future__ import annotations

from dataclasses import replace

from functions.core import clock, ledger_store
from functions.core.errors import ConcurrentUpdateError
from functions.core.ids import new_id
from functions.core.ledger import outbound
from functions.core.ledger.invoices import Part, Posting, already_posted, invoice_header
from functions.core.ledger.rules import AlreadyPostedError, MoneyIn, allocate, read_balance
from functions.core.ledger_store import Entry, Invoice, Line
from functions.core.uow import Op, UnitOfWork


def apply_payment(
    account_id: str,
    *,
    payment_id: str,
    amount: int,
    target_invoice_id: str | None = None,
    reserved: int = 0,
    kind: str = "payment",
) -> tuple[list[Op], MoneyIn]:
    """Plan a payment Stripe accepted: entry -amount and the money applied, once per payment id (the
    commit raises AlreadyPostedError the second time, whatever the order of webhooks and replies).
    `reserved`: what the payment holds in flight (on the balance, and on the targeted invoice),
    released in the same transaction. `kind` names other money in that is applied the same way:
    `money_back_reversed` (a refund to a card that failed after the fact), `dispute_won` (a disputed
    payment given back); nothing is reserved for those. Once committed, `settle_unapplied_credit`."""
    if amount <= 0:
        raise ValueError("a payment is greater than zero")
    balance = read_balance(account_id)
    at = clock.iso(clock.now())
    ops, applied, rest, cleared = allocate(
        account_id, amount, payment_id, kind, target_invoice_id, at, release_target=reserved
    )
    entry = Entry(balance.entry_seq + 1, new_id("entry"), at, kind, payment_id, -amount, balance.current - amount)
    after = replace(
        balance,
        current=entry.balance_after,
        unapplied_credit=balance.unapplied_credit + rest,
        credit_lots=(*balance.credit_lots, (payment_id, rest)) if rest else balance.credit_lots,
        entry_seq=entry.seq,
    )

    def posted() -> AlreadyPostedError:
        return AlreadyPostedError(f"payment {payment_id} is already applied")

    ops += [
        ledger_store.put_ref(account_id, payment_id, entry.seq, posted),
        ledger_store.put_entry(account_id, entry),
        ledger_store.update_balance(balance, after, in_flight_delta=-reserved, past_due_delta=-cleared),
        *outbound.past_due_moved(balance, -cleared),
    ]
    return ops, MoneyIn(entry.seq, applied, rest, entry.balance_after, after.unapplied_credit)


def refund_to_card(
    account_id: str, *, invoice_id: str, refund_id: str, amount: int, description: str
) -> tuple[list[Op], Invoice]:
    """Plan a refund to a card through billow, after Stripe accepted it (DESIGN §3): a closed Refund
    invoice (entry -amount) whose money goes to unapplied credit, and the money back (entry +amount,
    deduped on the Stripe refund id) consuming it — one transaction. They net to zero and touch no
    other invoice. Returns the ops and the invoice."""
    if amount <= 0:
        raise ValueError("a refund is greater than zero")
    today = clock.today()
    lines = [Line(description=description, amount=amount, period_start=today, period_end=today)]
    balance = read_balance(account_id)
    at = clock.iso(clock.now())
    seq = balance.invoice_seq + 1
    posting = Posting(account_id, "refund", [Part(invoice_id, description, lines)], [amount], True)
    inv = invoice_header(balance, seq, invoice_id, "refund", amount, description, 1, posting, at)
    inv.status, inv.amount_paid, inv.balance_due = "closed", amount, 0
    inv.applied_to = [{"invoice_id": None, "amount": amount}]
    credit = Entry(balance.entry_seq + 1, new_id("entry"), at, "invoice", invoice_id, -amount, balance.current - amount)
    back = Entry(balance.entry_seq + 2, new_id("entry"), at, "money_back", refund_id, amount, balance.current)
    after = replace(balance, entry_seq=back.seq, invoice_seq=seq)

    def posted() -> AlreadyPostedError:
        return AlreadyPostedError(f"refund {refund_id} is already posted")

    ops = [
        *ledger_store.put_lines_ops(account_id, invoice_id, lines),
        ledger_store.put_invoice(inv, already_posted(invoice_id)),
        ledger_store.put_entry(account_id, credit),
        ledger_store.put_entry(account_id, back),
        ledger_store.put_ref(account_id, refund_id, back.seq, posted),
        ledger_store.update_balance(balance, after),
        *outbound.issued(inv),
    ]
    return ops, inv


def settle_unapplied_credit(account_id: str) -> int:
    """Apply unapplied credit to open invoices, oldest first, a capped number per transaction, until
    either runs out. balance.current does not move (no entry): money only changes place. Each step
    keeps the invariant. Returns the amount applied."""
    total_applied = 0
    while True:
        balance = read_balance(account_id)
        if balance.unapplied_credit <= 0:
            return total_applied
        at = clock.iso(clock.now())
        ops, applied, rest, cleared = allocate(
            account_id,
            balance.unapplied_credit,
            "unapplied_credit",
            "unapplied_credit",
            None,
            at,
            lots=balance.credit_lots,
        )
        if not applied:
            return total_applied
        used = balance.unapplied_credit - rest
        lots = ledger_store.take_credit(balance.credit_lots, used)[1]
        try:
            UnitOfWork().add(
                *ops,
                ledger_store.update_balance(
                    balance, replace(balance, unapplied_credit=rest, credit_lots=lots), past_due_delta=-cleared
                ),
                *outbound.past_due_moved(balance, -cleared),
            ).commit()
        except ConcurrentUpdateError:
            continue
        total_applied += used
