"""An injectable clock: all code asks here for 'now', tests and the local stack can move it.

`BILLOW_TODAY=YYYY-MM-DD` moves the calendar of a local or test process (the local stack, the `billow`
CLI, the test suite) to that day, keeping the time of day and letting time run: the offset is a whole
number of days, computed once at import, so every process started with the same value agrees. It is how
the suite proves it holds on awkward days (`make test-dates`). Deployed stages ignore it (a Lambda's
clock is AWS's).

`display_day` writes a day for people (e-mails, PDFs) in the reader's language, as
functions/core/money.py `display` writes amounts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from functions.core.settings import moved_calendar

# Stages where BILLOW_TODAY is honoured: the laptop stack and the tests, never a deployed stage.
MOVABLE_STAGES = frozenset({"local", "test"})


def _real_now() -> datetime:
    return datetime.now(UTC)


def moved_today() -> date | None:
    """The day BILLOW_TODAY asks for, or None (unset, or a deployed stage)."""
    raw, stage = moved_calendar()
    if not raw or stage not in MOVABLE_STAGES:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise RuntimeError(f"BILLOW_TODAY={raw!r} is not a YYYY-MM-DD date") from None


def _default_source() -> tuple[Callable[[], datetime], timedelta]:
    """The process's own clock and how far BILLOW_TODAY moved it."""
    target = moved_today()
    if target is None:
        return _real_now, timedelta(0)
    offset = timedelta(days=(target - _real_now().date()).days)
    return (lambda: _real_now() + offset), offset


_source, _moved_by = _default_source()


def now() -> datetime:
    """The current UTC time (timezone-aware)."""
    return _source()


def today() -> date:
    return now().date()


def epoch_seconds() -> int:
    return int(now().timestamp())


def transport_epoch_seconds() -> int:
    """'Now' for checks against other systems' timestamps (Stripe's webhook signatures): the clock without
    BILLOW_TODAY's move — a moved calendar is billow's own; the Stripe side signs with the real time. A
    clock a test froze or set (set_source, frozen) is followed as it is."""
    return int((now() - _moved_by).timestamp())


def iso(moment: datetime) -> str:
    """RFC 3339 UTC timestamp with millisecond precision, e.g. 2026-11-27T13:20:41.123Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_MONTHS_FR = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split()


def display_day(value: date, locale: str) -> str:
    """A day for people (e-mails, PDFs): "Dec 1, 2026" in English, "1 décembre 2026" in French."""
    if locale == "fr":
        return f"{value.day} {_MONTHS_FR[value.month - 1]} {value.year}"
    return value.strftime("%b %d, %Y").replace(" 0", " ")


def set_source(source: Callable[[], datetime], moved_by: timedelta = timedelta(0)) -> None:
    global _source, _moved_by
    _source, _moved_by = source, moved_by


def reset() -> None:
    """Back to the process's own clock (real time, moved by BILLOW_TODAY where honoured)."""
    set_source(*_default_source())


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Freeze 'now' at `moment` for the duration of the block."""
    previous = (_source, _moved_by)
    set_source(lambda: moment)
    try:
        yield
    finally:
        set_source(*previous)
