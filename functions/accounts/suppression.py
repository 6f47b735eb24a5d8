"""The `ses-feedback` consumer: SES's bounces and complaints suppress the address (functions/core/
suppressions.py), and the operators hear about each new one by e-mail (docs/operations.md, "E-mail
suppressed"): an account whose billing contact bounces gets no invoice notice, receipt or dunning
e-mail any more, so someone has to ask the customer for a working address."""

from __future__ import annotations

from typing import Any

from functions.core import email, metrics, suppressions
from functions.core.logs import get_logger
from functions.core.settings import get_settings


def handle_feedback(body: dict[str, Any]) -> None:
    """One SES event: each address it suppresses recorded once; the operators told of the new ones."""
    for feedback in suppressions.parse(body):
        metrics.count("EmailFeedback", kind=feedback.kind)
        if not suppressions.record(feedback):
            continue  # suppressed already (SES reports again, or the message was redelivered)
        get_logger().warning("e-mail address suppressed", kind=feedback.kind, feedback_id=feedback.feedback_id)
        email.send(_operator_notice(feedback))


def _operator_notice(feedback: suppressions.Feedback) -> email.Email:
    what = "bounced permanently" if feedback.kind == suppressions.BOUNCE else "was reported as spam (a complaint)"
    return email.compose(
        get_settings().operator_email,
        f"billow: e-mail to {feedback.address} suppressed",
        "en",
        [
            f"Mail billow sent to {feedback.address} {what} ({feedback.detail}). billow will not write to "
            "this address again: no invoice notice, receipt or reminder reaches it.",
            "Accounts whose billing contact this is show billing_contact_suppressed: true in their summary. "
            "Ask the customer for a working address, update the billing contact, and lift the suppression "
            '(docs/operations.md, "E-mail suppressed").',
        ],
        rows=[("SES feedback id", feedback.feedback_id)],
    )
