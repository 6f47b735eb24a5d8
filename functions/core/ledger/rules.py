"""The ledger's shared rules: invoice types, limits, what a posting returns, and the application
rule (DESIGN §3) every money movement uses to settle open invoices."""

from __future__ import annotations

from dataclasses import dataclass, replace

from functions.core import ledger_store
from functions.core.errors import ConflictError, NotFoundError, ValidationFailedError
from functions.core.ledger import outbound
from functions.core.ledger_store import Application, Balance
from functions.core.uow import Op

DEBIT_TYPES = ("new", "recurring", "one_time")


CREDIT_TYPES = ("credit", "refund")


INVOICE_TYPES = DEBIT_TYPES + CREDIT_TYPES


# Open invoices settled in one transaction: 2 items each (header + open pointer) stays well inside
# DynamoDB's 100-item limit next to the balance, entry, marker, audit and idempotency items.
MAX_SETTLE_PER_TRANSACTION = 20


# Lines written inside the invoice's transaction; more are written ahead by BatchWriteItem.
MAX_INLINE_LINES = 40


# The apply step moves money Stripe already took: its callers try harder before giving up (the webhook
# and the next read finish it anyway, DESIGN §3 v4 "Payments in flight").
APPLY_ATTEMPTS = 30


class AlreadyPostedError(ConflictError):
    """This invoice, payment or refund was already posted to the ledger (a retry or a duplicate)."""

    code = "already-posted"
    title = "Already posted"


class AmountTooLargeError(ValidationFailedError):
    """An invoice line or total above MAX_AMOUNT (Stripe's 8 digits): nothing is posted."""

    code = "amount-too-large"
    title = "Amount too large"


@dataclass(frozen=True)
class MoneyIn:
    """Where money that came in went: invoices settled, and what is left as unapplied credit."""

    entry_seq: int
    applied: list[tuple[str, int]]
    unapplied: int
    balance_after: int
    credit_after: int = 0  # the account's unapplied credit once committed: > 0, settle it further


def read_balance(account_id: str) -> Balance:
    balance = ledger_store.get_balance(account_id, consistent=True)
    if balance is None:
        raise NotFoundError(f"no ledger for account {account_id}", code="account-not-found")
    return balance


def allocate(
    account_id: str,
    amount: int,
    source: str,
    kind: str,
    target_invoice_id: str | None,
    at: str,
    *,
    release_target: int = 0,
    lots: tuple[ledger_store.CreditLot, ...] | None = None,
) -> tuple[list[Op], list[tuple[str, int]], int, int]:
    """The application rule (DESIGN §3), for every caller: money settles the targeted invoice first,
    then open invoices oldest first, at most MAX_SETTLE_PER_TRANSACTION of them; returns the ops,
    what went where, and the rest (which becomes unapplied credit). `release_target`: the payment's
    reservation on the targeted invoice, released in the same transaction (DESIGN §3 v4). Unapplied
    credit being applied passes its `lots`: each application then names the lot it came from
    (`origin`), oldest first. The last value: how many invoices marked past_due it closes (the caller's
    balance update takes them off the balance's count, `past_due_delta`)."""
    ids = ledger_store.open_invoice_ids(account_id, MAX_SETTLE_PER_TRANSACTION)
    if target_invoice_id:
        ids = [target_invoice_id] + [i for i in ids if i != target_invoice_id]
    ids = ids[:MAX_SETTLE_PER_TRANSACTION]
    invoices = {inv.id: inv for inv in ledger_store.get_invoices(account_id, ids)}
    ops: list[Op] = []
    applied: list[tuple[str, int]] = []
    remaining, cleared = amount, 0
    for invoice_id in ids:
        inv = invoices.get(invoice_id)
        if remaining == 0 or inv is None or inv.status != "open" or inv.balance_due <= 0:
            continue
        take = min(remaining, inv.balance_due)
        if lots is None:
            applications = [Application(source, kind, take, at)]
        else:
            parts, lots = ledger_store.take_credit(lots, take)
            applications = [Application(source, kind, part, at, origin) for origin, part in parts]
        after = replace(
            inv,
            balance_due=inv.balance_due - take,
            amount_paid=inv.amount_paid + take,
            status="closed" if inv.balance_due == take else "open",
            applications=[*inv.applications, *applications],
        )
        release = release_target if invoice_id == target_invoice_id else 0
        ops.append(ledger_store.settle_invoice(inv, after, in_flight_delta=-release))
        if after.status == "closed":
            ops.append(ledger_store.delete_open(inv))
            ops.append(outbound.invoice_event("invoice.paid", after))
            cleared += 1 if inv.past_due else 0
        applied.append((invoice_id, take))
        remaining -= take
    if release_target and target_invoice_id and target_invoice_id not in {i for i, _ in applied}:
        ops += ledger_store.release_in_flight(account_id, release_target, target_invoice_id, with_balance=False)
    return ops, applied, remaining, cleared


@dataclass(frozen=True)
class MoneyBack:
    """Where money refunded to a card was placed: unapplied credit used, invoices reopened, and the
    One-time invoice "Payment refunded" that took what could be placed nowhere else (if any)."""

    entry_seq: int
    credit_used: int
    reopened: list[tuple[str, int]]
    balance_after: int
    invoice_id: str | None = None
