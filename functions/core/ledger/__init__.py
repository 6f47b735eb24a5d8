"""The ledger: every balance change is an entry, written in the same transaction as the change
(DESIGN §3). One posting function for invoices, one for money in, one application rule for both.

The operations are planners: they read what they need and return the operations and the result
(`(ops, result)`); the caller adds its own rows, the audit event and the stored reply, and commits
(functions/core/uow.py `retrying`). Only a continuation that settles more invoices than one
transaction holds commits its earlier steps itself (`money_back`, `settle_unapplied_credit`).

  rules      invoice types, limits, results, the application rule (`allocate`)
  invoices   `prepare`, `post_invoice`, `post_invoices`: numbering, headers, lines, entries
  money      `apply_payment`, `refund_to_card`, `settle_unapplied_credit`
  placement  `money_back`: money refunded to a card (or disputed) placed whatever happened since
  in_flight  `room`, `reserve`, `release`: payments in flight; `reserve_invoice_refund`
  marks      `mark_past_due`, `mark_carried_forward` (the balance counts past-due invoices), `open_invoices`
  audit      `audit_account`: the invariant recomputed
  outbound   the outbound events its changes imply (invoice.issued, invoice.paid, account.past_due …),
             planned in the same ops (functions/core/outbox.py, docs/events.md)

Signs: New, Recurring, One-time invoices +total; Credit and Refund invoices -total; a payment
-amount; money refunded to a card +amount (`money_back`, `refund_to_card`).
Invariant per account: Σ entries = balance.current = Σ open balance_due - unapplied_credit.
"""

from functions.core import ledger_store as ledger_store
from functions.core.ledger.audit import AuditResult as AuditResult
from functions.core.ledger.audit import audit_account as audit_account
from functions.core.ledger.audit import audited_account_ids as audited_account_ids
from functions.core.ledger.in_flight import ReservationMovedError as ReservationMovedError
from functions.core.ledger.in_flight import Room as Room
from functions.core.ledger.in_flight import release as release
from functions.core.ledger.in_flight import reserve as reserve
from functions.core.ledger.in_flight import reserve_invoice_refund as reserve_invoice_refund
from functions.core.ledger.in_flight import room as room
from functions.core.ledger.invoices import Part as Part
from functions.core.ledger.invoices import Posting as Posting
from functions.core.ledger.invoices import post_invoice as post_invoice
from functions.core.ledger.invoices import post_invoices as post_invoices
from functions.core.ledger.invoices import prepare as prepare
from functions.core.ledger.invoices import split_lines as split_lines
from functions.core.ledger.marks import MarkMovedError as MarkMovedError
from functions.core.ledger.marks import all_open_invoices as all_open_invoices
from functions.core.ledger.marks import mark_carried_forward as mark_carried_forward
from functions.core.ledger.marks import mark_past_due as mark_past_due
from functions.core.ledger.marks import open_invoices as open_invoices
from functions.core.ledger.money import apply_payment as apply_payment
from functions.core.ledger.money import refund_to_card as refund_to_card
from functions.core.ledger.money import settle_unapplied_credit as settle_unapplied_credit
from functions.core.ledger.outbound import invoice_event as invoice_event
from functions.core.ledger.outbound import invoice_object as invoice_object
from functions.core.ledger.placement import PAYMENT_REFUNDED as PAYMENT_REFUNDED
from functions.core.ledger.placement import PlacementMovedError as PlacementMovedError
from functions.core.ledger.placement import held_by as held_by
from functions.core.ledger.placement import money_back as money_back
from functions.core.ledger.rules import APPLY_ATTEMPTS as APPLY_ATTEMPTS
from functions.core.ledger.rules import CREDIT_TYPES as CREDIT_TYPES
from functions.core.ledger.rules import DEBIT_TYPES as DEBIT_TYPES
from functions.core.ledger.rules import INVOICE_TYPES as INVOICE_TYPES
from functions.core.ledger.rules import MAX_INLINE_LINES as MAX_INLINE_LINES
from functions.core.ledger.rules import MAX_SETTLE_PER_TRANSACTION as MAX_SETTLE_PER_TRANSACTION
from functions.core.ledger.rules import AlreadyPostedError as AlreadyPostedError
from functions.core.ledger.rules import AmountTooLargeError as AmountTooLargeError
from functions.core.ledger.rules import MoneyBack as MoneyBack
from functions.core.ledger.rules import MoneyIn as MoneyIn
from functions.core.ledger_store import Application as Application
from functions.core.ledger_store import Balance as Balance
from functions.core.ledger_store import Entry as Entry
from functions.core.ledger_store import Invoice as Invoice
from functions.core.ledger_store import Line as Line

open_balance = ledger_store.open_balance
get_balance = ledger_store.get_balance
get_invoice = ledger_store.get_invoice
get_invoices = ledger_store.get_invoices
set_due_date = ledger_store.set_due_date
get_lines = ledger_store.get_lines
list_invoices = ledger_store.list_invoices
invoice_refunded = ledger_store.get_invoice_refunded
