"""The one injectable clock: every time-dependent rule reads `clock.now()`.

Tests install a `FrozenClock` and move it; production uses the system clock.
"""
from datetime import datetime, timedelta, timezone


class SystemClock:
    def now(self):
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, at=None):
        self._now = _aware(at or datetime.now(timezone.utc))

    def now(self):
        return self._now

    def set(self, at):
        self._now = _aware(at)

    def advance(self, **delta):
        self._now += timedelta(**delta)
        return self._now


def _aware(at):
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


_clock = SystemClock()


def now():
    """Current time, timezone-aware UTC, from the installed clock."""
    return _clock.now()


def install(clock):
    """Install `clock` process-wide and return the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def as_utc(value):
    """MongoDB hands back naive UTC datetimes unless tz_aware; normalise."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
