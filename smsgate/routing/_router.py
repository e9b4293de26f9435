"""The router: every routing decision of one gateway, written once and without I/O."""

from __future__ import annotations

import logging
import random as _random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from smsgate._models import DeliveryReport, Receipt, Sms
from smsgate._provider import Capabilities, Flow, Operation, Provider
from smsgate.exceptions import (
    AllProvidersFailedError,
    ConfigurationError,
    SmsGateError,
    UnrenderableMessageError,
    UnsupportedOperationError,
    ValidationError,
)
from smsgate.routing._breaker import BreakerState, Clock, ProviderHealth
from smsgate.routing._config import RoutingConfig
from smsgate.routing._plan import Attempt, Call, Failure, Outcome, Plan, Run, Sleep, Success
from smsgate.routing._policies import RateLimit, Strategy
from smsgate.routing._state import Breaker, Limiter, LocalState, RoutingState

__all__ = ["Router"]

T = TypeVar("T")
log = logging.getLogger("smsgate.gateway")


class Router:
    """The routing state shared by every call of one gateway: strategy, breakers, buckets.

    The gateways build it as ``Router(providers, RoutingConfig.given(**options), clock=…,
    random=…)``; its plans (:meth:`plan`, :meth:`pull_plan`, :meth:`password_plan`) decide
    every attempt of one call and are driven by :class:`smsgate.Gateway` and
    :class:`smsgate.AsyncGateway` alike.

    Its breakers and limiters come from the config's ``shared_state`` (a
    :class:`RoutingState`; :class:`LocalState`, this process's memory, when it is ``None``).
    """

    def __init__(
        self,
        providers: Sequence[Provider],
        config: RoutingConfig | None = None,
        *,
        clock: Clock,
        random: Callable[[], float] | _random.Random | None = None,
    ) -> None:
        self.providers = _checked(providers)
        self.config = config if config is not None else RoutingConfig()
        self.clock = clock
        if random is None:
            random = _random.Random()  # noqa: S311 - jitter and load spreading, not secrets
        elif not callable(random) and not isinstance(random, _random.Random):
            raise ConfigurationError(
                f"random takes a random.Random or a function returning floats in [0, 1), not {random!r}"
            )
        self._random: Callable[[], float] = random.random if isinstance(random, _random.Random) else random
        self.weights = self._weights(self.config.weights)
        shared = self.config.shared_state
        state: RoutingState = shared if shared is not None else LocalState()
        self.breakers: dict[str, Breaker] = {
            p.name: state.breaker(p.name, self.config.breaker, clock=clock) for p in self.providers
        }
        limits = self._limits(self.config.rate_limit)
        self.buckets: dict[str, Limiter] = {
            name: state.limiter(name, limit, clock=clock) for name, limit in limits.items()
        }
        self._eligible: dict[tuple[Operation, str | None], list[Provider]] = {}
        self._turn = 0
        self._lock = threading.Lock()

    @property
    def strategy(self) -> Strategy:
        """The configured strategy."""
        return self.config.strategy

    # --- configuration ----------------------------------------------------------------

    def _weights(self, weights: Sequence[float] | Mapping[str, float] | None) -> dict[str, float]:
        names = [p.name for p in self.providers]
        if weights is None:
            return dict.fromkeys(names, 1.0)
        if isinstance(weights, Mapping):
            _known(weights, names, "weights")
            table = {name: float(weights.get(name, 0.0)) for name in names}
        elif len(weights) != len(names):
            raise ConfigurationError(f"{len(weights)} weights for {len(names)} providers; give one each")
        else:
            table = {name: float(w) for name, w in zip(names, weights, strict=True)}
        if any(w < 0 for w in table.values()):
            raise ConfigurationError("weights must not be negative")
        return table

    def _limits(self, rate_limit: RateLimit | Mapping[str, RateLimit] | None) -> dict[str, RateLimit]:
        if rate_limit is None:
            return {}
        if isinstance(rate_limit, RateLimit):
            return {p.name: rate_limit for p in self.providers}
        _known(rate_limit, [p.name for p in self.providers], "rate_limit")
        return dict(rate_limit)

    # --- selection ----------------------------------------------------------------------

    def eligible(self, operation: Operation, *, kind: str | None = None) -> list[Provider]:
        """Providers declaring the capability ``operation`` needs (and the balance ``kind``)."""
        # Capabilities are declared up front and frozen: the answer never changes.
        found = self._eligible.get((operation, kind))
        if found is None:
            found = [
                p
                for p in self.providers
                if p.capabilities.supports(operation)
                and (kind is None or kind in p.capabilities.balance_kinds)
            ]
            self._eligible[operation, kind] = found
        if not found:
            what = f"{operation.value} ({kind})" if kind else operation.value
            raise UnsupportedOperationError(
                f"no configured provider supports {what}", operation=operation.value
            )
        return list(found)  # a copy: the cached list is never handed out

    def renderable(self, operation: Operation, candidates: list[Provider], payload: object) -> list[Provider]:
        """The ``candidates`` able to render what is sent: for a send its message, for a batch
        every one of its messages (a provider unable to render one is skipped for the whole
        batch). Decided before any I/O, like a missing capability; when no candidate can,
        :class:`UnrenderableMessageError` (an :class:`UnsupportedOperationError` and a
        :class:`ValidationError`: nothing was sent) gives each one's reason."""
        messages = (
            [payload] if isinstance(payload, Sms) else list(payload) if isinstance(payload, tuple) else []
        )
        able: list[Provider] = []
        reasons: list[str] = []
        for provider in candidates:
            reason = _reason(provider, messages)
            if reason is None:
                able.append(provider)
            else:
                reasons.append(f"{provider.name}: {reason}")
        if reasons:
            log.debug("%s: skipped before any request (%s)", operation.value, "; ".join(reasons))
        if not able:
            raise UnrenderableMessageError(
                f"no configured provider can render this message ({'; '.join(reasons)})",
                operation=operation.value,
            )
        return able

    def order(self, candidates: list[Provider]) -> list[Provider]:
        """The order to try ``candidates`` in for one call, per the strategy."""
        if len(candidates) < 2 or self.strategy is Strategy.FAILOVER:
            return list(candidates)
        if self.strategy is Strategy.ROUND_ROBIN:
            with self._lock:
                start = self._turn % len(candidates)
                self._turn += 1
            return candidates[start:] + candidates[:start]
        return self._weighted(candidates)

    def _weighted(self, candidates: list[Provider]) -> list[Provider]:
        """The first choice drawn by weight, the rest in weight order (heaviest first; ties
        keep the configured order)."""
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

    # --- plans ----------------------------------------------------------------------------

    def plan(
        self,
        operation: Operation,
        call: Call[T],
        payload: Any = None,
        *,
        kind: str | None = None,
        only: Provider | None = None,
    ) -> Plan[T]:
        """Decide the attempts for one operation: yield :class:`Attempt` and :class:`Sleep`
        commands, receive their outcomes, return the result or raise the final error.

        :param call: builds a provider's flow for the current payload.
        :param payload: the message(s) sent; a resumed send narrows it to what is pending.
        :param only: route to this provider alone (no failover): change_password,
            query_status, and the per-provider pulls of fetch_reports / fetch_inbound.

        A send or a batch goes only to providers able to render it (:meth:`renderable`).
        """
        if only is not None:
            providers = [only]
        else:
            providers = self.eligible(operation, kind=kind)
            if operation in (Operation.SEND, Operation.SEND_BATCH):
                providers = self.renderable(operation, providers, payload)
            providers = self.order(providers)
        run: Run[T] = Run(
            operation,
            payload,
            retry=self.config.retry,
            failover_on_uncertain=self.config.failover_on_uncertain,
            started=self.clock(),
        )
        for index, provider in enumerate(providers):
            outcome = yield from self._on(provider, call, run, providers[index + 1 :])
            if isinstance(outcome, Success):
                return run.succeeded(outcome.value)
            if not run.may_move_on:
                raise run.stop()
        raise run.exhausted(len(providers))

    def _on(
        self, provider: Provider, call: Call[T], run: Run[T], later: Sequence[Provider]
    ) -> Plan[Success | None]:
        """The attempts on one provider: its first try and the retries that are safe. A
        failure that may go elsewhere goes to the next of ``later`` at once when one can take
        it (:meth:`Run.moves_on`); the retries are for the last provider able to.

        Returns the success, or ``None`` when this provider is done with.
        """
        breaker = self.breakers[provider.name]
        number = 0
        while _asked(breaker.allow, run):
            number += 1
            outcome = yield from self._attempt(provider, call, run, number)
            if isinstance(outcome, Success):
                return outcome
            if not run.failed(outcome.error) or run.moves_on(number, lambda: self._available(later)):
                return None
            delay = run.backoff(number, self._random, self.clock)
            if delay is None or self._refuses(provider, delay):
                return None
            yield Sleep(delay)
        if number == 0:
            run.skipped(provider)
        return None

    def _refuses(self, provider: Provider, delay: float) -> bool:
        """Whether ``provider``'s breaker will refuse a retry ``delay`` seconds from now: its
        circuit is open (the failure just recorded may have opened it) and the wait ends
        within the cool-down. No backoff is slept before such a retry. (A peek, like
        :meth:`_available`: no probe is claimed; a shared state that cannot answer leaves the
        question to the breaker's ``allow`` after the wait.)"""
        policy = self.config.breaker
        if not policy.enabled or delay >= policy.cool_down:
            return False
        try:
            health = self.breakers[provider.name].snapshot(provider.name)
        except SmsGateError:
            return False
        return health.state is BreakerState.OPEN

    def _available(self, providers: Sequence[Provider]) -> bool:
        """Whether one of ``providers`` may be tried now: its circuit is not open. (A peek: no
        half-open probe is claimed; a shared state that cannot answer counts as no.)"""
        for provider in providers:
            try:
                health = self.breakers[provider.name].snapshot(provider.name)
            except SmsGateError:
                continue
            if health.state is not BreakerState.OPEN:
                return True
        return False

    def _attempt(self, provider: Provider, call: Call[T], run: Run[T], number: int) -> Plan[Outcome]:
        """One attempt: wait for the rate limit, have it run, record it on the breaker.

        A plan closed here (its task was cancelled), or stopped because a shared limiter
        could not answer, hands a claimed half-open probe back.
        """
        breaker = self.breakers[provider.name]
        try:
            bucket = self.buckets.get(provider.name)
            if bucket is not None:
                wait = _asked(bucket.reserve, run)
                while wait > 0:
                    yield Sleep(wait, reason="rate_limit")
                    wait = _asked(bucket.recheck, run)
            run.made += 1
            outcome = yield Attempt(provider, run.operation, call, run.payload, number)
        except (GeneratorExit, SmsGateError):
            breaker.release()
            raise
        if not isinstance(outcome, Success | Failure):
            raise TypeError(f"an Attempt needs a Success or Failure back, not {outcome!r}")
        breaker.record(outcome.error if isinstance(outcome, Failure) else None)
        return outcome

    def password_plan(self, call: Call[None], provider: str | None) -> Plan[None]:
        """Change the password of exactly one provider: ``provider``, or the only one able
        to. Never fails over (the old password may already be gone)."""
        op = Operation.CHANGE_PASSWORD
        if provider is None:
            capable = self.eligible(op)
            if len(capable) > 1:
                names = ", ".join(repr(p.name) for p in capable)
                raise ConfigurationError(
                    f"several providers can change a password ({names}); name one with provider="
                )
            return self.plan(op, call, only=capable[0])
        return self.plan(op, call, only=self._target(provider, op, "change its password"))

    def status_plan(
        self,
        call: Call[list[DeliveryReport]],
        receipt: Receipt,
        *,
        unsupported: Callable[[UnsupportedOperationError], None] | None = None,
    ) -> Plan[list[DeliveryReport]]:
        """Look up the reports of ``receipt`` at the provider it names, with retries but no
        failover (no other provider knows the message). A receipt whose parts were accepted
        by several providers (a send resumed elsewhere) is looked up part by part, each at
        its own provider. Every provider is checked before the first request: one not in this
        gateway is a :class:`ConfigurationError`.

        A part whose provider does not declare ``query_status`` is not looked up: its
        :class:`UnsupportedOperationError` is logged here and goes to ``unsupported`` (the
        gateway tells the ``send_failed`` observers), and the other parts are looked up. Only when no
        part can be is that error raised, before any request.
        """
        if not isinstance(receipt, Receipt):
            raise ValidationError(f"query_status() takes a Receipt, not {type(receipt).__name__}")
        op = Operation.QUERY_STATUS
        targets: list[tuple[Provider, Receipt]] = []
        refused: list[UnsupportedOperationError] = []
        for name, part in _by_provider(receipt):
            try:
                targets.append((self._target(name, op, "look messages up (query_status)"), part))
            except UnsupportedOperationError as exc:
                refused.append(exc)
        if not targets:
            raise refused[0]
        for skipped in refused:
            log.warning("query_status: %s cannot look messages up; its part is skipped", skipped.provider)
            if unsupported is not None:
                unsupported(skipped)
        reports: list[DeliveryReport] = []
        for target, part in targets:
            reports.extend((yield from self.plan(op, call, part, only=target)))
        return reports

    def _target(self, name: str, operation: Operation, what: str) -> Provider:
        """The provider of this gateway called ``name``, which must support ``operation``."""
        target = next((p for p in self.providers if p.name == name), None)
        if target is None:
            raise ConfigurationError(
                f"no provider named {name!r} in this gateway", provider=name, operation=operation.value
            )
        if not target.capabilities.supports(operation):
            raise UnsupportedOperationError(
                f"provider {name!r} cannot {what}", provider=name, operation=operation.value
            )
        return target

    def pull_plan(
        self, operation: Operation, call: Callable[[Provider, int | None], Flow[list[T]]], limit: int | None
    ) -> Plan[list[T]]:
        """Pull from *every* provider that can (reports and inbound messages sit at the
        provider that handled the message), each with retries but no failover.

        Pulls are destructive at most vendors, so a provider's failure — of any kind — does
        not discard what the others returned: its attempts are reported like any other, and
        it is raised only when every provider failed. Whatever a failed provider still holds
        is returned by a later pull. ``limit`` caps the items over all providers.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValidationError(f"limit must be a whole number, at least 1, not {limit!r}", field="limit")
        items: list[T] = []
        caught: list[SmsGateError] = []
        providers = self.eligible(operation)
        for provider in providers:
            remaining = None if limit is None else limit - len(items)
            if remaining == 0:
                break
            try:
                items.extend((yield from self.plan(operation, call, remaining, only=provider)))
            except SmsGateError as exc:
                # Never re-raise here: the providers before this one have already handed
                # over (and forgotten) what ``items`` holds.
                log.warning(
                    "%s: %s failed (%s); keeping the other providers' items",
                    operation.value,
                    provider.name,
                    type(exc).__name__,
                )
                caught.append(exc)
        if len(caught) == len(providers):
            raise _all_failed(operation, caught)
        return items


def _asked(question: Callable[[], T], run: Run[Any]) -> T:
    """The answer of a breaker or limiter asked before an attempt. When it cannot answer (a
    shared store is unreachable: a not-sent error), the call ends with that error, carrying
    the earlier attempts and any receipts already kept (then as a partial send)."""
    try:
        return question()
    except SmsGateError as exc:
        raise run.final(exc)  # noqa: B904 - the error is exc itself, or a partial send caused by it


def _checked(providers: Sequence[Provider]) -> tuple[Provider, ...]:
    """The providers, each a Provider and each with its own name."""
    if not providers:
        raise ConfigurationError("a gateway needs at least one provider")
    names: set[str] = set()
    for provider in providers:
        if not isinstance(provider, Provider):
            raise ConfigurationError(f"{provider!r} is not an smsgate.Provider")
        if not isinstance(getattr(provider, "capabilities", None), Capabilities):
            raise ConfigurationError(f"{provider!r} declares no smsgate.Capabilities as its capabilities")
        if not (isinstance(getattr(provider, "name", None), str) and provider.name):
            raise ConfigurationError(f"{provider!r} has no name (a non-empty string)")
        if provider.name in names:
            raise ConfigurationError(f"two providers are named {provider.name!r}; give each a distinct name")
        names.add(provider.name)
    return tuple(providers)


def _reason(provider: Provider, messages: list[Sms]) -> str | None:
    """Why ``provider`` cannot render one of ``messages`` (the first it cannot), or None. A
    message with a ``send_at`` needs ``Capabilities.scheduling``, like any capability. A
    batch is asked of the provider at once (:meth:`Provider.cannot_render_batch`)."""
    if len(messages) == 1:
        message = messages[0]
        reason = provider.cannot_render(message)
        if reason is None and message.send_at is not None and not provider.capabilities.scheduling:
            reason = "does not schedule sends, and the message has a send_at"
        return reason
    scheduled = len(messages)
    if not provider.capabilities.scheduling:
        # getattr: an item that is no Sms is left to cannot_render, which refuses it as before.
        found_at = (i for i, message in enumerate(messages) if getattr(message, "send_at", None) is not None)
        scheduled = next(found_at, scheduled)
    # Up to and including the first message with a send_at: its own render reason comes first.
    found = provider.cannot_render_batch(messages[: scheduled + 1])
    if found is None:
        if scheduled == len(messages):
            return None
        found = scheduled, "does not schedule sends, and the message has a send_at"
    return f"message {found[0] + 1} of the batch: {found[1]}"


def _by_provider(receipt: Receipt) -> list[tuple[str, Receipt]]:
    """``receipt`` split by the provider that accepted each part (one entry, usually)."""
    names = list(dict.fromkeys(part.provider for part in receipt.parts))
    if len(names) < 2:
        return [(names[0] if names else receipt.provider, receipt)]
    return [(name, Receipt.combine(p for p in receipt.parts if p.provider == name)) for name in names]


def _known(table: Mapping[str, object], names: list[str], what: str) -> None:
    unknown = set(table) - set(names)
    if unknown:
        raise ConfigurationError(f"{what} name unknown providers: {', '.join(sorted(unknown))}")


def _all_failed(operation: Operation, caught: list[SmsGateError]) -> SmsGateError:
    """The error of a pull that failed on every provider: its own with one, else a group."""
    if len(caught) == 1:
        return caught[0]
    leaves = [
        e for exc in caught for e in (exc.attempts if isinstance(exc, AllProvidersFailedError) else [exc])
    ]
    return AllProvidersFailedError(
        f"{operation.value} failed on every provider", leaves, operation=operation.value
    )
