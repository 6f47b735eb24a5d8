"""A lite account's upgrade to payg through the card flow (DESIGN §2 v4): what the card-validation
worker adds to the card's activation when the change is an upgrade."""

from __future__ import annotations

from functions.accounts.service import get_account, upgrade_ops
from functions.core import clock
from functions.core.audit import Actor
from functions.core.uow import Op
from functions.payments import store
from functions.payments.store import CardChangeRecord


def completed(change: CardChangeRecord, actor: Actor, now: str) -> list[Op]:
    """With the card of a lite account's upgrade: the account becomes payg, linked, collected
    automatically, with its billing cycle and due index entry (accounts.upgrade_ops, conditional on the
    account still being lite and open), and the upgrade is marked completed. An account no longer lite
    or open by then only gets the card; the upgrade is marked failed with why."""
    if change.purpose != "upgrade":
        return []
    account = get_account(change.account_id)
    if account.type != "lite" or account.status != "active":
        code = "account-closed" if account.status != "active" else "account-not-lite"
        return [store.set_upgrade(account.id, change.setup_intent_id, store.FAILED, now, failure_code=code)]
    _, ops = upgrade_ops(account, actor, clock.today(), change.setup_intent_id)
    return [*ops, store.set_upgrade(account.id, change.setup_intent_id, "completed", now)]
