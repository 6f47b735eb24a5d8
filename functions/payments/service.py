"""The payments domain's front door: what other domains (and payments' routes) call — the card on
file (`cards`), off-session charges for the monthly run (`off_session`), refunds to cards (`refunds`).

payments/ by what it does:
  issuing      after an invoice is issued (every issuer calls it): its notice, once
  cards        the card on file: setup, change, validation queue, the chargeable card, the summary's view
  one_time     one-time payments (card or PayPal) ── on charges.py's sequence: lease, Stripe, final write
  off_session  off-session charges of an invoice  ─┤  (charging.py: the payment row, THE apply step)
  refunds      refunds to cards                   ─┘
  webhooks     Stripe's events: payments applied or failed, refunds, disputes
  tickets      support tickets
  lifecycle    PATCH of the account (collection needs a card), the lite account's upgrade request
  upgrades     the upgrade's flip when its card validates
  closure      the unapplied credit left at closure, sent back to card payments
  emails       the domain's e-mails
  store/       the payments table: one model per row kind, the records and ops
"""

from __future__ import annotations

from functions.accounts.service import AccountAccess
from functions.core.idempotency import IdempotencyContext
from functions.payments import refunds
from functions.payments.card_deadline import expire_pending_changes as expire_pending_changes
from functions.payments.cards import QUEUE as QUEUE
from functions.payments.cards import CardChangeNotFoundError as CardChangeNotFoundError
from functions.payments.cards import ChangeAccepted as ChangeAccepted
from functions.payments.cards import ChargeableCard as ChargeableCard
from functions.payments.cards import SetupStarted as SetupStarted
from functions.payments.cards import card_summary as card_summary
from functions.payments.cards import chargeable_card as chargeable_card
from functions.payments.cards import handle_validation_message as handle_validation_message
from functions.payments.cards import is_expired as is_expired
from functions.payments.cards import payment_method as payment_method
from functions.payments.cards import request_change as request_change
from functions.payments.cards import start_setup as start_setup
from functions.payments.cards import validate_change as validate_change
from functions.payments.closure import CreditReturned as CreditReturned
from functions.payments.closure import return_leftover_credit as return_leftover_credit
from functions.payments.issuing import invoice_issued as invoice_issued
from functions.payments.issuing import invoice_page as invoice_page
from functions.payments.off_session import OffSessionCharge as OffSessionCharge
from functions.payments.off_session import charge_invoice_off_session as charge_invoice_off_session
from functions.payments.off_session import off_session_attempt as off_session_attempt
from functions.payments.store import RefundRecord as RefundRecord


def refund_to_card(
    access: AccountAccess,
    idem: IdempotencyContext,
    payment_id: str,
    amount: int,
    reason: str,
    render: refunds.Render,
    *,
    return_credit: bool = False,
) -> RefundRecord:
    """Refund `amount` of a succeeded payment to its card (payments.refunds.refund_payment): the front
    door the invoices' refund route uses. Returns the refund's row once booked."""
    return refunds.refund_payment(access, idem, payment_id, amount, reason, render, return_credit=return_credit)
