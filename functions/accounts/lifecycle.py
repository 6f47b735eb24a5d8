"""The account's life after creation (DESIGN §2 v4 routes, §3 v4 Collection and Closure): profile
changes (PATCH), link and unlink, the Lite → payg upgrade's flip, and the closing and closed states.

Accounts come first in the dependency order, so what needs a later domain is passed in: whether the
account has a valid card (payments), whether it has active items (billing_items), the ops of the
same transaction. Each change is one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import Any

from functions.accounts import profile_store as store
from functions.accounts.rules import AccountAccess, check_net_days, next_recurring_date
from functions.accounts.schemas import account_view
from functions.accounts.store import AccountRecord
from functions.core import audit, clock, outbox
from functions.core.audit import Actor
from functions.core.errors import ConflictError, FieldError, ForbiddenError, ValidationFailedError
from functions.core.uow import Op, UnitOfWork

OPEN = "active"
CLOSING = "closing"
CLOSED = "closed"
OWNER_FIELDS = ("name", "billing_contact", "locale", "invoice_emails")
OPERATOR_FIELDS = ("collection", "net_days")


def account_closed(account: AccountRecord, what: str) -> ConflictError:
    return ConflictError(
        f"account {account.id} is {account.status}: {what} is no longer possible (reads keep working)",
        code="account-closed",
    )


def require_open(account: AccountRecord, what: str) -> None:
    """409 `account-closed` when the account is closing or closed (no new items, charges, links)."""
    if account.status != OPEN:
        raise account_closed(account, what)


def _view(record: AccountRecord, fields: Sequence[str]) -> dict[str, Any]:
    data = asdict(record)
    return {f: data[f] for f in fields}


def planned_update(access: AccountAccess, changes: dict[str, Any]) -> tuple[AccountRecord, dict[str, Any]]:
    """The account after a PATCH (`changes`: the fields the caller sent), and what changed. Customers
    may change name, billing contact, locale and invoice_emails (403 `operator-only-field` for the
    rest); collection and net_days are subscription-only, refused on closing or closed accounts."""
    account = access.account
    if not changes:
        raise ValidationFailedError("send at least one field to change", code="nothing-to-update")
    nulls = [FieldError(name, "may not be null") for name, value in changes.items() if value is None]
    if nulls:
        raise ValidationFailedError("a field cannot be removed; send its new value", errors=nulls)
    operator_only = [f for f in OPERATOR_FIELDS if f in changes]
    if operator_only and access.role != "operator":
        raise ForbiddenError(
            f"only operators change {', '.join(operator_only)}",
            code="operator-only-field",
            errors=[FieldError(f, "operators only") for f in operator_only],
        )
    values = {k: v for k, v in changes.items() if k in OWNER_FIELDS}
    if operator_only:
        values |= _collection_change(account, changes)
    after = replace(account, **values)
    return after, {k: v for k, v in values.items() if getattr(account, k) != v}


def _collection_change(account: AccountRecord, changes: dict[str, Any]) -> dict[str, Any]:
    if account.type != "subscription":
        raise ValidationFailedError(
            f"{account.type} accounts have no choice of collection; it is for subscription accounts",
            code="collection-not-allowed",
        )
    require_open(account, "changing how it pays")
    collection = changes.get("collection", account.collection) or "send_invoice"
    net_days = changes.get("net_days")
    if net_days is None and collection == "send_invoice":
        net_days = account.net_days
    return {"collection": collection, "net_days": check_net_days(collection, net_days)}


def account_object(record: AccountRecord) -> dict[str, Any]:
    """The account as outbound events carry it (account.*): as the API shows it."""
    return account_view(record).model_dump(mode="json")


def update_account(
    access: AccountAccess, after: AccountRecord, changed: dict[str, Any], extra: Sequence[Op] = ()
) -> AccountRecord:
    """Store a planned PATCH with its audit event (before/after of the changed fields), in one
    transaction with `extra`; nothing changed → nothing written."""
    if not changed:
        return after
    account = access.account
    UnitOfWork().add(
        store.update_profile(account.id, changed, expect={"status": account.status}),
        audit.record(account.id, access.actor, "account.updated", account.id, _view(account, changed), changed),
        outbox.event(account.id, "account.updated", account_object(after)),
        *extra,
    ).commit()
    return after


def set_linked(access: AccountAccess, linked: bool, has_active_items: Callable[[str], bool]) -> AccountRecord:
    """Link (409 `account-closed` while closing or closed) or unlink (409 `items-active` while items are
    not cancelled) the account's infrastructure side; the same state again changes nothing."""
    account = access.account
    if linked:
        require_open(account, "linking it")
    if account.linked == linked:
        return account
    if not linked and has_active_items(account.id):
        raise ConflictError(
            "the account still has billing items that are not cancelled; cancel them before unlinking",
            code="items-active",
        )
    after = replace(account, linked=linked)
    expect = {"status": account.status, "linked": account.linked}
    UnitOfWork().add(
        store.update_profile(account.id, {"linked": linked}, expect=expect),
        audit.record(
            account.id,
            access.actor,
            "account.linked" if linked else "account.unlinked",
            account.id,
            {"linked": account.linked},
            {"linked": linked},
        ),
        outbox.event(account.id, "account.updated", account_object(after)),
    ).commit()
    return after


# ---- upgrade: Lite → payg, when the upgrade's card validates (payments/cards.py) -------------------


def upgraded(account: AccountRecord, on: date) -> AccountRecord:
    """The account as the upgrade makes it: payg, linked, collected automatically, its billing cycle
    starting today (billing day = today's day, capped at 28, as for a new account)."""
    day = min(on.day, 28)
    return replace(
        account,
        type="payg",
        linked=True,
        collection="automatic",
        net_days=None,
        billing_day=day,
        next_recurring_date=next_recurring_date(day, on),
    )


def upgrade_ops(account: AccountRecord, actor: Actor, on: date, reason: str) -> tuple[AccountRecord, list[Op]]:
    """The ops that flip a lite account to payg (only while it is still lite and open: a redelivery or
    a second worker fails the condition), with its due index entry and the audit event."""
    after = upgraded(account, on)
    fields = ("type", "linked", "collection", "billing_day", "next_recurring_date")
    values = _view(after, fields)
    ops = [
        store.update_profile(
            account.id,
            values | {"net_days": None},
            expect={"type": "lite", "status": OPEN},
            due=after.next_recurring_date,
        ),
        audit.record(account.id, actor, "account.upgraded", reason, _view(account, fields), values),
        outbox.event(account.id, "account.upgraded", account_object(after)),
    ]
    return after, ops


# ---- closure ---------------------------------------------------------------------------------------


def closing_ops(access: AccountAccess, when: str) -> list[Op]:
    """The account becomes `closing` (only from active: 409 `account-closed` otherwise), audited."""
    account = access.account
    require_open(account, "closing it again")
    return [
        store.update_profile(account.id, {"status": CLOSING}, expect={"status": OPEN}),
        audit.record(
            account.id,
            access.actor,
            "account.closing",
            account.id,
            {"status": account.status},
            {"status": CLOSING, "when": when},
        ),
        outbox.event(account.id, "account.updated", account_object(replace(account, status=CLOSING))),
    ]


def closed_ops(account: AccountRecord, actor: Actor, final_invoice_id: str | None) -> list[Op]:
    """The account becomes `closed` and leaves the due index (only from closing): in the final
    invoice's transaction, so no run bills it again."""
    return [
        store.update_profile(
            account.id,
            {"status": CLOSED, "next_recurring_date": None},
            expect={"status": CLOSING},
            due=None,
        ),
        audit.record(
            account.id,
            actor,
            "account.closed",
            account.id,
            {"status": CLOSING},
            {"status": CLOSED, "final_invoice_id": final_invoice_id, "closed_on": clock.today().isoformat()},
        ),
        outbox.event(
            account.id,
            "account.closed",
            account_object(replace(account, status=CLOSED, next_recurring_date=None))
            | {"final_invoice_id": final_invoice_id},
        ),
    ]
