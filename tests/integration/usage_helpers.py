"""Setting rates for tests that post usage: usage records carry no price since v4 (DESIGN §3 v4 Rate
card), so a test first puts the price of each (service, metric) on the rate card (through the operator
route, as an operator would; a metric's first version may start in the past)."""

from __future__ import annotations

from typing import Any


def set_rate(
    api: Any,
    service: str,
    metric: str,
    unit: str | None = None,
    *,
    currency: str = "usd",
    effective_from: str = "2020-01-01",
    account_id: str | None = None,
    **extra: Any,
) -> dict:
    """PUT a version of (service, metric)'s rate: a flat `unit` price, or tiers/included_quantity in `extra`."""
    body: dict[str, Any] = {"effective_from": effective_from, **extra}
    if account_id is None:
        body["currency"] = currency
    if unit is not None:
        body["unit_amount_decimal"] = unit
    path = f"/v1/rates/{service}/{metric}"
    if account_id is not None:
        path = f"/v1/accounts/{account_id}{path[3:]}"
    status, out, _ = api.call("PUT", path, body, token=api.admin)
    assert status == 200, out
    return out


def set_rates(api: Any, rates: dict[tuple[str, str], str], currency: str = "usd") -> None:
    """Flat prices for several (service, metric) at once."""
    for (service, metric), unit in rates.items():
        set_rate(api, service, metric, unit, currency=currency)
