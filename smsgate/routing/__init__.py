"""Every routing decision, written once and without I/O, for both gateways.

A :class:`Router` holds what one gateway routes with: its providers, a
:class:`RoutingConfig` (strategy, weights, retry, breaker, rate limit, failover on
uncertainty, every default in one place), a circuit breaker and a rate limiter per
provider, handed out by a :class:`RoutingState`: :class:`LocalState` (the default) keeps
them in this process's memory (:class:`CircuitBreaker`, :class:`TokenBucket`),
:class:`smsgate.scale.RedisState` in Redis, shared by every process using it. Its plans —
:meth:`Router.plan` (send, batch, MMS, balance), :meth:`Router.pull_plan` (fetch reports /
inbound) and :meth:`Router.password_plan` — are generators that decide *what to do next*
for one call.
They yield commands and receive their outcomes:

- :class:`Attempt` — "run this provider's flow" → the gateway sends back :class:`Success`
  or :class:`Failure`;
- :class:`Sleep` — "wait this long" (a retry backoff or a rate-limit wait) → ``None``.

A plan returns the call's result (receipts carry ``attempts``) or raises its final error.
The sync gateway drives it with ``time.sleep`` and :func:`smsgate.run_flow`, the async one
with ``asyncio.sleep`` and :func:`smsgate.arun_flow`; they differ in nothing else. A gateway
always closes a plan when it stops driving it, and a plan closed while an attempt was
pending (a cancelled task) hands a claimed half-open probe back to its breaker.

The in-process breaker and bucket take an injected clock and guard their state with a
lock, so a sync gateway can be shared by threads; the async gateway never awaits while
holding one. A shared store's objects are called the same way, without awaiting: they
answer in one short network round trip or raise a not-sent error (see ``_state.py``).

::

    _policies.py  Strategy, RetryPolicy, BreakerPolicy, RateLimit   what users configure
    _config.py    RoutingConfig                                    every default, validated
    _breaker.py   CircuitBreaker, BreakerState, ProviderHealth     per-provider health
    _bucket.py    TokenBucket                                      per-provider rate limit
    _state.py     RoutingState, Breaker, Limiter, LocalState       where those two live
    _plan.py      Attempt, Sleep, Success, Failure, Plan, Run      a plan's vocabulary and rules
    _router.py    Router                                           selection and the plans
"""

from __future__ import annotations

from smsgate.routing._breaker import BreakerState, CircuitBreaker, ProviderHealth, is_availability_failure
from smsgate.routing._bucket import TokenBucket
from smsgate.routing._config import RoutingConfig
from smsgate.routing._plan import Attempt, Command, Failure, Outcome, Plan, Sleep, Success
from smsgate.routing._policies import BreakerPolicy, RateLimit, RetryPolicy, Strategy
from smsgate.routing._router import Router
from smsgate.routing._state import Breaker, Limiter, LocalState, RoutingState

__all__ = [
    "Attempt",
    "Breaker",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Command",
    "Failure",
    "Limiter",
    "LocalState",
    "Outcome",
    "Plan",
    "ProviderHealth",
    "RateLimit",
    "RetryPolicy",
    "Router",
    "RoutingConfig",
    "RoutingState",
    "Sleep",
    "Strategy",
    "Success",
    "TokenBucket",
    "is_availability_failure",
]
