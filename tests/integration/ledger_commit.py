"""The ledger's planners committed alone, with nothing of a caller's in the transaction: what the
tests of the ledger itself call (a service adds its own rows, audit and reply to the plan)."""

from __future__ import annotations

from datetime import date
from typing import Any

from functions.core import ledger
from functions.core.ledger import Invoice, Line, MoneyBack, MoneyIn
from functions.core.uow import UnitOfWork, retrying


def post_invoice(
    account_id: str,
    *,
    invoice_id: str,
    type: str,
    lines: list[Line],
    description: str,
    period: tuple[date, date] | None = None,
    target_invoice_id: str | None = None,
    on: date | None = None,
) -> Invoice:
    part = ledger.Part(invoice_id, description, lines)
    posting = ledger.prepare(
        account_id, type=type, parts=[part], period=period, on=on, target_invoice_id=target_invoice_id
    )

    def attempt() -> Invoice:
        ops, inv = ledger.post_invoice(posting)
        UnitOfWork().add(*ops).commit()
        return inv

    inv = retrying(attempt)
    if type in ledger.CREDIT_TYPES:
        ledger.settle_unapplied_credit(account_id)
    return inv


def apply_payment(account_id: str, **kwargs: Any) -> MoneyIn:
    def attempt() -> MoneyIn:
        ops, result = ledger.apply_payment(account_id, **kwargs)
        UnitOfWork().add(*ops).commit()
        return result

    result = retrying(attempt, ledger.APPLY_ATTEMPTS)
    ledger.settle_unapplied_credit(account_id)
    return result


def money_back(account_id: str, **kwargs: Any) -> MoneyBack:
    def attempt() -> MoneyBack:
        ops, result = ledger.money_back(account_id, **kwargs)
        UnitOfWork().add(*ops).commit()
        return result

    return retrying(attempt)
