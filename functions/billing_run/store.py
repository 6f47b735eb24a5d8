"""Billing-runs table: one record per (account, billed period) saying which steps after the invoice are
done, so a redelivered message or a second worker finishes the work without doing any step twice.

    pk = <account id>   sk = RUN#<recurring date>            the Recurring invoice (its first part)
    pk = <account id>   sk = RUN#<recurring date>#<n:02>     part n >= 2 of a Recurring invoice split
                                                             because its total would pass the amount limit
    Each record's run_date = the run that billed it (a late run bills several periods: `billow bill`
    counts a run's work by this date, not by the periods' own dates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core import clock
from functions.core.db import IntegerAttribute, get_or_none, meta
from functions.core.uow import Op, put_if_absent


class RunModel(Model):
    Meta = meta("billing_runs")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    invoice_id = UnicodeAttribute()
    # succeeded | processing | declined | requires_action | below_minimum | no_card | nothing_due
    charge = UnicodeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    pdf_stored = UnicodeAttribute(null=True)
    notice_sent = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    run_date = UnicodeAttribute(null=True)  # the run date of the run that billed the period
    attempts = IntegerAttribute(default=0)


@dataclass(frozen=True)
class Run:
    account_id: str
    billed_on: date
    invoice_id: str
    charge: str | None
    payment_id: str | None
    pdf_stored: bool
    notice_sent: bool
    part: int = 1


def _sk(billed_on: date, part: int = 1) -> str:
    return f"RUN#{billed_on.isoformat()}" + (f"#{part:02d}" if part > 1 else "")


def _run(m: RunModel, billed_on: date) -> Run:
    part = int(m.sk.rsplit("#", 1)[1]) if m.sk.count("#") > 1 else 1
    return Run(m.pk, billed_on, m.invoice_id, m.charge, m.payment_id, bool(m.pdf_stored), bool(m.notice_sent), part)


def get(account_id: str, billed_on: date) -> Run | None:
    m = get_or_none(RunModel, account_id, _sk(billed_on), consistent_read=True)
    return None if m is None else _run(m, billed_on)


def get_parts(account_id: str, billed_on: date) -> list[Run]:
    """Every part's record of the period billed on `billed_on`, in order (one Query; usually one)."""
    result = RunModel.query(account_id, RunModel.sk.startswith(_sk(billed_on)), consistent_read=True)
    return sorted((_run(m, billed_on) for m in result), key=lambda r: r.part)


def put_new(account_id: str, billed_on: date, invoice_id: str, run_date: date, part: int = 1) -> Op:
    model = RunModel(
        account_id,
        _sk(billed_on, part),
        invoice_id=invoice_id,
        created_at=clock.iso(clock.now()),
        run_date=run_date.isoformat(),
    )
    return put_if_absent(model, label="run")


def mark(account_id: str, billed_on: date, part: int = 1, **fields: str | None) -> None:
    """Record that a step is done (a single-item write; each step is idempotent on its own)."""
    model = RunModel(account_id, _sk(billed_on, part))
    model.update(actions=[getattr(RunModel, name).set(value) for name, value in fields.items()])
