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

Models never leave this package: readers get the frozen records (`records`), writers get `Op`s
(`writes`); `reads` holds the queries. Modules: models, records, reads, writes.
"""

from functions.core.ledger_store.models import *  # noqa: F403
from functions.core.ledger_store.reads import *  # noqa: F403
from functions.core.ledger_store.records import *  # noqa: F403
from functions.core.ledger_store.writes import *  # noqa: F403
