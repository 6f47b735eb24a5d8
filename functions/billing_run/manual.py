"""A manual daily run (DESIGN §9): the daily-run function invoked with a bare `{"date": "YYYY-MM-DD"}`
(`billow --stage S bill --date D`, or `aws lambda invoke`), as well as by its schedule.

Lambda calls the module attribute `functions.billing_run.routes.daily_run` (Chalice's handler string).
Chalice's schedule handler builds a CloudWatchEvent from the payload before billow's code runs, and a
bare `{"date"}` has none of its keys (KeyError 'version'). So the attribute is this wrapper: a payload
without the scheduled event's envelope gets one (the date kept at its top level, where
`service.manual_run_date` reads it), then goes through Chalice's handler and its middleware like the
schedule's own event. A bare payload must be exactly `{"date": "YYYY-MM-DD"}`: anything else fails the
invocation with a ValueError before anything is sent."""

from __future__ import annotations

from typing import Any

from functions.core import clock

ENVELOPE = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def envelope(payload: dict[str, Any]) -> dict[str, Any]:
    """A bare manual payload in a scheduled event's envelope; an enveloped event as it is."""
    if "detail-type" in payload:
        return payload
    if set(payload) != {"date"}:
        raise ValueError(f'a manual daily run takes exactly {{"date": "YYYY-MM-DD"}}, not the keys {sorted(payload)}')
    return {
        "version": "0",
        "id": f"billow-manual-run-{payload['date']}",
        "detail-type": "billow manual run",
        "source": "billow.manual",
        "account": "",
        "time": clock.iso(clock.now()),
        "region": "",
        "resources": [],
        "detail": {},
        "date": payload["date"],
    }


class AcceptingABareDate:
    """The daily run's Lambda handler: Chalice's schedule handler, which also takes a bare `{"date"}`."""

    def __init__(self, scheduled: Any) -> None:
        self.scheduled = scheduled
        self.__wrapped__ = scheduled  # what the app's stand-in runs (functions/core/route_loader.py)
        self.__name__ = getattr(scheduled, "__name__", "daily_run")
        self.__doc__ = getattr(scheduled, "__doc__", None)

    def __call__(self, event: Any, context: Any) -> Any:
        if not isinstance(event, dict):
            raise ValueError('a manual daily run takes {"date": "YYYY-MM-DD"}')
        return self.scheduled(envelope(event), context)
