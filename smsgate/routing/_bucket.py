"""The per-provider rate limit: a token bucket that answers "wait this long"."""

from __future__ import annotations

import threading

from smsgate.routing._breaker import Clock
from smsgate.routing._policies import RateLimit

__all__ = ["TokenBucket"]


class TokenBucket:
    """A token bucket that answers "wait this many seconds" instead of waiting. Thread-safe.

    :meth:`reserve` takes a token now, going into debt when none is left; the debt is the
    wait. Concurrent callers therefore get successive slots (0, 1/rate, 2/rate …) and the
    caller sleeps (sync) or awaits (async) the answer without holding any lock.
    """

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(limit.burst)
        self._updated = clock()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0 when available)."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.limit.burst), self._tokens + elapsed * self.limit.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.limit.rate

    def recheck(self) -> float:
        """``0.0``: the slot :meth:`reserve` answered with is already this caller's (taken
        ahead, in debt), so after its wait nothing more is needed."""
        return 0.0
