"""The `ses-feedback` consumer: SES's bounces and complaints suppress the address (functions/core/
suppressions.py); each account whose billing contact it is records it (an audit event and an
`account.updated` event carrying `billing_contact_suppressed: true`, in one transaction); the operators
get one e-mail listing those accounts (docs/operations.md, "E-mail suppressed"): such an account gets
no invoice notice, receipt or dunning e-mail any more, so someone has to ask the customer for a working
address.

At least once, changed once: the SQS message may come back (a crash, a redelivery, SES reporting the
address again). The suppression row is put once; each account's change carries a marker put only if
absent (a second one fails its condition and writes nothing); the operators' e-mail is marked sent on
the suppression row after it went out, so only a crash between the two sends it twice."""

from __future__ import annotations

from typing import Any

from functions.accounts.lifecycle import account_object
from functions.accounts.profile_store import accounts_with_contact
from functions.accounts.store import AccountRecord
from functions.core import audit, email, metrics, outbox, suppressions
from functions.core.audit import Actor
from functions.core.errors import ConflictError
from functions.core.logs import get_logger
from functions.core.settings import get_settings
from functions.core.uow import UnitOfWork

SYSTEM = Actor("system:ses-feedback", "system")


def handle_feedback(body: dict[str, Any]) -> None:
    """One SES event: each address it suppresses recorded, its accounts told, the operators e-mailed."""
    for feedback in suppressions.parse(body):
        metrics.count("EmailFeedback", kind=feedback.kind)
        recorded = suppressions.record(feedback)
        if recorded.new:
            get_logger().warning("e-mail address suppressed", kind=feedback.kind, feedback_id=feedback.feedback_id)
        elif recorded.operators_told:
            continue  # suppressed and handled already (SES reports again, or the message was redelivered)
        accounts = accounts_with_contact(feedback.address)
        for account in accounts:
            _tell_account(account, feedback, recorded.since)
        email.send(_operator_notice(feedback, accounts))
        suppressions.told_operators(feedback.address)


def _tell_account(account: AccountRecord, feedback: suppressions.Feedback, since: str) -> None:
    """The account's audit event and `account.updated` (with `billing_contact_suppressed: true`), once."""
    try:
        UnitOfWork().add(
            suppressions.account_noticed(feedback.address, since, account.id, feedback.kind),
            audit.record(
                account.id,
                SYSTEM,
                "account.billing_contact_suppressed",
                account.id,
                {"billing_contact_suppressed": False},
                {"billing_contact_suppressed": True, "kind": feedback.kind, "detail": feedback.detail},
            ),
            outbox.event(account.id, "account.updated", account_object(account) | {"billing_contact_suppressed": True}),
        ).commit()
    except ConflictError as exc:
        if exc.code != "already-noticed":
            raise


def _operator_notice(feedback: suppressions.Feedback, accounts: list[AccountRecord]) -> email.Email:
    what = "bounced permanently" if feedback.kind == suppressions.BOUNCE else "was reported as spam (a complaint)"
    listed = [(f"Account {a.number}", f"{a.id} · {a.name}") for a in accounts]
    whose = (
        f"It is the billing contact of {len(accounts)} account(s), listed above; each shows "
        "billing_contact_suppressed: true in its summary and its account.updated event."
        if accounts
        else "No account has it as its billing contact (a member's or operator's address, or a contact changed since)."
    )
    return email.compose(
        get_settings().operator_email,
        f"billow: e-mail to {feedback.address} suppressed",
        "en",
        [
            f"Mail billow sent to {feedback.address} {what} ({feedback.detail}). billow will not write to "
            "this address again: no invoice notice, receipt or reminder reaches it.",
            whose,
            "Ask the customer for a working address, update the billing contact, and lift the suppression "
            '(docs/operations.md, "E-mail suppressed").',
        ],
        rows=[("SES feedback id", feedback.feedback_id), *listed],
    )
