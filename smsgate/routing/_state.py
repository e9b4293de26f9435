"""Where a router keeps each provider's breaker and rate limit: the seam for shared state.

A :class:`Router` does not build its circuit breakers and rate limiters itself: it asks a
:class:`RoutingState` for one of each per provider. :class:`LocalState`, the default, hands
out the in-process :class:`CircuitBreaker` and :class:`TokenBucket` (state in this process's
memory, as before the seam existed). :class:`smsgate.scale.RedisState` hands out objects whose
state lives in Redis, so every process configured with the same store shares one limit and
one breaker per provider. Any object with these two methods will do.

The router calls the objects from inside a plan, without awaiting: a shared implementation
must answer quickly (short network timeouts), and it must keep two promises the router's
safety rests on:

* :meth:`Breaker.allow`, :meth:`Limiter.reserve` and :meth:`Limiter.recheck` run *before* a
  request. When they cannot answer (the store is unreachable) they raise an
  :class:`~smsgate.SmsGateError` saying nothing was sent — never let a request through
  unchecked. The router then ends the call with that error (carrying any receipts already
  kept, as a partial send).
* :meth:`Breaker.record` and :meth:`Breaker.release` run *after* a request may have gone
  out: they never raise (a lost update is logged), so a store failure can never turn a sent
  message into an error or an error into another one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from smsgate.exceptions import SmsGateError
from smsgate.routing._breaker import CircuitBreaker, Clock, ProviderHealth
from smsgate.routing._bucket import TokenBucket
from smsgate.routing._policies import BreakerPolicy, RateLimit

__all__ = ["Breaker", "Limiter", "LocalState", "RoutingState"]


@runtime_checkable
class Breaker(Protocol):
    """One provider's circuit breaker, as the router uses it (see :class:`CircuitBreaker`)."""

    def allow(self) -> bool:
        """Whether a request may go to the provider now; claims the probe when half-open.

        :raises SmsGateError: a not-sent error when the answer cannot be had.
        """
        ...

    def release(self) -> None:
        """Hand back a probe claimed by :meth:`allow` whose attempt ended without an outcome
        (cancelled, or stopped before its request). Never raises."""
        ...

    def record(self, error: SmsGateError | None) -> None:
        """Record an attempt's outcome: ``None`` for success, else its error. Never raises."""
        ...

    def snapshot(self, name: str) -> ProviderHealth:
        """The provider's current health, for :meth:`smsgate.Gateway.health`."""
        ...


@runtime_checkable
class Limiter(Protocol):
    """One provider's rate limit, as the router uses it: it answers "wait this long" and
    never waits itself (the gateway sleeps or awaits the answer).

    Before each attempt the router calls :meth:`reserve`; while the answer is positive it
    waits that long and calls :meth:`recheck`. A limiter that reserves ahead (the in-process
    :class:`TokenBucket` takes a slot in the future) answers ``0.0`` to :meth:`recheck`; one
    that can only grant a slot now (a shared window) asks again then.
    """

    def reserve(self) -> float:
        """Take a slot: ``0.0`` when it is free now, else the seconds to wait first.

        :raises SmsGateError: a not-sent error when the answer cannot be had.
        """
        ...

    def recheck(self) -> float:
        """After waiting what :meth:`reserve` (or the last :meth:`recheck`) said: ``0.0`` when
        the slot is now held, else the seconds to wait before asking again.

        :raises SmsGateError: a not-sent error when the answer cannot be had.
        """
        ...


@runtime_checkable
class RoutingState(Protocol):
    """Where a router keeps its per-provider breakers and rate limiters.

    Given to a gateway as ``Gateway(..., shared_state=state)`` (or in the TOML file as
    ``[gateway] shared_state = "redis://…"``); the router asks for one breaker per provider
    and one limiter per rate-limited provider when it is built. ``clock`` is the gateway's
    monotonic clock: the in-process objects use it; a shared store uses its own time.
    """

    def breaker(self, name: str, policy: BreakerPolicy, *, clock: Clock) -> Breaker:
        """The circuit breaker of provider ``name``."""
        ...

    def limiter(self, name: str, limit: RateLimit, *, clock: Clock) -> Limiter:
        """The rate limiter of provider ``name``."""
        ...


class LocalState:
    """The default :class:`RoutingState`: breakers and limits in this process's memory.

    Each call builds a new :class:`CircuitBreaker` / :class:`TokenBucket` on ``clock``, so
    every gateway keeps its own state, exactly as before shared state existed.
    """

    def breaker(self, name: str, policy: BreakerPolicy, *, clock: Clock) -> CircuitBreaker:
        """A new in-process :class:`CircuitBreaker` (``name`` is not needed)."""
        return CircuitBreaker(policy, clock)

    def limiter(self, name: str, limit: RateLimit, *, clock: Clock) -> TokenBucket:
        """A new in-process :class:`TokenBucket` (``name`` is not needed)."""
        return TokenBucket(limit, clock)

    def __repr__(self) -> str:
        return "LocalState()"
