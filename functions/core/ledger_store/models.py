"""The ledger table's items, one PynamoDB model per kind (see the package's docstring)."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute
from pynamodb.models import Model

from functions.core.db import IntegerAttribute, SpecIndex, index_meta, meta
from functions.core.ledger_store.records import Balance, Entry, Invoice, Line
from functions.core.records import stored_attributes

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


class BalanceModel(stored_attributes(Balance, "account_id", "credit_lots", "in_flight", "past_due"), _Ledger):
    # Payments in flight (DESIGN §3 v4): reserved by a payment's first transaction, released by its apply
    # step or its failure. Absent on balances written before v4 (= 0).
    in_flight = IntegerAttribute(null=True)
    # JSON [[source, amount], ...] oldest first: which payment or Credit/Refund invoice the unapplied
    # credit came from (source null: not known, e.g. credit from before lots were kept); Σ = unapplied_credit.
    credit_lots = UnicodeAttribute(null=True)
    # Open invoices marked past_due (DESIGN §3 v4); absent = 0.
    past_due = IntegerAttribute(null=True)


class EntryModel(stored_attributes(Entry, "seq"), _Ledger):
    """kind: invoice | payment | money_back | money_back_reversed | dispute_won; ref: the invoice, payment or
    refund id; amount: signed (+ the customer owes more, - less)."""


class RefModel(_Ledger):
    entry_seq = IntegerAttribute()
    # Money back only (placed over as many transactions as it needs): its amount, how much is placed so
    # far, and the One-time invoice "Payment refunded" that took what could not be placed.
    amount = IntegerAttribute(null=True)
    placed = IntegerAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)


_INVOICE_OWN = ("account_id", "id", "applications", "applied_to", "in_flight", "past_due", "carried_forward")


class InvoiceModel(stored_attributes(Invoice, *_INVOICE_OWN), _Ledger):
    """type: new | recurring | one_time | credit | refund; status: open | closed."""

    invoice_id = UnicodeAttribute()
    applications = UnicodeAttribute()  # JSON: money applied to this invoice [{source, kind, amount, at}]
    applied_to = UnicodeAttribute()  # JSON, money-in invoices: [{invoice_id, amount}] and the unapplied rest
    in_flight = IntegerAttribute(null=True)  # payments in flight that target this invoice (absent = 0)
    past_due = BooleanAttribute(null=True)  # finished dunning or 14 days past due (absent = false)
    carried_forward = BooleanAttribute(null=True)  # below the minimum, carried to the next collection
    gsi1_pk = UnicodeAttribute()
    gsi1_sk = UnicodeAttribute()
    by_date = InvoicesByDate()


class LineModel(stored_attributes(Line), _Ledger):
    """quantity: a decimal string, for usage lines; unit_amount: a decimal string of minor units; group:
    the device or service the line belongs to."""


class OpenModel(_Ledger):
    invoice_id = UnicodeAttribute()


class RefundedModel(_Ledger):
    """An invoice's refunded total, beside its header (the header's own transaction may settle it)."""

    invoice_id = UnicodeAttribute()
    total = IntegerAttribute()  # the invoice's total, the ceiling of `refunded`
    refunded = IntegerAttribute()
