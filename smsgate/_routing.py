"""Routing decisions, written once and without I/O, for both gateways.

:meth:`Router.plan` is a generator that decides *what to do next* for one operation. It
yields commands and receives their outcomes:

- :class:`Attempt` — "run this provider's flow" → the gateway sends back :class:`Success`
  or :class:`Failure`;
- :class:`Sleep` — "wait this long" (a retry backoff or a rate-limit wait) → ``None``.

It returns the final result (receipts carry ``attempts``) or raises the final error. The
sync gateway drives it with ``time.sleep`` and :func:`smsgate.run_flow`, the async one with
``asyncio.sleep`` and :func:`smsgate.arun_flow`; they differ in nothing else.

Also here, because they are pure too: the circuit breaker and the token bucket. Both take
an injected clock and guard their state with a lock, so a sync gateway can be shared by
threads; the async gateway never awaits while holding one, so they are task-safe as well.
"""

from __future__ import annotations

import enum
import random as _random
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from smsgate._models import Receipt, Sms
from smsgate._provider import Flow, Operation, Provider
from smsgate.exceptions import (
    AllProvidersFailedError,
    CircuitOpenError,
    ConfigurationError,
    PartialBatchError,
    ProviderUnavailableError,
    RateLimitedError,
    SmsGateError,
    TransportError,
    UncertainOutcomeError,
    UnsupportedOperationError,
)

__all__ = [
    "Attempt",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Failure",
    "ProviderHealth",
    "RateLimit",
    "RetryPolicy",
    "Router",
    "Sleep",
    "Success",
    "TokenBucket",
]

Clock: TypeAlias = Callable[[], float]
STRATEGIES = ("failover", "round_robin", "weighted")


def _non_negative(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ConfigurationError(f"{attr.name} must not be negative, not {value!r}")


def _positive(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigurationError(f"{attr.name} must be positive, not {value!r}")


# --- policies ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently one provider is retried when that is safe.

    Retries happen only after an error whose ``retry_safe`` flag is set (not sent, rate
    limited, outage) — and, for read-only operations, after an uncertain outcome.

    :param attempts: tries per provider, the first included (``1`` disables retries).
    :param base: the first backoff ceiling in seconds; it doubles on each retry.
    :param cap: the largest backoff ceiling in seconds.
    :param total: seconds one operation may spend before no further retry is started
        (measured from its start with the gateway's clock). Failing over to a provider not
        yet tried is not a retry and still happens once the budget is spent.

    The delay before retry ``n`` (1 for the first retry) is "full jitter":
    ``uniform(0, min(cap, base * 2 ** (n - 1)))``, raised to the provider's
    ``RateLimitedError.retry_after`` when it asked for more.
    """

    attempts: int = attrs.field(default=3, validator=_positive)
    base: float = attrs.field(default=0.2, validator=_non_negative)
    cap: float = attrs.field(default=5.0, validator=_non_negative)
    total: float = attrs.field(default=30.0, validator=_non_negative)

    def ceiling(self, retry: int) -> float:
        """The largest delay before retry number ``retry`` (1-based)."""
        return float(min(self.cap, self.base * 2.0 ** (retry - 1)))


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    """When a provider's circuit opens and when it is probed again.

    :param failures: consecutive availability failures (transport errors and
        :class:`~smsgate.exceptions.ProviderUnavailableError`) that open the circuit.
    :param cool_down: seconds an open circuit skips the provider before letting one
        half-open probe through.
    """

    failures: int = attrs.field(default=5, validator=_positive)
    cool_down: float = attrs.field(default=30.0, validator=_non_negative)


@attrs.frozen
class RateLimit:
    """A token bucket for one provider: ``rate`` requests per second on average, and up to
    ``burst`` at once after a quiet period.

    >>> RateLimit(rate=10, burst=5)
    RateLimit(rate=10, burst=5)
    """

    rate: float = attrs.field(validator=_positive)
    burst: int = attrs.field(default=1, validator=_positive)


# --- circuit breaker --------------------------------------------------------------------


class BreakerState(enum.StrEnum):
    """State of a provider's circuit."""

    CLOSED = "closed"  #: requests flow
    OPEN = "open"  #: the provider is skipped until the cool-down ends
    HALF_OPEN = "half_open"  #: the cool-down ended: the next request is a probe


@attrs.frozen(kw_only=True)
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
    if isinstance(error, PartialBatchError):
        error = error.cause
    if isinstance(error, CircuitOpenError):
        return False
    return isinstance(error, TransportError | ProviderUnavailableError)


class CircuitBreaker:
    """Per-provider circuit breaker with an injected clock. Thread-safe.

    Closed: every request goes through; ``failures`` consecutive availability failures open
    it. Open: :meth:`allow` says no until ``cool_down`` has passed, then lets exactly one
    probe through (half-open). The probe's success closes it, its failure re-opens it for
    another cool-down. A probe that never reports back (its task was cancelled) stops
    blocking others after one more cool-down.
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

    def record(self, error: SmsGateError | None) -> None:
        """Record an attempt's outcome: ``None`` for success, else the error."""
        with self._lock:
            if error is None:
                self._failures = 0
                self._opened_at = self._probe_since = None
            elif is_availability_failure(error):
                self._failures += 1
                if self._probe_since is not None or self._failures >= self.policy.failures:
                    self._opened_at = self._clock()
                self._probe_since = None
            else:
                # The provider answered about the message: it neither proves nor disproves
                # its health, so only a pending probe slot is released.
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


# --- rate limit -------------------------------------------------------------------------


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


# --- commands and outcomes --------------------------------------------------------------


@attrs.frozen
class Attempt:
    """Command: run ``start()``'s flow against ``provider`` and send back the outcome.

    :ivar number: the attempt's rank on this provider (1 = first try).
    :ivar message: what is being sent (for hooks and logs), ``None`` for read operations.
    """

    provider: Provider
    operation: Operation
    start: Callable[[], Flow[Any]]
    number: int
    message: Any = None


@attrs.frozen
class Sleep:
    """Command: wait ``seconds`` and send back ``None``."""

    seconds: float
    reason: str = "backoff"


@attrs.frozen
class Success:
    """Outcome of an :class:`Attempt` whose flow returned ``value``."""

    value: Any


@attrs.frozen
class Failure:
    """Outcome of an :class:`Attempt` whose flow raised ``error``."""

    error: SmsGateError


Command: TypeAlias = Attempt | Sleep
Plan: TypeAlias = Generator[Command, "Success | Failure | None", Any]
#: Builds one provider's flow for a payload (the payload changes when a batch is resumed).
Call: TypeAlias = Callable[[Provider, Any], Flow[Any]]


def _with_attempts(value: Any, attempts: int) -> Any:
    if isinstance(value, Receipt):
        return attrs.evolve(value, attempts=attempts)
    if isinstance(value, list) and value and all(isinstance(v, Receipt) for v in value):
        return [attrs.evolve(v, attempts=attempts) for v in value]
    return value


def _pending_payload(operation: Operation, pending: Sequence[Any]) -> Any:
    """What to send when resuming after a :class:`PartialBatchError`: the pending messages
    of a batch, or for a single message the one message narrowed to its pending recipients."""
    if operation is Operation.SEND_BATCH or not pending:
        return tuple(pending)
    first = pending[0]
    if len(pending) == 1 or not isinstance(first, Sms):
        return first
    numbers = [n for m in pending for n in m.to]
    return attrs.evolve(first, to=numbers)


class Router:
    """The routing state shared by every call of one gateway: strategy, breakers, buckets.

    Built by the gateways from their constructor arguments; see :class:`smsgate.Gateway`.
    """

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        strategy: str = "failover",
        weights: Sequence[float] | Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        rate_limit: RateLimit | Mapping[str, RateLimit] | None = None,
        failover_on_uncertain: bool = False,
        clock: Clock,
        random: Callable[[], float] | _random.Random | None = None,
    ) -> None:
        if not providers:
            raise ConfigurationError("a gateway needs at least one provider")
        names: set[str] = set()
        for provider in providers:
            if not isinstance(provider, Provider):
                raise ConfigurationError(f"{provider!r} is not an smsgate.Provider")
            if provider.name in names:
                raise ConfigurationError(
                    f"two providers are named {provider.name!r}; give each a distinct name"
                )
            names.add(provider.name)
        if strategy not in STRATEGIES:
            raise ConfigurationError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
        self.providers = tuple(providers)
        self.strategy = strategy
        self.retry = retry if retry is not None else RetryPolicy()
        self.failover_on_uncertain = failover_on_uncertain
        self.clock = clock
        if random is None:
            random = _random.Random()  # noqa: S311 - jitter and load spreading, not secrets
        self._random: Callable[[], float] = random.random if isinstance(random, _random.Random) else random
        self.weights = self._weights(weights)
        self.breakers = {p.name: CircuitBreaker(breaker or BreakerPolicy(), clock) for p in self.providers}
        self._breaker_on = breaker is not None
        self.buckets = {name: TokenBucket(limit, clock) for name, limit in self._limits(rate_limit).items()}
        self._turn = 0
        self._lock = threading.Lock()

    # --- configuration ----------------------------------------------------------------

    def _weights(self, weights: Sequence[float] | Mapping[str, float] | None) -> dict[str, float]:
        if weights is None:
            return {p.name: 1.0 for p in self.providers}
        if self.strategy != "weighted":
            raise ConfigurationError('weights are only used with strategy="weighted"')
        if isinstance(weights, Mapping):
            unknown = set(weights) - {p.name for p in self.providers}
            if unknown:
                raise ConfigurationError(f"weights name unknown providers: {', '.join(sorted(unknown))}")
            table = {p.name: float(weights.get(p.name, 0.0)) for p in self.providers}
        else:
            if len(weights) != len(self.providers):
                raise ConfigurationError(
                    f"{len(weights)} weights for {len(self.providers)} providers; give one each"
                )
            table = {p.name: float(w) for p, w in zip(self.providers, weights, strict=True)}
        if any(w < 0 for w in table.values()):
            raise ConfigurationError("weights must not be negative")
        return table

    def _limits(self, rate_limit: RateLimit | Mapping[str, RateLimit] | None) -> dict[str, RateLimit]:
        if rate_limit is None:
            return {}
        if isinstance(rate_limit, RateLimit):
            return {p.name: rate_limit for p in self.providers}
        unknown = set(rate_limit) - {p.name for p in self.providers}
        if unknown:
            raise ConfigurationError(f"rate_limit names unknown providers: {', '.join(sorted(unknown))}")
        return dict(rate_limit)

    # --- selection ----------------------------------------------------------------------

    def eligible(self, operation: Operation, *, kind: str | None = None) -> list[Provider]:
        """Providers declaring the capability ``operation`` needs (and the balance ``kind``)."""
        found = [
            p
            for p in self.providers
            if p.capabilities.supports(operation) and (kind is None or kind in p.capabilities.balance_kinds)
        ]
        if not found:
            what = f"{operation.value} ({kind})" if kind else operation.value
            raise UnsupportedOperationError(
                f"no configured provider supports {what}", operation=operation.value
            )
        return found

    def order(self, candidates: list[Provider]) -> list[Provider]:
        """The order to try ``candidates`` in for one call, per the strategy."""
        if len(candidates) < 2 or self.strategy == "failover":
            return list(candidates)
        if self.strategy == "round_robin":
            with self._lock:
                start = self._turn % len(candidates)
                self._turn += 1
            return candidates[start:] + candidates[:start]
        # weighted: the first choice is drawn by weight, the rest follow in weight order
        # (heaviest first; ties keep the configured order).
        by_weight = sorted(candidates, key=lambda p: -self.weights[p.name])
        total = sum(self.weights[p.name] for p in candidates)
        if total <= 0:
            return list(candidates)
        point = self._random() * total
        first: Provider | None = None
        for provider in candidates:
            point -= self.weights[provider.name]
            if point < 0:  # a zero weight never turns it negative: never drawn first
                first = provider
                break
        if first is None:  # rounding left the point at the very end
            first = next(p for p in reversed(candidates) if self.weights[p.name] > 0)
        return [first, *(p for p in by_weight if p is not first)]

    def health(self) -> list[ProviderHealth]:
        """One snapshot per provider, in configured order."""
        return [self.breakers[p.name].snapshot(p.name) for p in self.providers]

    # --- the plan ---------------------------------------------------------------------

    def plan(
        self,
        operation: Operation,
        call: Call,
        payload: Any = None,
        *,
        kind: str | None = None,
        only: Provider | None = None,
    ) -> Plan:
        """Decide the attempts for one operation (see the module docstring).

        :param call: builds a provider's flow for the current payload.
        :param payload: the message(s) sent; a resumed batch narrows it to what is pending.
        :param only: route to this provider alone (no failover): change_password, and the
            per-provider pulls of fetch_reports / fetch_inbound.
        """
        providers = [only] if only is not None else self.order(self.eligible(operation, kind=kind))
        # A password change is not safely repeatable either: after an uncertain outcome
        # the old password may no longer work.
        careful = operation.delivers or operation is Operation.CHANGE_PASSWORD
        errors: list[SmsGateError] = []
        kept: list[Receipt] = []  # receipts of batch requests accepted before a failure
        made = 0
        started = self.clock()
        for provider in providers:
            breaker = self.breakers[provider.name]
            number = 0
            may_move_on = True
            while True:
                if self._breaker_on and not breaker.allow():
                    if number == 0:
                        errors.append(
                            CircuitOpenError(
                                f"skipped: circuit open after repeated failures of {provider.name!r}",
                                provider=provider.name,
                                operation=operation.value,
                            )
                        )
                    break
                bucket = self.buckets.get(provider.name)
                wait = bucket.reserve() if bucket is not None else 0.0
                if wait > 0:
                    yield Sleep(wait, reason="rate_limit")
                number += 1
                made += 1
                current = payload

                def start(p: Provider = provider, value: Any = current) -> Flow[Any]:
                    return call(p, value)

                outcome = yield Attempt(provider, operation, start, number, message=current)
                if isinstance(outcome, Success):
                    breaker.record(None)
                    value = _with_attempts(outcome.value, made)
                    if kept and isinstance(value, Receipt):
                        # A send split into requests: one receipt for the whole message.
                        value = attrs.evolve(Receipt.combine([*kept, value]), attempts=made)
                    elif kept:
                        value = [*kept, *value]
                    return value
                assert isinstance(outcome, Failure)
                error = outcome.error
                breaker.record(error)
                decisive = error
                if isinstance(error, PartialBatchError):
                    # Only what was not accepted may be tried again, here or elsewhere.
                    kept.extend(_with_attempts(list(error.receipts), made))
                    payload = _pending_payload(operation, error.pending)
                    decisive = error.cause
                uncertain = isinstance(decisive, UncertainOutcomeError)
                retry_ok = decisive.retry_safe or (uncertain and not careful)
                failover_ok = decisive.failover_safe or (
                    uncertain and (not careful or self.failover_on_uncertain)
                )
                if not (retry_ok or failover_ok):
                    raise self._final(error, errors, kept, payload)
                errors.append(error)
                may_move_on = failover_ok
                if not retry_ok or number >= self.retry.attempts:
                    break
                delay = self.retry.ceiling(number) * self._random()
                if isinstance(decisive, RateLimitedError) and decisive.retry_after is not None:
                    delay = max(delay, decisive.retry_after)
                if self.clock() - started + delay > self.retry.total:
                    break
                yield Sleep(delay)
            if not may_move_on:
                last = errors.pop()
                raise self._final(last, errors, kept, payload)
        if len(providers) == 1:
            # One provider only (a single-provider gateway, change_password, a per-provider
            # pull): its own typed error is the answer; earlier tries are in ``attempts``.
            last = errors.pop()
            raise self._final(last, errors, kept, payload)
        group = AllProvidersFailedError(
            f"{operation.value} failed on every provider ({made} attempts, {len(errors)} failures)",
            errors,
            operation=operation.value,
        )
        if kept:
            # The group keeps its own attempts (every failure); the partial error lists them too.
            raise self._final(group, errors, kept, payload)
        raise group

    @staticmethod
    def _final(
        error: SmsGateError, earlier: list[SmsGateError], kept: list[Receipt], pending: Any
    ) -> SmsGateError:
        """The error that ends a plan, carrying the earlier attempts and any kept receipts."""
        error.attempts = tuple(earlier)
        if not kept:
            return error
        cause = error.cause if isinstance(error, PartialBatchError) else error
        if pending is None:
            pending = ()
        elif not isinstance(pending, tuple | list):
            pending = (pending,)  # a single message narrowed to its pending recipients
        partial = PartialBatchError(
            f"partly sent: {sum(r.accepted for r in kept)} recipients accepted, "
            f"{len(pending)} messages pending",
            receipts=kept,
            pending=pending,
            cause=cause,
            provider=error.provider,
            operation=error.operation,
        )
        partial.attempts = tuple(earlier)
        return partial
