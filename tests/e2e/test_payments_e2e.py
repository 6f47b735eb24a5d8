"""Payments against the running local stack (`make run`): a card payment with a new card created at
the Stripe port as Stripe.js would, and a PayPal payment approved through the shim's URL — the signed
webhook from the Stripe side applies it. (The concurrent-requests storm on payments is in
tests/proof/test_storms_and_card_data.py, with the other idempotency storms.)"""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.conftest import LocalStack
from tests.e2e.stack_flows import balance, owing_account, paypal_payment_approved

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("shared-stack")]
SHARED_STACK = True  # with test_events_e2e.py and test_payment_races.py (tests/e2e/conftest.py `local_stack`)


def test_a_card_payment_and_a_paypal_approval_against_the_running_stack(local_stack: LocalStack):
    from local import stripe_js

    info = local_stack.info
    api, stripe_url = info["api_url"], info["stripe"]["url"]
    admin = {"Authorization": f"Bearer {info['tokens']['admin']['token']}"}
    account_id = owing_account(api, admin, [3000, 2000])
    payments = f"{api}/v1/accounts/{account_id}/payments"

    pm = stripe_js.create_payment_method(stripe_url, info["stripe"]["publishable_key"])
    card = requests.post(
        payments,
        json={"amount": 3500, "payment_method_id": pm},
        headers=admin | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert card.status_code == 201, card.text
    assert card.json()["status"] == "succeeded"
    assert balance(api, account_id, admin) == 1500

    paypal_payment_approved(api, admin, account_id, 1500)
    assert balance(api, account_id, admin) == 0
    listed = requests.get(payments, headers=admin, timeout=30).json()["data"]
    assert [p["method"] for p in listed] == ["paypal", "card"]
