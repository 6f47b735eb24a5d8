"""DynamoDB calls per request are deterministic: count them (never time them) and keep them flat as
the account's history grows. The figures are printed by `make bench` too."""

from __future__ import annotations

import uuid

import pytest

from bench.ddb_counter import counting


@pytest.fixture
def account(api):
    acct = api.create_account()
    return acct["id"], api.member_token(acct["id"])


def _charge(api, account_id, amount=100):
    return api.call(
        "POST",
        f"/v1/accounts/{account_id}/charges",
        {"description": "x", "amount": amount},
        token=api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def test_a_charge_is_one_transaction_whatever_the_history(api, account):
    account_id, _ = account
    for history in (0, 30):
        for _ in range(history):
            _charge(api, account_id)
        with counting() as counts:
            assert _charge(api, account_id)[0] == 201
        assert counts.calls["TransactWriteItems"] == 1, counts.describe()
        # guard (BatchGetItem), idempotency lookup (GetItem), balance (GetItem), the transaction
        assert counts.total == 4, counts.describe()
        assert counts.items_read <= 3


def test_the_summary_reads_a_fixed_number_of_items_whatever_the_history(api, account):
    account_id, token = account
    seen = []
    for history in (0, 25):
        for _ in range(history):
            _charge(api, account_id)
        with counting() as counts:
            assert api.call("GET", f"/v1/accounts/{account_id}/summary", token=token)[0] == 200
        seen.append((counts.total, counts.items_read))
    # guard, balance, card on file (none yet), the items' recurring total, the usage so far (none)
    assert seen[0] == seen[1] == (5, 3), seen


# --- money flows that call Stripe (localstripe behind the shim): the figures before issue 15's refactor,
# which must read each row once per step and commit once per step; no count may rise above these.


@pytest.fixture
def pay(api, client, stripe_server, queues_and_mail):
    from tests.integration.payments_helpers import Payments

    return Payments(api, client, stripe_server, queues_and_mail)


def _refund(pay, account_id, payment_id, amount):
    return pay.api.call(
        "POST",
        f"/v1/accounts/{account_id}/refunds",
        {"amount": amount, "reason": "goodwill", "payment_id": payment_id},
        token=pay.api.admin,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def test_a_one_time_card_payment_reads_and_commits_a_fixed_number_of_times(pay):
    account_id, token, _ = pay.owing(3000)

    with counting() as counts:
        status, body, _ = pay.pay(account_id, token, {"amount": 3000})

    assert status == 201 and body["status"] == "succeeded", body
    # before Stripe: the row with its lease (one transaction); after Stripe: the settlement (one
    # transaction); the receipt marked sent afterwards (UpdateItem)
    assert counts.calls == {"BatchGetItem": 2, "GetItem": 10, "Query": 1, "TransactWriteItems": 2, "UpdateItem": 1}, (
        counts.describe()
    )
    assert counts.reads == {
        "accounts:MEMBER": 1,
        "accounts:PROFILE": 2,
        "idempotency": 1,
        "ledger:BALANCE": 3,
        "ledger:INV": 1,
        "ledger:Query": 1,
        "payments:PAY": 3,
        "payments:PAYMENT_METHOD": 2,
    }, counts.describe_reads()
    assert (counts.items_read, counts.items_written) == (12, 12), counts.describe()
    assert counts.other == {("sesv2", "SendEmail"): 1}  # the receipt


def test_an_off_session_charge_reads_and_commits_a_fixed_number_of_times(pay):
    from functions.payments.service import charge_invoice_off_session

    account_id, _, (inv,) = pay.owing(2000)

    with counting() as counts:
        outcome = charge_invoice_off_session(account_id, inv, 2000, attempt=1)

    assert outcome.status == "succeeded", outcome
    assert counts.calls == {"BatchGetItem": 1, "GetItem": 12, "Query": 1, "TransactWriteItems": 2}, counts.describe()
    assert counts.reads == {
        "ledger:BALANCE": 4,
        "ledger:INV": 3,
        "ledger:Query": 1,
        "payments:PAY": 4,
        "payments:PAYMENT_METHOD": 2,
    }, counts.describe_reads()
    assert (counts.items_read, counts.items_written) == (12, 10), counts.describe()
    assert counts.other == {}  # no receipt for the monthly run


def test_a_refund_to_a_card_reads_and_commits_a_fixed_number_of_times(pay):
    account_id, _, _, row = pay.paid(3000, pay_amount=3000)

    with counting() as counts:
        status, body, _ = _refund(pay, account_id, row.id, 1200)

    assert status == 201, body
    assert counts.calls == {"GetItem": 5, "Query": 1, "TransactWriteItems": 2}, counts.describe()
    assert counts.reads == {
        "accounts:PROFILE": 1,
        "idempotency": 1,
        "ledger:BALANCE": 1,
        "ledger:INV": 1,
        "ledger:Query": 1,
        "payments:PAY": 1,
    }, counts.describe_reads()
    assert (counts.items_read, counts.items_written) == (5, 12), counts.describe()
    assert counts.other == {}
