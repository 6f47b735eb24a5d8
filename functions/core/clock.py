"""An injectable clock: all code asks here for 'now', tests and the local stack can move it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current UTC time (timezone-aware)."""
    return _source()


def today() -> date:
    return now().date()


def epoch_seconds() -> int:
    return int(now().timestamp())


def iso(moment: datetime) -> str:
    """RFC 3339 UTC timestamp with millisecond precision, e.g. 2026-11-27T13:20:41.123Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def set_source(source: Callable[[], datetime]) -> None:
    global _source
    _source = source


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Freeze 'now' at `moment` for the duration of the block."""
    previous = _source
    set_source(lambda: moment)
    try:
        yield
    finally:
        set_source(previous)
