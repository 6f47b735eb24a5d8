"""The per-account balance item of the ledger table: balance.current, unapplied_credit, counters.

core owns it (DESIGN §1): only the ledger changes it, in the same transaction as its entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core.db import IntegerAttribute, meta
from functions.core.uow import Op

BALANCE_SK = "BALANCE"


class LedgerModel(Model):
    """Ledger table: BALANCE, ENTRY#<seq>, INV#<id>, INV#<id>#L#<n>, INV#<id>#A#<n> under one account."""

    Meta = meta("ledger")
    pk = UnicodeAttribute(hash_key=True)  # account id
    sk = UnicodeAttribute(range_key=True)
    currency = UnicodeAttribute(null=True)
    current = IntegerAttribute(null=True)
    unapplied_credit = IntegerAttribute(null=True)
    entry_seq = IntegerAttribute(null=True)
    invoice_seq = IntegerAttribute(null=True)
    account_number = IntegerAttribute(null=True)


@dataclass(frozen=True)
class Balance:
    account_id: str
    currency: str
    current: int
    unapplied_credit: int
    entry_seq: int
    invoice_seq: int
    account_number: int


def open_balance(account_id: str, currency: str, account_number: int) -> Op:
    """The op that creates an account's zero balance; part of the account's creation transaction."""
    model = LedgerModel(
        account_id,
        BALANCE_SK,
        currency=currency,
        current=0,
        unapplied_credit=0,
        entry_seq=0,
        invoice_seq=0,
        account_number=account_number,
    )
    return Op("put", model, condition=LedgerModel.pk.does_not_exist(), label="balance")


def get_balance(account_id: str, *, consistent: bool = False) -> Balance | None:
    try:
        m = LedgerModel.get(account_id, BALANCE_SK, consistent_read=consistent)
    except LedgerModel.DoesNotExist:
        return None
    return Balance(
        account_id=account_id,
        currency=m.currency or "",
        current=m.current or 0,
        unapplied_credit=m.unapplied_credit or 0,
        entry_seq=m.entry_seq or 0,
        invoice_seq=m.invoice_seq or 0,
        account_number=m.account_number or 0,
    )
