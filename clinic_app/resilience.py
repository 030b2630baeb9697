"""Riding out outages: one MongoDB deadline per request, what "unavailable" means, and back-off.

- `RequestDeadline` (WSGI middleware, installed by `init_app`): every request
  runs inside one `pymongo.timeout()` (pymongo's client-side operation
  timeout). Server selection, connection checkout and every command of the
  request - before-request hooks, the Flask-Login loaders, the view, template
  rendering, the error handler - share ONE deadline of
  MONGODB_REQUEST_BUDGET_MS (default MONGODB_TIMEOUT_MS). A database that is
  down or stalled costs a request that budget (plus pymongo's 0.5 s
  server-selection wake-up), then the 503 page or JSON; once the deadline has
  passed every further operation fails at once, so a page that queries five
  times does not wait five times. Jobs and CLI commands run outside requests
  and keep the client's own timeouts.
- `unavailable_service(exc)`: "mongodb"/"redis" when `exc`, or anything it
  wraps (mongoengine re-raises pymongo errors as OperationError; Flask wraps an
  error raised inside an error handler in InternalServerError), means the
  service did not answer in time, else None. errors.py turns those into 503s.
- `Backoff`: the doubling, capped wait the worker and cron processes use while
  Redis is away (config REDIS_RETRY_MAX_SECONDS).
- `die_with_parent`: a helper process (the worker's scheduler, a supervised
  `make run` process) must not outlive the process that started it.
"""
import ctypes
import os
import signal
import time

import pymongo
from pymongo.errors import ConnectionFailure, PyMongoError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class RequestDeadline:
    """WSGI middleware: the whole request (hooks, view, templates, teardown) is one pymongo deadline."""

    def __init__(self, wsgi_app, seconds):
        self.wsgi_app = wsgi_app
        self.seconds = seconds

    def __call__(self, environ, start_response):
        with pymongo.timeout(self.seconds):
            return self.wsgi_app(environ, start_response)


def request_budget_seconds(config):
    budget = config.get("MONGODB_REQUEST_BUDGET_MS") or config["MONGODB_TIMEOUT_MS"]
    return budget / 1000


def init_app(app):
    app.wsgi_app = RequestDeadline(app.wsgi_app, request_budget_seconds(app.config))


def _chain(exc):
    """`exc` and what it wraps: Flask's original_exception, then __cause__ / __context__."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = getattr(exc, "original_exception", None) or exc.__cause__ or exc.__context__


def unavailable_service(exc):
    """'mongodb' or 'redis' when `exc` means that service was unreachable or too slow, else None."""
    for error in _chain(exc):
        if isinstance(error, ConnectionFailure) or (isinstance(error, PyMongoError) and error.timeout):
            return "mongodb"
        if isinstance(error, (RedisConnectionError, RedisTimeoutError)):
            return "redis"
    return None


class Backoff:
    """Waits of 1, 2, 4 ... seconds, capped at `cap`; back to short waits after a quiet spell.

    A failure more than two caps after the previous one starts a new outage,
    so it waits `first` again (no bookkeeping of successes needed).
    """

    def __init__(self, cap=30.0, first=1.0):
        self.cap, self.first = float(cap), float(first)
        self._last_failure = None
        self.reset()

    def reset(self):
        self.delay = min(self.first, self.cap)

    def next_delay(self):
        """The wait for this failure (and double the next one)."""
        now = time.monotonic()
        if self._last_failure is not None and now - self._last_failure > 2 * self.cap + self.delay:
            self.reset()
        self._last_failure = now
        delay, self.delay = self.delay, min(self.delay * 2, self.cap)
        return delay

    @staticmethod
    def sleep(seconds, should_stop=lambda: False):
        """Sleep in short slices, returning early once `should_stop()` is true."""
        end = time.monotonic() + seconds
        while not should_stop() and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))


def die_with_parent(sig=signal.SIGTERM):
    """Have Linux send `sig` to this process when its parent dies (prctl PR_SET_PDEATHSIG).

    Returns False where that is not available (macOS: the child may then outlive a SIGKILLed parent).
    """
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(1, int(sig)) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def parent_is_gone(parent_pid):
    """True when the process that started us has died (we were re-parented)."""
    return os.getppid() != parent_pid
