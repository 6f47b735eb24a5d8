"""A refusal that is not a decline (422 `payment-rejected`) points to support like a decline does
(DESIGN §3 v4 Notices): the detail says it in words, and a `support` object gives the ticket route
with the payment prefilled."""

from __future__ import annotations

from functions.payments.one_time import _error_for
from functions.payments.store import PaymentRecord


def _row(**kw):
    values = {
        "account_id": "acct_aaaaaaaaaaaaaaaaaaaa",
        "id": "pay_bbbbbbbbbbbbbbbbbbbb",
        "amount": 1000,
        "currency": "usd",
        "method": "card",
        "source": "one_time",
        "status": "failed",
        "created_at": "2026-12-01T00:00:00.000Z",
        "updated_at": "2026-12-01T00:00:00.000Z",
        "created_by": "user-1",
    }
    return PaymentRecord(**(values | kw))


def test_a_rejection_that_is_not_a_decline_names_the_support_path():
    error = _error_for(_row(failure_code="payment_method_unactivated", failure_message="Not usable."))
    assert (error.status, error.code) == (422, "payment-rejected")
    assert "open a support ticket in the console" in error.detail
    support = error.extensions["support"]
    assert support["method"] == "POST"
    assert support["path"] == "/v1/accounts/acct_aaaaaaaaaaaaaaaaaaaa/support-tickets"
    assert support["body"]["payment_id"] == "pay_bbbbbbbbbbbbbbbbbbbb"


def test_a_decline_keeps_its_own_support_subject():
    error = _error_for(_row(failure_code="card_declined", decline_code="insufficient_funds"))
    assert (error.status, error.code) == (402, "card-declined")
    assert error.extensions["support"]["body"]["subject"] == "Declined payment pay_bbbbbbbbbbbbbbbbbbbb"
