"""The rate card (DESIGN §3 v4 Rate card): operators set the price of each (service, metric) per currency
as immutable versions; an account's negotiated rate (versioned too) comes before the card. A billing
period uses the version in force on its first day.

- `set_rate` adds a version (the card's, or an account's with `account`); `retire_rate` adds a
  retirement from a date (the card: every currency of the metric; an account: back to the card).
- `effective_from` is ≥ today (UTC); only the first version of a (service, metric, currency) on the card
  may start in the past — no usage can have been priced by it. Versions are never changed: a second
  version on the same date is 409 `rate-version-exists`.
- `RateBook` answers "which version prices this line", reading each (service, metric) of the card and
  each account's own rates once."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from functions.accounts.service import AccountRecord
from functions.core import audit, clock
from functions.core.audit import Actor
from functions.core.errors import FieldError, NotFoundError, ValidationFailedError
from functions.core.uow import UnitOfWork
from functions.usage import rate_schemas as schemas
from functions.usage.pricing import Price, Tier
from functions.usage.store import rates as store
from functions.usage.store.rates import ANY_CURRENCY, RateVersion

CARD_AUDIT = "ratecard"  # the audit partition of the card's changes (an account's go to the account's)
_NAME = r"[A-Za-z0-9_.:/-]{1,64}"


def check_name(service: str, metric: str) -> None:
    bad = [
        FieldError(f, "1-64 of A-Z a-z 0-9 _ . : / -")
        for f, v in (("service", service), ("metric", metric))
        if not re.fullmatch(_NAME, v)
    ]
    if bad:
        raise ValidationFailedError("not a service or metric name", errors=bad)


def price_of(body: schemas.RateIn) -> Price:
    tiers = tuple(
        Tier(None if t.up_to is None else Decimal(str(t.up_to)), t.unit_amount_decimal, t.flat_amount)
        for t in body.tiers or ()
    )
    return Price(Decimal(str(body.included_quantity)), body.unit_amount_decimal, body.tiers_mode, tiers)


def version_view(v: RateVersion) -> schemas.RateVersion:
    p = v.price
    tiers = None
    if p is not None and p.tiers_mode is not None:
        tiers = [
            schemas.Tier(
                up_to=None if t.up_to is None else str(t.up_to),
                unit_amount_decimal=t.unit_amount_decimal,
                flat_amount=t.flat_amount,
            )
            for t in p.tiers
        ]
    return schemas.RateVersion(
        service=v.service,
        metric=v.metric,
        currency=v.currency,
        effective_from=v.effective_from,
        description=v.description,
        included_quantity=None if p is None else str(p.included),
        unit_amount_decimal=None if p is None else p.unit_amount_decimal,
        tiers_mode=None if p is None else p.tiers_mode,
        tiers=tiers,
        retired=p is None,
        account_id=v.account_id,
        created_at=v.created_at,
    )


def _starts(effective_from: date | None, *, past_allowed: bool) -> date:
    today = clock.today()
    start = effective_from or today
    if start < today and not past_allowed:
        raise ValidationFailedError(
            f"effective_from {start} is in the past: a version starts today ({today}) or later",
            code="effective-from-in-the-past",
            errors=[FieldError("effective_from", "today (UTC) or later")],
        )
    return start


def set_rate(
    actor: Actor, service: str, metric: str, body: schemas.RateIn, account: AccountRecord | None = None
) -> schemas.RateVersion:
    """Add a version to the card, or to `account`'s negotiated rates (in the account's currency)."""
    check_name(service, metric)
    if account is not None:
        currency = body.currency or account.currency
        if currency != account.currency:
            raise ValidationFailedError(
                f"this account is billed in {account.currency}; omit currency or send {account.currency}",
                code="currency-mismatch",
            )
    elif body.currency is None:
        raise ValidationFailedError("the card's rates name their currency", errors=[FieldError("currency", "required")])
    else:
        currency = body.currency
    account_id = None if account is None else account.id
    existing = [v for v in store.versions(account_id, service, metric) if v.currency == currency]
    start = _starts(body.effective_from, past_allowed=account is None and not existing)
    version = RateVersion(
        service, metric, currency, start, body.description, price_of(body), account_id, clock.iso(clock.now()), actor.id
    )
    return _commit(actor, version, "rate.versioned")


def retire_rate(
    actor: Actor, service: str, metric: str, effective_from: date | None, account: AccountRecord | None = None
) -> schemas.RateVersion:
    """Retire the card's (service, metric) from a date (every currency), or end `account`'s own rate."""
    check_name(service, metric)
    account_id = None if account is None else account.id
    if not store.versions(account_id, service, metric):
        where = "on the rate card" if account is None else "negotiated for this account"
        raise NotFoundError(f"no rate {service}/{metric} {where}", code="rate-not-found")
    start = _starts(effective_from, past_allowed=False)
    currency = ANY_CURRENCY if account is None else account.currency
    version = RateVersion(service, metric, currency, start, None, None, account_id, clock.iso(clock.now()), actor.id)
    return _commit(actor, version, "rate.retired")


def _commit(actor: Actor, version: RateVersion, action: str) -> schemas.RateVersion:
    view = version_view(version)
    target = f"{version.service}/{version.metric}"
    UnitOfWork().add(
        store.put_version(version),
        audit.record(version.account_id or CARD_AUDIT, actor, action, target, None, view.model_dump(mode="json")),
    ).commit()
    return view


def rate_card() -> schemas.RateCard:
    """Every (service, metric) of the card with its versions, oldest first (one Query)."""
    metrics: dict[tuple[str, str], list[schemas.RateVersion]] = {}
    for v in store.versions():
        metrics.setdefault((v.service, v.metric), []).append(version_view(v))
    data = [
        schemas.RateMetric(service=s, metric=m, versions=sorted(vs, key=lambda x: (x.effective_from, x.created_at)))
        for (s, m), vs in metrics.items()
    ]
    return schemas.RateCard(data=data)


@dataclass(frozen=True)
class Rate:
    """The version that prices a line: its price and the description for the invoice line."""

    price: Price
    description: str
    version: RateVersion


def _in_force(versions: list[RateVersion], on: date) -> RateVersion | None:
    started = [v for v in versions if v.effective_from <= on]
    return max(started, key=lambda v: (v.effective_from, v.created_at)) if started else None


class RateBook:
    """The rates in force, read once per (service, metric) of the card and once per account."""

    def __init__(self) -> None:
        self._card: dict[tuple[str, str], list[RateVersion]] = {}
        self._accounts: dict[str, list[RateVersion]] = {}

    def rate(self, account_id: str, currency: str, service: str, metric: str, period_start: date) -> Rate | None:
        """The account's own version in force on `period_start`, else the card's; None when neither
        prices (service, metric) in `currency` then (never set, or retired)."""
        if account_id not in self._accounts:
            self._accounts[account_id] = store.versions(account_id)
        own = [
            v for v in self._accounts[account_id] if (v.service, v.metric, v.currency) == (service, metric, currency)
        ]
        chosen = _in_force(own, period_start)
        if chosen is None or chosen.price is None or chosen.description is None:
            if (service, metric) not in self._card:
                self._card[(service, metric)] = store.versions(None, service, metric)
            card = [v for v in self._card[(service, metric)] if v.currency in (currency, ANY_CURRENCY)]
            on_card = _in_force(card, period_start)
            if chosen is None or chosen.price is None:
                chosen = on_card
            elif on_card is not None and on_card.description:  # a negotiated rate keeps the card's text
                chosen = replace(chosen, description=on_card.description)
        if chosen is None or chosen.price is None:
            return None
        return Rate(chosen.price, chosen.description or f"{service} · {metric}", chosen)
