"""The ledger's reads: the balance, invoices (by id, open oldest first, by date), lines, entries,
markers and refunded totals, read into records; strongly consistent where money is decided."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from functions.core.db import get_or_none, one_page
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
    Application,
    Balance,
    Entry,
    Invoice,
    Line,
    Placement,
    credit_lots_of,
)


def balance_of(m: BalanceModel) -> Balance:
    return Balance(
        account_id=m.pk,
        **m.record_values(),
        credit_lots=credit_lots_of(m.credit_lots, m.unapplied_credit),
        in_flight=m.in_flight or 0,
        past_due=m.past_due or 0,
    )


def invoice_of(m: InvoiceModel) -> Invoice:
    return Invoice(
        account_id=m.pk,
        id=m.invoice_id,
        **m.record_values(),
        applications=[Application(**a) for a in json.loads(m.applications)],
        applied_to=json.loads(m.applied_to),
        in_flight=m.in_flight or 0,
        past_due=bool(m.past_due),
        carried_forward=bool(m.carried_forward),
    )


def line_of(m: LineModel) -> Line:
    return Line(**m.record_values())


def get_balance(account_id: str, *, consistent: bool = True) -> Balance | None:
    m = get_or_none(BalanceModel, account_id, BALANCE_SK, consistent_read=consistent)
    return None if m is None else balance_of(m)


def get_invoice(account_id: str, invoice_id: str) -> Invoice | None:
    m = get_or_none(InvoiceModel, account_id, INV + invoice_id, consistent_read=True)
    return None if m is None else invoice_of(m)


def get_invoices(account_id: str, invoice_ids: list[str]) -> list[Invoice]:
    """Several headers in one BatchGetItem (order not kept)."""
    if not invoice_ids:
        return []
    keys = [(account_id, INV + i) for i in dict.fromkeys(invoice_ids)]
    return [invoice_of(m) for m in InvoiceModel.batch_get(keys, consistent_read=True)]


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
    return [invoice_of(m) for m in models], last


def all_open_pointer_ids(account_id: str) -> list[str]:
    return [m.invoice_id for m in OpenModel.query(account_id, OpenModel.sk.startswith(OPEN), consistent_read=True)]


def all_invoices(account_id: str) -> list[Invoice]:
    """Every invoice header of the account, by date (audits; the index skips the lines)."""
    return [invoice_of(m) for m in InvoiceModel.by_date.query(f"{account_id}#INV")]


def get_lines(account_id: str, invoice_id: str) -> list[Line]:
    result = LineModel.query(account_id, LineModel.sk.startswith(f"{INV}{invoice_id}{LINE}"))
    return [line_of(m) for m in result]


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
        Entry(int(m.sk[len(ENTRY) :]), **m.record_values())
        for m in EntryModel.query(account_id, EntryModel.sk.startswith(ENTRY), consistent_read=True)
    ]


def get_placement(account_id: str, ref: str) -> Placement | None:
    """How far the money back `ref` (a Stripe refund id) is placed; None if it never started."""
    m = get_or_none(RefModel, account_id, REF + ref, consistent_read=True)
    if m is None:
        return None
    if m.amount is None:  # a marker of something posted in one go
        return Placement(0, 0, m.entry_seq)
    return Placement(m.amount, m.placed or 0, m.entry_seq, m.invoice_id)


def ref_exists(account_id: str, ref: str) -> bool:
    return get_or_none(RefModel, account_id, REF + ref, consistent_read=True) is not None


def invoice_refunded_totals(account_id: str) -> dict[str, int]:
    """Every invoice's refunded total (audits), by invoice id."""
    result = RefundedModel.query(account_id, RefundedModel.sk.startswith(REFUNDED), consistent_read=True)
    return {m.invoice_id: m.refunded for m in result}


def get_invoice_refunded(account_id: str, invoice_id: str) -> int:
    m = get_or_none(RefundedModel, account_id, REFUNDED + invoice_id, consistent_read=True)
    return 0 if m is None else m.refunded


def balance_account_ids() -> list[str]:
    """Every account with a balance (the offline audit walks them; never used by a request)."""
    return [m.pk for m in BalanceModel.scan(BalanceModel.sk == BALANCE_SK)]
