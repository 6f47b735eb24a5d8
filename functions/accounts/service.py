"""Accounts behaviour: creation with a sequential number, members, devices, capabilities, and the
guard every account route uses to decide whether the caller may act on the account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from functions.accounts import lifecycle, store, suppression
from functions.accounts.lifecycle import account_object as account_object
from functions.accounts.rules import DEFAULT_NET_DAYS as DEFAULT_NET_DAYS
from functions.accounts.rules import AccountAccess as AccountAccess
from functions.accounts.rules import check_net_days as check_net_days
from functions.accounts.rules import next_recurring_date as next_recurring_date
from functions.accounts.schemas import Account as Account
from functions.accounts.schemas import UpdateAccount as UpdateAccount
from functions.accounts.schemas import account_view as account_view
from functions.accounts.store import AccountRecord, DeviceRecord, MemberRecord
from functions.core import audit, clock, ledger, outbox
from functions.core.audit import Actor, Event
from functions.core.auth import ADMIN, WRITE, Identity
from functions.core.errors import (
    CapabilityUnavailableError,
    ConcurrentUpdateError,
    ForbiddenError,
    ValidationFailedError,
    found,
)
from functions.core.ids import is_id, new_id
from functions.core.uow import Op, UnitOfWork

BILLABLE = ("payg", "subscription")

# What each capability needs. `capabilities` in the summary and the route guards read this one table.
CAPABILITY_RULES: dict[str, Callable[[AccountRecord], bool]] = {
    "payments": lambda a: a.type in BILLABLE,
    "payment_method": lambda a: a.type in BILLABLE,
    "invoices": lambda a: a.type in BILLABLE,
    "usage": lambda a: a.type in BILLABLE,
    "devices": lambda a: a.linked,
    "billing_items": lambda a: a.type in BILLABLE and a.linked,
}

_NUMBER_ATTEMPTS = 5


def capabilities(account: AccountRecord) -> dict[str, bool]:
    return {name: rule(account) for name, rule in CAPABILITY_RULES.items()}


def require_capability(account: AccountRecord, capability: str) -> None:
    if not CAPABILITY_RULES[capability](account):
        why = "a linked account" if capability == "devices" else "a billable (payg or subscription)"
        if capability == "billing_items":
            why = "a billable, linked"
        raise CapabilityUnavailableError(
            f"{capability} needs {why} account; this one is {account.type}{'' if account.linked else ', not linked'}"
        )


def _not_member() -> ForbiddenError:
    return ForbiddenError("you are not a member of this account", code="not-a-member")


def account_guard(capability: str | None = None) -> Callable[[Identity, dict[str, str], Any], AccountAccess]:
    """The guard for routes under /v1/accounts/{account_id}: operators (billing:admin) act on any
    existing account; everyone else needs a members record, and `owner` to change anything."""

    def guard(identity: Identity, params: dict[str, str], spec: Any) -> AccountAccess:
        account_id = params["account_id"]
        if identity.has(ADMIN):
            account = _found_account(account_id, store.get_account(account_id) if is_id(account_id, "acct") else None)
            access = AccountAccess(account=account, actor=Actor(identity.sub, "operator"), role="operator")
        else:
            if not is_id(account_id, "acct"):
                raise _not_member()
            account, member = store.get_account_and_member(account_id, identity.sub)
            if account is None or member is None:
                raise _not_member()
            if spec.scope == WRITE and member.role != "owner":
                raise ForbiddenError("viewers can read this account but not change it", code="role-insufficient")
            access = AccountAccess(account=account, actor=Actor(identity.sub, "customer"), role=member.role)
        if capability is not None:
            require_capability(access.account, capability)
        return access

    return guard


def due_date(account: AccountRecord, issued_on: date) -> date | None:
    """When a debit invoice issued on `issued_on` is due: `net_days` later on a send_invoice account;
    None on an automatic account (it is collected from the card, DESIGN §3 v4)."""
    if account.collection != "send_invoice":
        return None
    return issued_on + timedelta(days=account.net_days if account.net_days is not None else DEFAULT_NET_DAYS)


def _account_view(record: AccountRecord) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(record).items()}


def create_account(
    actor: Actor,
    *,
    type: str,
    linked: bool,
    currency: str,
    locale: str,
    name: str,
    billing_contact: dict[str, Any],
    billing_day: int | None,
    collection: str | None = None,
    net_days: int | None = None,
) -> AccountRecord:
    """Create an account with the next account number, its zero balance and an audit event, atomically."""
    collection, net_days = _collection_at_creation(type, collection, net_days)
    today = clock.today()
    day = billing_day or min(today.day, 28)
    account_id = new_id("acct")
    for _ in range(_NUMBER_ATTEMPTS):
        current = store.read_account_counter()
        record = AccountRecord(
            id=account_id,
            number=current + 1,
            type=type,
            linked=linked,
            currency=currency,
            locale=locale,
            name=name,
            billing_contact=billing_contact,
            billing_day=day,
            next_recurring_date=next_recurring_date(day, today) if type in BILLABLE else None,
            last_recurring_date=None,
            past_due=False,
            created_at=clock.iso(clock.now()),
            collection=collection,
            net_days=net_days,
        )
        uow = UnitOfWork().add(
            store.allocate_account_number(current),
            store.put_account(record),
            ledger.open_balance(account_id, currency, record.number),
            audit.record(account_id, actor, "account.created", account_id, None, _account_view(record)),
            outbox.event(account_id, "account.created", account_object(record)),
        )
        try:
            uow.commit()
            return record
        except ConcurrentUpdateError:
            continue  # another account took this number first: read the counter again
    raise ConcurrentUpdateError("too many accounts are being created at once; retry")


def _collection_at_creation(type: str, collection: str | None, net_days: int | None) -> tuple[str | None, int | None]:
    """How a new account pays (DESIGN §3 v4): payg always automatic, lite never billed (either field on
    them → 422 `collection-not-allowed`); subscription send_invoice net 30 unless told otherwise."""
    if type != "subscription":
        if collection is not None or net_days is not None:
            raise ValidationFailedError(
                f"{type} accounts {'are always collected automatically' if type == 'payg' else 'are not billed'}:"
                " collection and net_days are for subscription accounts",
                code="collection-not-allowed",
            )
        return ("automatic" if type == "payg" else None), None
    collection = collection or "send_invoice"
    return collection, check_net_days(collection, net_days)


def get_account(account_id: str) -> AccountRecord:
    """The account, or 404 `account-not-found`."""
    return _found_account(account_id, store.get_account(account_id))


def _found_account(account_id: str, account: AccountRecord | None) -> AccountRecord:
    return found(account, f"no account {account_id}", code="account-not-found")


def grant_member(access: AccountAccess, sub: str, role: str) -> MemberRecord:
    """Give `sub` access to the account in `role` (replacing a previous role)."""
    before = store.get_member(access.account.id, sub)
    record = MemberRecord(account_id=access.account.id, sub=sub, role=role, granted_at=clock.iso(clock.now()))
    if before is not None and before.role == role:
        return before
    UnitOfWork().add(
        store.put_member(record),
        audit.record(
            access.account.id, access.actor, "member.granted", sub, asdict(before) if before else None, asdict(record)
        ),
    ).commit()
    return record


def revoke_member(access: AccountAccess, sub: str) -> MemberRecord:
    """Remove `sub`'s access; their next request on this account is 403."""
    before = found(
        store.get_member(access.account.id, sub), f"{sub} is not a member of this account", code="member-not-found"
    )
    UnitOfWork().add(
        store.delete_member(access.account.id, sub),
        audit.record(access.account.id, access.actor, "member.revoked", sub, asdict(before), None),
    ).commit()
    return before


def create_device(access: AccountAccess, name: str, kind: str) -> DeviceRecord:
    record = DeviceRecord(id=new_id("dev"), name=name, kind=kind, created_at=clock.iso(clock.now()))
    UnitOfWork().add(
        store.put_device(access.account.id, record),
        audit.record(access.account.id, access.actor, "device.created", record.id, None, asdict(record)),
    ).commit()
    return record


def get_device(account_id: str, device_id: str) -> DeviceRecord:
    """One device of this account; another account's device id is 404."""
    device = store.get_device(account_id, device_id) if is_id(device_id, "dev") else None
    return found(device, f"no device {device_id} on this account", code="device-not-found")


def list_devices(account_id: str, limit: int, cursor: str | None, route: str) -> tuple[list[DeviceRecord], str | None]:
    return store.list_devices(account_id, limit, cursor, route)


def list_events(account_id: str, limit: int, cursor: str | None, route: str) -> tuple[list[Event], str | None]:
    return audit.list_events(account_id, limit, cursor, route)


def previous_recurring_date(billing_day: int, on: date) -> date:
    """The recurring date one cycle before `on` (a recurring date): the same billing day a month earlier."""
    year, month = (on.year - 1, 12) if on.month == 1 else (on.year, on.month - 1)
    return date(year, month, billing_day)


def current_period(account: AccountRecord) -> tuple[date, date]:
    """The billing period the account is in: [previous recurring date, next recurring date)."""
    end = account.next_recurring_date
    if end is None:
        raise CapabilityUnavailableError("this account has no billing cycle")
    return previous_recurring_date(account.billing_day, end), end


# ---- the billing cycle, for the monthly run -------------------------------------------------------

SHARDS = store.SHARDS
RetryEntry = store.RetryEntry


def due_accounts(
    kind: str, shard: int, run_date: date, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[str], dict[str, Any] | None]:
    """A page of accounts of `shard` whose recurring date (kind `due`) or dunning retry (kind `retry`)
    is on or before `run_date`; a Query on the sparse due index, never a Scan."""
    return store.due_page(kind, shard, run_date, limit, last_key)


def advance_cycle(account: AccountRecord, billed_on: date) -> Op:
    """The op that moves the account past the period billed on `billed_on` (its recurring date)."""
    return store.advance_cycle(account.id, billed_on, next_recurring_date(account.billing_day, billed_on), billed_on)


def set_collection_method(account_id: str, method: str) -> Op:
    """The op that stores a pre-v4 subscription account's collection method (DESIGN §3 v4 migration: the
    payments domain decides it, it knows the card)."""
    return store.set_collection(account_id, method)


def get_retry(account_id: str) -> RetryEntry | None:
    return store.get_retry(account_id)


def schedule_retry(entry: RetryEntry) -> Op:
    return store.put_retry(entry)


def clear_retry(account_id: str) -> Op:
    return store.delete_retry(account_id)


def scheduled(kind: str, account_id: str) -> date | None:
    """The date of the account's `kind` entry on the due index (store.SCHEDULE_KINDS), if any."""
    return store.get_schedule(kind, account_id)


def schedule(kind: str, account_id: str, on: date, *, only_if_earlier: bool = False) -> Op:
    """Put the account's `kind` entry on the due index at `on`: the shard workers find it on that day."""
    return store.put_schedule(kind, account_id, on, only_if_earlier=only_if_earlier)


def unschedule(kind: str, account_id: str) -> Op:
    return store.delete_schedule(kind, account_id)


# ---- the lifecycle (accounts/lifecycle.py): PATCH, link, upgrade, closure --------------------------

CLOSED = lifecycle.CLOSED
CLOSING = lifecycle.CLOSING
account_closed = lifecycle.account_closed
require_open = lifecycle.require_open
planned_update = lifecycle.planned_update
update_account = lifecycle.update_account
set_linked = lifecycle.set_linked
upgrade_ops = lifecycle.upgrade_ops
closing_ops = lifecycle.closing_ops
closed_ops = lifecycle.closed_ops


def handle_ses_feedback(body: dict[str, Any]) -> None:
    """The `ses-feedback` consumer's work: an SES bounce or complaint (functions/accounts/suppression.py)."""
    suppression.handle_feedback(body)
