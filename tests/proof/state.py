"""What an account's money looks like, as one comparable value: the balance, the ledger entries, the
invoices, the payments, the Stripe objects made for it — and the checks every proof test ends with
(`audit_account`, the code behind `billow audit`; no idempotency record left in progress)."""

from __future__ import annotations

from typing import Any


def account_state(account_id: str, *, numbers: bool = True) -> dict[str, Any]:
    """Balances, ledger entries (kind, amount, in order), invoices (number, type, status, total,
    balance_due, oldest first), payments (amount, method, source, status, refunded) and (issue 19) the
    account's outbound events (sequence, type), checked gapless: an event per change, none lost or
    doubled, whatever failed on the way. With
    `numbers=False` an invoice number keeps only its per-account sequence (accounts made in one moto
    get different account numbers)."""
    from functions.core import ledger, ledger_store
    from functions.payments import store as payment_store

    balance = ledger.get_balance(account_id)
    invoices = sorted(ledger_store.all_invoices(account_id), key=lambda i: i.number)
    rows, last = payment_store.list_payments(account_id, 100, None)
    assert last is None, "more than 100 payments: page on"
    return {
        "balance": (balance.current, balance.unapplied_credit) if balance else None,
        "entries": [(e.kind, e.amount) for e in ledger_store.entries(account_id)],
        "invoices": [
            (i.number if numbers else i.number.rsplit("-", 1)[-1], i.type, i.status, i.total, i.balance_due)
            for i in invoices
        ],
        "payments": sorted((p.amount, p.method, p.source, p.status, p.refunded) for p in rows),
        "events": outbound_events(account_id),
    }


def outbound_events(account_id: str) -> list[tuple[int, str]]:
    """The account's outbox (sequence, type), in order; its sequences are 1..n (DESIGN §7)."""
    from functions.core import outbox

    events = [(e["sequence"], e["type"]) for e in outbox.events_of(account_id)]
    assert [s for s, _ in events] == list(range(1, len(events) + 1)), events
    assert outbox.last_sequence(account_id) == len(events), events
    return events


def stripe_payment_intents(account_id: str) -> list[Any]:
    """The PaymentIntents the Stripe side holds for this account (billow puts the account id in their
    metadata), read from localstripe's in-process store."""
    from localstripe import resources

    return [
        obj
        for key, obj in list(resources.store.items())
        if key.startswith("payment_intent:") and (obj.metadata or {}).get("billow_account_id") == account_id
    ]


def idempotency_status(account_id: str, operation: str, key: str) -> str | None:
    """The status of one Idempotency-Key record (`completed`, `in_progress`), None if there is none."""
    from functions.core.idempotency import IdempotencyModel

    try:
        return IdempotencyModel.get(f"{account_id}|{operation}|{key}", consistent_read=True).status
    except IdempotencyModel.DoesNotExist:
        return None


def audit_clean(account_id: str) -> None:
    from functions.core.ledger import audit_account

    problems = audit_account(account_id).problems
    assert problems == [], problems


def stripe_events_about(account_id: str) -> list[dict[str, Any]]:
    """Every event the Stripe side made about this account's PaymentIntents and their charges, refunds
    and disputes, oldest first, as Stripe sends them (the JSON of GET /v1/events/{id})."""
    from localstripe import resources

    items = list(resources.store.items())
    intents = {pi.id for pi in stripe_payment_intents(account_id)}
    charges = {
        obj.id for key, obj in items if key.startswith("charge:") and getattr(obj, "payment_intent", None) in intents
    }
    events = []
    for key, event in items:
        if key.startswith("event:"):
            obj = event.data["object"]
            if {obj.get("id"), obj.get("payment_intent"), obj.get("charge")} & (intents | charges):
                events.append(event._export())
    return events
