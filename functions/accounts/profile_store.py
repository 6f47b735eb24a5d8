"""The account profile's changes after creation (accounts/lifecycle.py: PATCH, link, upgrade, closing
and closed): one conditional update of the profile item, on or off the due index. The model stays in the
accounts store; this module only builds the op."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from functions.accounts.store import PROFILE, AccountRecord, AccountsModel, account_record, contact_key, shard_of
from functions.core.errors import ConflictError
from functions.core.uow import Op

_CONFLICT_CODES = {"status": "account-closed", "type": "account-not-lite"}


def update_profile(
    account_id: str,
    values: dict[str, Any],
    *,
    expect: dict[str, Any] | None = None,
    due: date | bool | None = False,
) -> Op:
    """Set profile fields (`None` removes one) only while the account is as `expect`ed (a field's stored
    value; `status` "active" also matches an account created before v4, which has none). `due`: a date
    puts the profile on the due index at that date; None takes it off; False leaves it."""
    actions = []
    for name, value in values.items():
        attr = getattr(AccountsModel, name)
        if value is None:
            actions.append(attr.remove())
            continue
        stored = json.dumps(value, sort_keys=True) if name == "billing_contact" else value
        actions.append(attr.set(stored.isoformat() if isinstance(stored, date) else stored))
        if name == "billing_contact":
            key = contact_key(value)
            actions.append(AccountsModel.contact_pk.set(key) if key else AccountsModel.contact_pk.remove())
    if due is None:
        actions += [AccountsModel.due_pk.remove(), AccountsModel.due_sk.remove()]
    elif due is not False:
        assert isinstance(due, date)
        actions += [
            AccountsModel.due_pk.set(f"due#{shard_of(account_id)}"),
            AccountsModel.due_sk.set(f"{due.isoformat()}#{account_id}"),
        ]
    condition = AccountsModel.pk.exists()
    for name, value in (expect or {}).items():
        matches = getattr(AccountsModel, name) == value
        if name == "status" and value == "active":
            matches = matches | AccountsModel.status.does_not_exist()
        condition = condition & matches
    field = next(iter(expect or {}), "")
    return Op(
        "update",
        AccountsModel(account_id, PROFILE),
        actions=actions,
        condition=condition,
        on_conflict=lambda: ConflictError(
            f"the account changed while this request ran ({field})",
            code=_CONFLICT_CODES.get(field, "concurrent-update"),
        ),
        label="profile",
    )


def accounts_with_contact(address: str) -> list[AccountRecord]:
    """Every account whose billing contact's e-mail is `address` (case aside): the `by_contact` index's
    keys, then the profiles in BatchGetItems. An account created before the index existed is found once
    its billing contact is written again (docs/operations.md, "E-mail suppressed")."""
    key = contact_key({"email": address})
    if key is None:
        return []
    ids = sorted({m.pk for m in AccountsModel.by_contact.query(key)})
    return sorted(
        (account_record(m) for m in AccountsModel.batch_get([(i, PROFILE) for i in ids])), key=lambda a: a.number
    )
