"""DynamoDB calls and items read per request, at two history sizes (in-process moto, Chalice's test
client), and the money flows that call Stripe. Counts are deterministic; time is not measured here
(moto's timings grow with table size)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.ddb_counter import Counts, counting
from bench.harness import CONTACT, billow_app


def run(histories: tuple[int, int] = (40, 200)) -> list[tuple[str, int, Counts]]:
    rows: list[tuple[str, int, Counts]] = []
    with billow_app() as bench:
        call = bench.call
        for history in histories:
            base = f"/v1/accounts/{bench.new_account('subscription')}"
            device = ""
            for _ in range(history):
                call("POST", f"{base}/charges", {"description": "x", "amount": 100}, idem=True)
                device = call("POST", f"{base}/devices", {"name": "d", "kind": "vm"})["id"]
                item = {"description": "vm", "category": "server", "recurring_fee": 0, "device_id": device}
                call("POST", f"{base}/billing-items", item, idem=True)
            new_item = {"description": "x", "category": "c", "recurring_fee": 0}
            bulk_ids = [call("POST", f"{base}/billing-items", new_item, idem=True)["item"]["id"] for _ in range(100)]
            bulk = {"action": "associate", "item_ids": bulk_ids, "device_id": device}
            measured: list[tuple[str, Callable[[], Any]]] = [
                ("GET summary", lambda b=base: call("GET", f"{b}/summary")),
                ("GET events (page of 25)", lambda b=base: call("GET", f"{b}/events")),
                ("GET devices (page of 25)", lambda b=base: call("GET", f"{b}/devices")),
                (
                    "POST charges",
                    lambda b=base: call("POST", f"{b}/charges", {"description": "x", "amount": 100}, idem=True),
                ),
                ("GET billing-items (page of 25)", lambda b=base: call("GET", f"{b}/billing-items")),
                (
                    "POST billing-items/bulk (100 items)",
                    lambda b=base, body=bulk: call("POST", f"{b}/billing-items/bulk", body, idem=True),
                ),
                (
                    "POST credits (settles 20 open invoices)",
                    lambda b=base: call("POST", f"{b}/credits", {"amount": 2000, "reason": "r"}, idem=True),
                ),
            ]
            for name, fn in measured:
                with counting() as counts:
                    fn()
                rows.append((name, history, counts))
    return rows


def format_report(rows: list[tuple[str, int, Counts]]) -> str:
    histories = sorted({h for _, h, _ in rows})
    names = list(dict.fromkeys(n for n, _, _ in rows))
    by = {(n, h): c for n, h, c in rows}
    lines = ["DynamoDB calls per request (items read) by account history size", ""]
    header = f"  {'request':42}" + "".join(f"{f'history {h}':>22}" for h in histories) + "   flat?"
    lines.append(header)
    for name in names:
        cells = [by[(name, h)] for h in histories]
        flat = all((c.total, c.items_read) == (cells[0].total, cells[0].items_read) for c in cells)
        lines.append(
            f"  {name:42}"
            + "".join(f"{f'{c.total} calls ({c.items_read} read)':>22}" for c in cells)
            + f"   {'yes' if flat else 'NO'}"
        )
    lines.append("")
    for name in names:
        lines.append(f"  {name}: {by[(name, histories[-1])].describe()}")
    return "\n".join(lines)


def money_flows() -> list[tuple[str, Counts, int]]:
    """The money flows that call Stripe (localstripe behind the local shim): a one-time card payment, an
    collection (the collector: the one off-session path) and a refund to a card, each on an account with a card on file.
    Returns (flow, DynamoDB counts, Stripe requests)."""
    from local import stripe_js

    rows: list[tuple[str, Counts, int]] = []
    with billow_app(with_stripe=True) as bench:
        from functions.payments.service import collect

        call, stripe = bench.call, bench.stripe

        def measured(name: str, fn: Callable[[], Any]) -> Any:
            before = len(stripe.state.log)
            with counting() as counts:
                result = fn()
            rows.append((name, counts, len(stripe.state.log) - before))
            return result

        account_id = bench.new_account("payg")
        base = f"/v1/accounts/{account_id}"
        started = call("POST", f"{base}/payment-method/setup")
        stripe_js.confirm_card_setup(stripe.url, "pk_test_bench", started["client_secret"], stripe_js.SUCCEEDS)
        change = {"setup_intent_id": started["setup_intent_id"], "billing_contact": CONTACT}
        call("PUT", f"{base}/payment-method", change)
        bench.client.lambda_.invoke("validate_card", bench.validation_messages()[1])

        call("POST", f"{base}/charges", {"description": "x", "amount": 3000}, idem=True)
        paid = measured(
            "POST payments (one-time, card on file)",
            lambda: call("POST", f"{base}/payments", {"amount": 3000}, idem=True),
        )
        call("POST", f"{base}/charges", {"description": "x", "amount": 2000}, idem=True)
        measured("collection (off-session, receipt)", lambda: collect(account_id))
        refund = {"amount": 1200, "reason": "goodwill", "payment_id": paid["id"]}
        measured("POST refunds (to the card)", lambda: call("POST", f"{base}/refunds", refund, idem=True))
    return rows


def format_money_report(rows: list[tuple[str, Counts, int]]) -> str:
    lines = ["Money flows that call Stripe: DynamoDB calls (items read), reads per kind of row, Stripe requests", ""]
    for name, counts, stripe_requests in rows:
        lines.append(f"  {name}: {counts.describe()}; {stripe_requests} Stripe requests")
        lines.append(f"  {'':4}reads: {counts.describe_reads()}")
    return "\n".join(lines)
