"""The rate card and the accounts' negotiated rates: immutable versions, one item each.

A version is put once (put if absent) and never updated; a retirement is a version without a price
(`retired`), currency "*" on the card (it retires every currency of the metric from its date)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pynamodb.attributes import UnicodeAttribute

from functions.core.errors import ConflictError
from functions.core.uow import Op, put_if_absent
from functions.usage.pricing import Price, Tier
from functions.usage.store.base import CARD, UsageItem

ANY_CURRENCY = "*"


class RateVersionExistsError(ConflictError):
    """A version with this effective_from exists: versions are immutable."""

    code = "rate-version-exists"


class RateModel(UsageItem):
    service = UnicodeAttribute()
    metric = UnicodeAttribute()
    currency = UnicodeAttribute()
    effective_from = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    price = UnicodeAttribute(null=True)  # JSON {included, unit_amount_decimal | tiers_mode + tiers}; None: retired
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()


@dataclass(frozen=True)
class RateVersion:
    service: str
    metric: str
    currency: str  # ANY_CURRENCY on a card retirement
    effective_from: date
    description: str | None
    price: Price | None  # None: retired from effective_from
    account_id: str | None  # None: the card
    created_at: str
    created_by: str


def price_json(price: Price) -> str:
    tiers = [
        {
            "up_to": None if t.up_to is None else str(t.up_to),
            "unit_amount_decimal": t.unit_amount_decimal,
            "flat_amount": t.flat_amount,
        }
        for t in price.tiers
    ]
    body = {
        "included": str(price.included),
        "unit_amount_decimal": price.unit_amount_decimal,
        "tiers_mode": price.tiers_mode,
        "tiers": tiers,
    }
    return json.dumps(body, sort_keys=True)


def _price_of(text: str | None) -> Price | None:
    if text is None:
        return None
    body = json.loads(text)
    tiers = tuple(
        Tier(None if t["up_to"] is None else Decimal(t["up_to"]), t["unit_amount_decimal"], t["flat_amount"])
        for t in body["tiers"]
    )
    return Price(Decimal(body["included"]), body["unit_amount_decimal"], body["tiers_mode"], tiers)


def _sk(service: str, metric: str, currency: str, effective_from: date) -> str:
    return f"RATE#{service}#{metric}#{currency}#{effective_from.isoformat()}"


def put_version(version: RateVersion) -> Op:
    model = RateModel(
        version.account_id or CARD,
        _sk(version.service, version.metric, version.currency, version.effective_from),
        service=version.service,
        metric=version.metric,
        currency=version.currency,
        effective_from=version.effective_from.isoformat(),
        description=version.description,
        price=None if version.price is None else price_json(version.price),
        created_at=version.created_at,
        created_by=version.created_by,
    )
    what = (
        f"{version.service}/{version.metric} ({version.currency}) already has a version from {version.effective_from}"
    )
    return put_if_absent(
        model, on_conflict=lambda: RateVersionExistsError(what + "; versions are immutable"), label="rate"
    )


def _record(m: RateModel) -> RateVersion:
    return RateVersion(
        service=m.service,
        metric=m.metric,
        currency=m.currency,
        effective_from=date.fromisoformat(m.effective_from),
        description=m.description,
        price=_price_of(m.price),
        account_id=None if m.pk == CARD else m.pk,
        created_at=m.created_at,
        created_by=m.created_by,
    )


def versions(account_id: str | None = None, service: str | None = None, metric: str | None = None) -> list[RateVersion]:
    """The card's versions (account_id None) or an account's, of one (service, metric) or all: one Query
    (paged by PynamoDB), ordered by service, metric, currency, effective_from."""
    prefix = "RATE#" + "".join(f"{part}#" for part in (service, metric) if part is not None)
    result = RateModel.query(account_id or CARD, RateModel.sk.startswith(prefix), consistent_read=True)
    return [_record(m) for m in result]
