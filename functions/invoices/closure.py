"""Closing an account (DESIGN §2 v4 routes, §3 v4 Closure): POST /v1/accounts/{id}/closure.

    active ──closure──▶ closing ──the final invoice's transaction──▶ closed

- First transaction: the account `closing` (from active only: a second closure is 409 `account-closed`)
  with its audit event and the Idempotency-Key record in progress (a lease: the work spans several
  transactions, DESIGN §2 Idempotency); from then on no new items, charges, links or usage.
- `now`: every item not cancelled is cancelled today, each with its prorated Refund invoice (billing
  items' cancellation, one transaction each); then the final invoice — the usage of the current period
  to date — in ONE transaction with the usage seal and the account `closed` and off the due index.
  `end_of_period`: every active item is set to end at its anniversary (the next recurring date); the
  monthly run's invoice on that date is the last one, and its transaction closes the account
  (billing_run); the reply says `closing`.
- Then (`finish_closure`, also called by the run): a carried balance below the minimum is written off
  and the unapplied credit left goes back to the card payments it came from (payments), or stays and the
  operators are told. The reply is stored last; a retry after a crash resumes what is left.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from functions.accounts.service import (
    CLOSED,
    AccountAccess,
    AccountRecord,
    closed_ops,
    closing_ops,
    current_period,
    get_account,
)
from functions.billing_items.service import cancel_all
from functions.core import clock, ledger
from functions.core.audit import Actor
from functions.core.idempotency import IdempotencyContext
from functions.core.ids import derived_id
from functions.core.uow import Op, UnitOfWork, retrying
from functions.invoices import schemas
from functions.payments import service as payments
from functions.usage.service import seal_period, usage_lines

REASON = "account closure"


def final_invoice_id(account_id: str, part: int = 1) -> str:
    """The final invoice's id (part n of a split one): one per account, whoever posts it."""
    return derived_id("inv", account_id, "final", str(part))


def close_account(access: AccountAccess, idem: IdempotencyContext, when: str) -> schemas.Closure:
    """Close the account now or at the end of its period (see the module's docstring)."""
    account = access.account
    if idem.resumed:  # a previous attempt's lease ran out: renew it and finish what it left
        UnitOfWork().add(idem.started()).commit()
    else:
        UnitOfWork().add(*closing_ops(access, when), idem.started()).commit()
    if account.status == "active":
        account = replace(account, status="closing")
    access = replace(access, account=account)
    cancelled = cancel_all(access, when, REASON)
    if when == "end_of_period" and account.next_recurring_date is not None:  # no cycle (lite): closes now
        result = schemas.Closure(
            account_id=account.id,
            status=account.status,
            when=when,
            closes_on=account.next_recurring_date,
            items_cancelled=cancelled,
        )
    else:
        invoice = _final_invoice(access)
        written_off, credit = finish_closure(access)
        result = schemas.Closure(
            account_id=account.id,
            status=CLOSED,
            when=when,
            closes_on=clock.today(),
            items_cancelled=cancelled,
            final_invoice_id=invoice.id if invoice else None,
            final_invoice_total=invoice.total if invoice else 0,
            written_off_invoice_id=written_off,
            credit_returned=credit.returned,
            credit_left=credit.left,
        )
    UnitOfWork().add(idem.completed(result.model_dump(mode="json"))).commit()
    return result


def _final_invoice(access: AccountAccess) -> ledger.Invoice | None:
    """The usage of the current period to date, invoiced in ONE transaction with the usage seal and
    the account closed and off the due index (none when there is no usage: the account closes alone)."""
    account = get_account(access.account.id)  # after the cancellations, and maybe closed by an earlier attempt
    if account.status == CLOSED:
        return ledger.get_invoice(account.id, final_invoice_id(account.id))
    today = clock.today()
    start = current_period(account)[0] if account.next_recurring_date else None
    lines = usage_lines(account.id, account.currency, start, today) if start else []
    parts = [
        ledger.Part(final_invoice_id(account.id, n), f"Final: {start} to {today}", part_lines)
        for n, part_lines in enumerate(ledger.split_lines(lines), 1)
    ]
    posting = ledger.prepare(account.id, type="recurring", parts=parts, period=(start, today)) if lines else None

    def attempt() -> list[ledger.Invoice]:
        ops, invoices = ledger.post_invoices(posting) if posting else ([], [])
        first = invoices[0].id if invoices else None
        uow = UnitOfWork().add(*ops, *_closing_writes(account, access.actor, start, first))
        uow.commit()  # outbound events: invoice.issued (in `ops`), account.closed (closed_ops)
        return invoices

    invoices = retrying(attempt)
    # The notice, and the collection (the collector hooks its enqueue there): payments' issuing hook.
    payments.invoice_issued(account.id, invoices, account=account)
    return invoices[0] if invoices else None


def _closing_writes(account: AccountRecord, actor: Actor, start: date | None, invoice_id: str | None) -> list[Op]:
    """The usage seal of the period (when the account has one) and the account closed."""
    seal = [seal_period(account.id, start, invoice_id or final_invoice_id(account.id))] if start else []
    return [*seal, *closed_ops(account, actor, invoice_id)]


def finish_closure(access: AccountAccess) -> tuple[str | None, payments.CreditReturned]:
    """After the last invoice (the closure's, or the run's at the end of the period): a balance below the
    minimum written off (the collector's Credit invoice, reason below-minimum), the unapplied credit left
    returned to card payments. Returns the write-off's invoice id (or None) and the credit returned."""
    written_off = payments.write_off_below_minimum(access.account.id, at_closure=True)
    return written_off, payments.return_leftover_credit(access)
