"""The per-provider circuit breaker: pure, with an injected clock, thread-safe."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import TypeAlias

import attrs

from smsgate._models import _compared
from smsgate.exceptions import (
    CircuitOpenError,
    PartialSendError,
    ProviderUnavailableError,
    SmsGateError,
    TransportError,
)
from smsgate.routing._policies import BreakerPolicy

__all__ = ["BreakerState", "CircuitBreaker", "Clock", "ProviderHealth", "is_availability_failure"]

#: Monotonic seconds (``time.monotonic`` by default; tests inject a fake).
Clock: TypeAlias = Callable[[], float]


class BreakerState(enum.StrEnum):
    """State of a provider's circuit."""

    CLOSED = "closed"  #: requests flow
    OPEN = "open"  #: the provider is skipped until the cool-down ends
    HALF_OPEN = "half_open"  #: the cool-down ended: the next request is a probe


@_compared
@attrs.frozen(kw_only=True, eq=False, repr=False)
class ProviderHealth:
    """A snapshot of one provider's health, from :meth:`smsgate.Gateway.health`.

    :ivar name: the provider's name.
    :ivar state: its circuit state.
    :ivar consecutive_failures: availability failures since its last success.
    """

    name: str
    state: BreakerState
    consecutive_failures: int


def is_availability_failure(error: SmsGateError) -> bool:
    """Whether ``error`` says something about the provider being usable (counts for the breaker).

    Message rejections, validation and configuration errors do not: the provider answered,
    or was never asked.
    """
    if isinstance(error, PartialSendError):
        error = error.cause
    if isinstance(error, CircuitOpenError):
        return False
    return isinstance(error, TransportError | ProviderUnavailableError)


class CircuitBreaker:
    """Per-provider circuit breaker with an injected clock. Thread-safe.

    Closed: every request goes through; ``failures`` consecutive availability failures open
    it. Open: :meth:`allow` says no until ``cool_down`` has passed, then lets exactly one
    probe through (half-open). The probe's success closes it, its failure re-opens it for
    another cool-down. A probe abandoned without an outcome (its task was cancelled) is
    handed back with :meth:`release`; one that never reports back at all stops blocking
    others after one more cool-down. A policy with ``enabled=False`` never opens.
    """

    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_since: float | None = None

    def allow(self) -> bool:
        """Whether a request may go to the provider now (claims the probe when half-open)."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = self._clock()
            if now - self._opened_at < self.policy.cool_down:
                return False
            if self._probe_since is not None and now - self._probe_since < self.policy.cool_down:
                return False  # another caller's probe is in flight
            self._probe_since = now
            return True

    def release(self) -> None:
        """Hand back a claimed half-open probe that ended without an outcome (cancelled), so
        the next caller may probe at once."""
        with self._lock:
            self._probe_since = None

    def record(self, error: SmsGateError | None) -> None:
        """Record an attempt's outcome: ``None`` for success, else the error."""
        with self._lock:
            if error is None:
                self._failures = 0
                self._opened_at = self._probe_since = None
                return
            if is_availability_failure(error):
                self._failures += 1
                if self.policy.enabled and (
                    self._probe_since is not None or self._failures >= self.policy.failures
                ):
                    self._opened_at = self._clock()
            # A message refusal neither proves nor disproves the provider's health: only a
            # pending probe slot is released.
            self._probe_since = None

    def snapshot(self, name: str) -> ProviderHealth:
        """The current state, for :meth:`smsgate.Gateway.health`."""
        with self._lock:
            if self._opened_at is None:
                state = BreakerState.CLOSED
            elif self._clock() - self._opened_at < self.policy.cool_down:
                state = BreakerState.OPEN
            else:
                state = BreakerState.HALF_OPEN
            return ProviderHealth(name=name, state=state, consecutive_failures=self._failures)
