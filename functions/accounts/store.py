"""Accounts table: profiles, members, devices and the account-number counter. Models stay here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute
from pynamodb.models import Model

from functions.core import cursor, suppressions
from functions.core.db import IntegerAttribute, SpecIndex, get_or_none, index_meta, meta, one_page
from functions.core.errors import ConcurrentUpdateError, ConflictError
from functions.core.uow import Op, put_if_absent

PROFILE = "PROFILE"
MEMBER = "MEMBER#"
DEVICE = "DEVICE#"
COUNTER_PK = "COUNTER"
COUNTER_SK = "account_number"
RETRY = "RETRY"
SHARDS = 32


def shard_of(account_id: str) -> int:
    """The account's shard of the due index (stable: a hash of its id)."""
    return int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16) % SHARDS


class DueIndex(SpecIndex):
    Meta = index_meta("accounts", "due")
    due_pk = UnicodeAttribute(hash_key=True)  # due#<shard> | retry#<shard>
    due_sk = UnicodeAttribute(range_key=True)  # <date>#<account>


class ContactIndex(SpecIndex):
    Meta = index_meta("accounts", "by_contact")
    contact_pk = UnicodeAttribute(hash_key=True)  # contact#<e-mail, lower-cased>


def contact_key(billing_contact: dict[str, Any]) -> str | None:
    """The profile's `by_contact` key: its billing contact's e-mail as SES reports it (lower-cased)."""
    address = suppressions.address_key(str(billing_contact.get("email") or ""))
    return f"contact#{address}" if address else None


class AccountsModel(Model):
    """One table, several item kinds told apart by the sort key (PROFILE, MEMBER#sub, DEVICE#id)."""

    Meta = meta("accounts")
    pk = UnicodeAttribute(hash_key=True)  # account id (or COUNTER)
    sk = UnicodeAttribute(range_key=True)
    # profile
    number = IntegerAttribute(null=True)
    type = UnicodeAttribute(null=True)
    linked = BooleanAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    billing_contact = UnicodeAttribute(null=True)  # JSON
    billing_day = IntegerAttribute(null=True)
    next_recurring_date = UnicodeAttribute(null=True)
    last_recurring_date = UnicodeAttribute(null=True)
    past_due = BooleanAttribute(null=True)  # v3's flag, no longer written: past due lives with the balance
    created_at = UnicodeAttribute(null=True)
    # v4 (absent on accounts created before v4: see AccountRecord)
    collection = UnicodeAttribute(null=True)  # automatic | send_invoice
    net_days = IntegerAttribute(null=True)
    invoice_emails = BooleanAttribute(null=True)
    status = UnicodeAttribute(null=True)  # active | closing | closed
    # member
    sub = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    granted_at = UnicodeAttribute(null=True)
    # device
    device_id = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    # counter
    value = IntegerAttribute(null=True)
    # due index (profiles of billable accounts; dunning retry entries)
    due_pk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)
    attempt = IntegerAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)
    due = DueIndex()
    contact_pk = UnicodeAttribute(null=True)
    by_contact = ContactIndex()


@dataclass(frozen=True)
class AccountRecord:
    id: str
    number: int
    type: str
    linked: bool
    currency: str
    locale: str
    name: str
    billing_contact: dict[str, Any]
    billing_day: int
    next_recurring_date: date | None
    last_recurring_date: date | None
    past_due: bool
    created_at: str
    # How the account pays its debit invoices (DESIGN §3 v4 Collection): "automatic" (collected
    # off-session from the card on file) or "send_invoice" (e-mailed with a due date, `net_days` after
    # issue). None on lite accounts, and on subscription accounts created before v4 until they migrate
    # (automatic when they have a card, else send_invoice: the payments domain decides, it knows cards).
    collection: str | None = None
    net_days: int | None = None
    invoice_emails: bool = True  # every invoice e-mailed when issued (send_invoice debits always are)
    status: str = "active"  # active | closing | closed (DESIGN §3 v4 Closure)


@dataclass(frozen=True)
class MemberRecord:
    account_id: str
    sub: str
    role: str
    granted_at: str


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    name: str
    kind: str
    created_at: str


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def account_record(m: AccountsModel) -> AccountRecord:
    return AccountRecord(
        id=m.pk,
        number=m.number or 0,
        type=m.type or "",
        linked=bool(m.linked),
        currency=m.currency or "",
        locale=m.locale or "en",
        name=m.name or "",
        billing_contact=json.loads(m.billing_contact or "{}"),
        billing_day=m.billing_day or 1,
        next_recurring_date=_date(m.next_recurring_date),
        last_recurring_date=_date(m.last_recurring_date),
        past_due=bool(m.past_due),
        created_at=m.created_at or "",
        collection=m.collection or ("automatic" if m.type == "payg" else None),
        net_days=m.net_days,
        invoice_emails=m.invoice_emails is not False,
        status=m.status or "active",
    )


def _member(m: AccountsModel) -> MemberRecord:
    return MemberRecord(account_id=m.pk, sub=m.sub or "", role=m.role or "", granted_at=m.granted_at or "")


def _device(m: AccountsModel) -> DeviceRecord:
    return DeviceRecord(id=m.device_id or "", name=m.name or "", kind=m.kind or "", created_at=m.created_at or "")


def get_account(account_id: str) -> AccountRecord | None:
    m = get_or_none(AccountsModel, account_id, PROFILE)
    return None if m is None else account_record(m)


def get_account_and_member(account_id: str, sub: str) -> tuple[AccountRecord | None, MemberRecord | None]:
    """Both in one BatchGetItem: the guard of every customer route costs one DynamoDB call."""
    account = member = None
    for m in AccountsModel.batch_get([(account_id, PROFILE), (account_id, MEMBER + sub)]):
        if m.sk == PROFILE:
            account = account_record(m)
        else:
            member = _member(m)
    return account, member


def read_account_counter() -> int:
    m = get_or_none(AccountsModel, COUNTER_PK, COUNTER_SK, consistent_read=True)
    return 0 if m is None else m.value or 0


def allocate_account_number(expected: int) -> Op:
    """Move the counter from `expected` to expected + 1; fails if another account took that number."""
    model = AccountsModel(COUNTER_PK, COUNTER_SK, value=expected + 1)
    condition = AccountsModel.pk.does_not_exist() if expected == 0 else AccountsModel.value == expected
    return Op(
        "put",
        model,
        condition=condition,
        on_conflict=lambda: ConcurrentUpdateError("another account took this number; retry"),
        label="counter",
    )


# The profile fields a new account's item stores as they are in its record.
_PROFILE_FIELDS = (
    "number",
    "type",
    "linked",
    "currency",
    "locale",
    "name",
    "billing_day",
    "created_at",
    "collection",
    "net_days",
    "invoice_emails",
    "status",
)


def put_account(record: AccountRecord) -> Op:
    """A new account's profile (not yet billed, not past due), on the due index when it is billable."""
    model = AccountsModel(
        record.id,
        PROFILE,
        **{name: getattr(record, name) for name in _PROFILE_FIELDS},
        billing_contact=json.dumps(record.billing_contact, sort_keys=True),
        next_recurring_date=record.next_recurring_date.isoformat() if record.next_recurring_date else None,
        last_recurring_date=None,
        past_due=False,
        contact_pk=contact_key(record.billing_contact),
    )
    if record.next_recurring_date is not None:
        model.due_pk = f"due#{shard_of(record.id)}"
        model.due_sk = f"{record.next_recurring_date.isoformat()}#{record.id}"
    return put_if_absent(model, label="account")


def advance_cycle(account_id: str, expected_next: date, new_next: date, last: date) -> Op:
    """Move the account to its next billing period, only if it is still in the one that was billed:
    a re-run or a second worker for the same period fails this condition and posts nothing."""
    model = AccountsModel(account_id, PROFILE)
    actions = [
        AccountsModel.next_recurring_date.set(new_next.isoformat()),
        AccountsModel.last_recurring_date.set(last.isoformat()),
        AccountsModel.due_sk.set(f"{new_next.isoformat()}#{account_id}"),
    ]
    return Op(
        "update",
        model,
        actions=actions,
        condition=AccountsModel.next_recurring_date == expected_next.isoformat(),
        on_conflict=lambda: ConflictError(
            f"account {account_id} was already billed for {expected_next}", code="already-billed"
        ),
        label="cycle",
    )


def set_collection(account_id: str, method: str) -> Op:
    """Store a pre-v4 subscription account's collection method, once (only while none is stored)."""
    return Op(
        "update",
        AccountsModel(account_id, PROFILE),
        actions=[AccountsModel.collection.set(method)],
        condition=AccountsModel.pk.exists() & AccountsModel.collection.does_not_exist(),
        on_conflict=lambda: ConcurrentUpdateError("the account's collection method was set meanwhile"),
        label="collection",
    )


@dataclass(frozen=True)
class RetryEntry:
    account_id: str
    on: date
    attempt: int
    invoice_id: str


def get_retry(account_id: str) -> RetryEntry | None:
    m = get_or_none(AccountsModel, account_id, RETRY, consistent_read=True)
    if m is None:
        return None
    return RetryEntry(
        account_id, date.fromisoformat((m.due_sk or "").split("#")[0]), m.attempt or 0, m.invoice_id or ""
    )


def put_retry(entry: RetryEntry) -> Op:
    """The account's next dunning retry (one at a time), found by the shard workers on its date."""
    model = AccountsModel(
        entry.account_id,
        RETRY,
        due_pk=f"retry#{shard_of(entry.account_id)}",
        due_sk=f"{entry.on.isoformat()}#{entry.account_id}",
        attempt=entry.attempt,
        invoice_id=entry.invoice_id,
    )
    return Op("put", model, label="retry")


def delete_retry(account_id: str) -> Op:
    return Op("delete", AccountsModel(account_id, RETRY), label="retry")


# Other dated entries of an account on the due index, one per kind (sort key = the kind in capitals;
# due_pk = <kind>#<shard>): "remind" = the next day a send_invoice invoice of the account needs a
# reminder or its past-due mark (DESIGN §3 v4).
SCHEDULE_KINDS = ("remind",)


def get_schedule(kind: str, account_id: str) -> date | None:
    m = get_or_none(AccountsModel, account_id, kind.upper(), consistent_read=True)
    return None if m is None or not m.due_sk else date.fromisoformat(m.due_sk.split("#")[0])


def put_schedule(kind: str, account_id: str, on: date, *, only_if_earlier: bool = False) -> Op:
    """The account's `kind` entry on the due index, dated `on`; with `only_if_earlier`, only when no
    entry is dated before it (the op then fails, harmlessly, with ConflictError)."""
    due_sk = f"{on.isoformat()}#{account_id}"
    model = AccountsModel(account_id, kind.upper(), due_pk=f"{kind}#{shard_of(account_id)}", due_sk=due_sk)
    condition = (AccountsModel.pk.does_not_exist() | (AccountsModel.due_sk > due_sk)) if only_if_earlier else None
    return Op(
        "put",
        model,
        condition=condition,
        on_conflict=lambda: ConflictError(f"{account_id} has an earlier {kind} entry", code="scheduled-earlier"),
        label=kind,
    )


def delete_schedule(kind: str, account_id: str) -> Op:
    return Op("delete", AccountsModel(account_id, kind.upper()), label=kind)


def due_page(
    kind: str, shard: int, run_date: date, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[str], dict[str, Any] | None]:
    """One page of account ids due on or before `run_date` in a shard (`kind` = due | retry)."""
    result = AccountsModel.due.query(
        f"{kind}#{shard}", AccountsModel.due_sk <= f"{run_date.isoformat()}#~", limit=limit, last_evaluated_key=last_key
    )
    models, last = one_page(result, AccountsModel)
    return [m.pk for m in models], last


def get_member(account_id: str, sub: str) -> MemberRecord | None:
    m = get_or_none(AccountsModel, account_id, MEMBER + sub, consistent_read=True)
    return None if m is None else _member(m)


def put_member(record: MemberRecord) -> Op:
    model = AccountsModel(
        record.account_id, MEMBER + record.sub, sub=record.sub, role=record.role, granted_at=record.granted_at
    )
    return Op("put", model, label="member")  # grant is an upsert: a new role replaces the old


def delete_member(account_id: str, sub: str) -> Op:
    return Op(
        "delete",
        AccountsModel(account_id, MEMBER + sub),
        condition=AccountsModel.sk.exists(),
        on_conflict=lambda: ConflictError("the member was already revoked", code="member-not-found"),
        label="member",
    )


def put_device(account_id: str, record: DeviceRecord) -> Op:
    model = AccountsModel(
        account_id,
        DEVICE + record.id,
        device_id=record.id,
        name=record.name,
        kind=record.kind,
        created_at=record.created_at,
    )
    return put_if_absent(model, label="device")


def get_device(account_id: str, device_id: str) -> DeviceRecord | None:
    m = get_or_none(AccountsModel, account_id, DEVICE + device_id)
    return None if m is None else _device(m)


def list_devices(account_id: str, limit: int, after: str | None, route: str) -> tuple[list[DeviceRecord], str | None]:
    last_key = cursor.decode(after, account_id, route, {})
    result = AccountsModel.query(
        account_id, AccountsModel.sk.startswith(DEVICE), limit=limit, last_evaluated_key=last_key
    )
    devices = [_device(m) for m in result]
    return devices, cursor.encode(account_id, route, {}, result.last_evaluated_key)
