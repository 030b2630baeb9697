"""Rate limits on moving windows in Redis (the `limits` library).

Callers check before the expensive or sensitive step and count only what
should count (e.g. failed sign-ins). If Redis is unreachable the throttle
fails open and logs: sign-in stays possible (bcrypt still slows guessing),
and /healthz reports Redis down.
"""
import logging
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Throttle:
    def __init__(self, redis_url, enabled=True):
        self.enabled = enabled
        self._strategy = MovingWindowRateLimiter(storage_from_string(redis_url)) if enabled else None

    def retry_after(self, limit, *key):
        """Seconds until `key` may try again under `limit` ("5 per 15 minutes"), or 0 if allowed."""
        if not self.enabled:
            return 0
        item = parse(limit)
        try:
            if self._strategy.test(item, *key):
                return 0
            reset_at, _ = self._strategy.get_window_stats(item, *key)
        except (RedisError, ConnectionError) as exc:
            log.warning("throttle unavailable (%s); allowing", exc)
            return 0
        return max(1, int(reset_at - time.time()))

    def hit(self, limit, *key):
        """Count one attempt; returns False once the limit is exceeded."""
        if not self.enabled:
            return True
        try:
            return self._strategy.hit(parse(limit), *key)
        except (RedisError, ConnectionError) as exc:
            log.warning("throttle unavailable (%s); not counted", exc)
            return True
