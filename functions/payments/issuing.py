"""What happens after an invoice is issued (DESIGN §3 v4 Notices): `invoice_issued` is called by every
issuer once its transaction committed — provisioning (New), the operator's One-time charges, Credits
and Refunds, a refund to a card, a cancellation's Credit, the monthly run (Recurring).

It e-mails the billing contact one notice per invoice, unless the account set `invoice_emails: false`
(a send_invoice account still gets its debit invoices: they are how it is asked to pay). Once per
invoice, whoever calls it and however often: the notice's marker (payments table, NOTICE#<invoice>) is
read before SES is called and written (conditional put) once SES accepted the message, so a redelivered
run or a retried request finds it and sends nothing. Like every e-mail of billow it is at-least-once:
only a failure between SES accepting it and the marker (a lost SES reply, the marker's write failing)
sends it once more on the redelivery; never fewer (tests/proof/test_faults.py).

Every invoice issued has its PDF rendered by the `pdf-render` queue (issue 21, docs/invoices.md "PDF"):
`invoice_issued` queues one render per invoice before anything else (a failure is logged — the PDF route
queues it again when asked for a PDF not stored — and raised with `raise_errors`).

The collector (issue 16) hooks its enqueue here too: the one place that knows an invoice was issued.
On an automatic account, an open debit invoice requests the account's collection (`collection_rows.
request`: never charged inside the issuing request; the collector runs ~60 s later, so invoices issued
close together ride in one charge; docs/collections.md). `collection_method` is how an account pays,
with the migration of subscription accounts from before v4 stored on first use.
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.accounts.service import AccountRecord, get_account, set_collection_method
from functions.core import catalogue, clock, email, metrics, pdf_renders
from functions.core.errors import ConcurrentUpdateError, NotFoundError
from functions.core.ledger import CREDIT_TYPES, Invoice
from functions.core.links import invoice_page
from functions.core.logs import get_logger
from functions.core.money import minimum_charge
from functions.core.uow import UnitOfWork
from functions.payments import emails, store
from functions.payments.cards import ChargeableCard, chargeable_card
from functions.payments.collection_rows import request
from functions.payments.reminders import schedule_reminders


def collection_of(account: AccountRecord, card: ChargeableCard | None) -> str:
    """How the account pays: its `collection`, or — for a subscription account from before v4, not
    migrated yet — automatic when it has a valid card, else send_invoice (DESIGN §3 v4)."""
    if account.collection:
        return account.collection
    if account.type == "payg" or card is not None:
        return "automatic"
    return "send_invoice"


def collection_method(account: AccountRecord) -> str | None:
    """How the account pays its debit invoices: "automatic" or "send_invoice" (None: lite). A subscription
    account from before v4 (no method stored) migrates once, as DESIGN §3 v4 says — automatic when it has
    a valid card, else send_invoice — and the choice is stored (an operator's choice stored meanwhile
    stands)."""
    if account.collection is not None or account.type != "subscription":
        return account.collection
    method = collection_of(account, chargeable_card(account.id))
    try:
        UnitOfWork().add(set_collection_method(account.id, method)).commit()
    except ConcurrentUpdateError:
        return get_account(account.id).collection
    return method


def wants_notice(account: AccountRecord, inv: Invoice, collection: str) -> bool:
    """Whether `inv` is e-mailed: always, unless the account turned invoice e-mails off — and even then
    a send_invoice account's debit invoices (they ask for the money)."""
    if account.invoice_emails:
        return True
    return collection == "send_invoice" and inv.type not in CREDIT_TYPES


def invoice_issued(
    account_id: str,
    invoices: Sequence[Invoice],
    *,
    account: AccountRecord | None = None,
    raise_errors: bool = False,
) -> None:
    """Send the notice of each invoice just issued on the account, once each. `account`: the record the
    caller already read (saves a read). SES failures are logged; with `raise_errors` (queue workers,
    whose redelivery retries) they are raised too.
    DynamoDB: the account (unless given), the card state (only for a debit on an automatic account),
    and per notice its marker read (GetItem) and written (conditional PutItem)."""
    if not invoices:
        return
    for inv in invoices:  # at least once: a redelivered issue counts again (docs/operations.md)
        metrics.invoice_issued(inv.type)
    pdf_renders.issued(account_id, [inv.id for inv in invoices], raise_errors=raise_errors)
    try:
        account = account or get_account(account_id)
    except NotFoundError:
        return
    to = str((account.billing_contact or {}).get("email", ""))
    debits = any(inv.type not in CREDIT_TYPES for inv in invoices)
    card = chargeable_card(account_id) if debits and account.collection != "send_invoice" else None
    collection = collection_of(account, card)
    if collection == "send_invoice":
        schedule_reminders(account_id, invoices)  # the due dates' reminders and past-due mark
    _request_collection(account, invoices, raise_errors)
    for inv in invoices:
        if not to or not wants_notice(account, inv, collection):
            continue
        if store.notice_marked(account_id, inv.id):
            continue  # sent already (a redelivery, a retry)
        try:
            email.send(emails.invoice_notice(_notice(account, inv, to, collection, card, invoices[-1].balance_after)))
        except Exception:
            get_logger().exception("invoice notice not sent", account_id=account_id, invoice_id=inv.id)
            if raise_errors:
                raise
            continue
        store.mark_notice(account_id, inv.id, clock.iso(clock.now()))


def _request_collection(account: AccountRecord, invoices: Sequence[Invoice], raise_errors: bool) -> None:
    """An open debit invoice on an automatic account requests the account's collection (a collection
    open already makes it a no-op). A failure is logged (raised with `raise_errors`): the invoice is then
    collected by the account's next collection."""
    if not any(inv.type not in CREDIT_TYPES and inv.status == "open" for inv in invoices):
        return
    try:
        if collection_method(account) == "automatic":
            request(account.id)
    except Exception:
        get_logger().exception("collection request failed", account_id=account.id)
        if raise_errors:
            raise


def _notice(
    account: AccountRecord, inv: Invoice, to: str, collection: str, card: ChargeableCard | None, owed: int
) -> emails.InvoiceNotice:
    """`owed`: the account's balance once these invoices are issued (what its collection would charge)."""
    return emails.InvoiceNotice(
        to=to,
        contact_name=str(account.billing_contact.get("name", "")),
        account_name=account.name,
        account_number=account.number,
        locale=account.locale,
        type=inv.type,
        number=inv.number,
        date=inv.date,
        currency=inv.currency,
        total=inv.total,
        due=_due_at_issue(inv),
        description=catalogue.local_text(inv.description, account.locale),
        link=invoice_page(account.id, inv.id),
        how=_how(inv, collection, card, owed),
        card=catalogue.card(card.brand, card.last4, account.locale) if card else "",
        due_date=inv.due_date,
    )


def _due_at_issue(inv: Invoice) -> int:
    """What the invoice left to pay when issued: its total less the unapplied credit it consumed (a
    payment applied since does not change what the notice says)."""
    return inv.total - sum(a.amount for a in inv.applications if a.kind == "unapplied_credit")


def _how(inv: Invoice, collection: str, card: ChargeableCard | None, owed: int) -> str:
    if inv.type in CREDIT_TYPES:
        return inv.type  # credit | refund
    if _due_at_issue(inv) <= 0:
        return "nothing_due"
    if collection == "automatic" and card is not None and owed < minimum_charge(inv.currency):
        return "carried"  # the collector charges nothing below the minimum: the next invoice takes it
    if collection == "automatic":
        return "card" if card is not None else "no_card"
    return "pay"
