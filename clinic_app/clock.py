"""The one injectable clock: every time-dependent rule reads `clock.now()`.

Tests install a `FrozenClock` and move it; production uses the system clock.
"""
import time
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


def current():
    """The installed clock object."""
    return _clock


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


class OffsetClock:
    """System time plus an offset kept in Redis, shared by every process (dev and e2e only).

    `flask time-travel --days 8` moves the web server and the worker together,
    so a browser journey can watch a trial run out. Refused in production.
    """

    KEY = "clinic_app:clock_offset_seconds"

    def __init__(self, redis, ttl=0.5):
        self._redis = redis
        self._ttl = ttl
        self._cached = (0.0, -1.0)  # (offset, read at monotonic)

    def offset(self):
        value, read_at = self._cached
        if time.monotonic() - read_at > self._ttl:
            try:
                raw = self._redis.get(self.KEY)
                value = float(raw) if raw else 0.0
            except Exception:  # Redis down: keep the last known offset
                pass
            self._cached = (value, time.monotonic())
        return value

    def now(self):
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset())

    def set_offset(self, seconds):
        self._redis.set(self.KEY, str(float(seconds)))
        self._cached = (float(seconds), -1.0)
