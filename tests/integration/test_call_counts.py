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
