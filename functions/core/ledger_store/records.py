"""What the ledger's readers get: frozen records (balance, invoice, line, application, entry, money
back placement), the credit lots of unapplied credit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

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
    # How many open invoices are marked past_due (DESIGN §3 v4): the account is past due while > 0. Moved
    # only by atomic adds, in the transaction that marks, closes or reopens such an invoice.
    past_due: int = 0


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
    # usage lines (DESIGN §3 v4 Rate card): the allowance, what is billed past it, and for tiered rates
    # the tier breakdown as JSON [{start, up_to, quantity, unit_amount_decimal, flat_amount, amount}]
    included: str | None = None
    billable: str | None = None
    tiers: str | None = None


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
    # Marks (DESIGN §3 v4 Collection), kept once the invoice is closed: it finished dunning (or is 14 days
    # past its due date) — counted by the balance's `past_due` while open; it was below the minimum and
    # is carried to the next collection.
    past_due: bool = False
    carried_forward: bool = False
    # send_invoice accounts' debit invoices: the day it is due (issue + net_days; DESIGN §3 v4)
    due_date: date | None = None


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


def credit_lots_of(raw: str | None, unapplied: int) -> tuple[CreditLot, ...]:
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


def application_item(a: Application) -> dict[str, Any]:
    """An application as stored: `origin` only when known (older records have none)."""
    return {k: v for k, v in a.__dict__.items() if k != "origin" or v is not None}
