"""Gateway and AsyncGateway: the application's one object for sending and reading messages.

Every decision (which provider, retry or not, how long to wait) is made by
:class:`smsgate._routing.Router`, without I/O. This module adds what is common to both
gateways — building each operation's plan, logging and observation hooks — in
:class:`_GatewayCore`, and the two thin drivers that execute a plan's commands: one with
:func:`smsgate.run_flow` and ``time.sleep``, one with :func:`smsgate.arun_flow` and
``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random as _random
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import attrs
import httpx

from smsgate import _plugins
from smsgate._drivers import arun_flow, run_flow
from smsgate._models import Balance, DeliveryReport, InboundMessage, Mms, Receipt, Sms, mask_mobile
from smsgate._provider import Operation, Provider
from smsgate._routing import (
    Attempt,
    BreakerPolicy,
    BreakerState,
    Failure,
    Plan,
    ProviderHealth,
    RateLimit,
    RetryPolicy,
    Router,
    Sleep,
    Success,
)
from smsgate.exceptions import (
    AllProvidersFailedError,
    ConfigurationError,
    PartialBatchError,
    SmsGateError,
    UnsupportedOperationError,
    ValidationError,
)

__all__ = [
    "AsyncGateway",
    "BreakerPolicy",
    "BreakerState",
    "Gateway",
    "ProviderHealth",
    "RateLimit",
    "RetryPolicy",
]

log = logging.getLogger("smsgate.gateway")

ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)
Sent = Sms | Mms | tuple[Sms, ...]


def _numbers(message: Any) -> str:
    """Masked recipients of what is being sent, for log lines."""
    if isinstance(message, Sms | Mms):
        numbers = list(message.to)
    elif isinstance(message, tuple | list):
        numbers = [n for m in message for n in getattr(m, "to", ())]
    else:
        return "-"
    shown = ",".join(mask_mobile(n) for n in numbers[:3])
    return shown + (f",…+{len(numbers) - 3}" if len(numbers) > 3 else "")


class _GatewayCore(Generic[ClientT]):
    """What both gateways share: configuration, plans per operation, logging and hooks."""

    def __init__(
        self,
        providers: Provider | Sequence[Provider],
        *,
        strategy: str = "failover",
        weights: Sequence[float] | Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        rate_limit: RateLimit | Mapping[str, RateLimit] | None = None,
        client: ClientT | None = None,
        failover_on_uncertain: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
        random: Callable[[], float] | _random.Random | None = None,
    ) -> None:
        listed = [providers] if isinstance(providers, Provider) else list(providers)
        self._router = Router(
            listed,
            strategy=strategy,
            weights=weights,
            retry=retry if retry is not None else RetryPolicy(),
            breaker=breaker if breaker is not None else BreakerPolicy(),
            rate_limit=rate_limit,
            failover_on_uncertain=failover_on_uncertain,
            clock=clock,
            random=random,
        )
        self._sleep = sleep
        self._owns_client = client is None
        self._client: ClientT = client if client is not None else self._new_client()
        self._closed = False

    def _new_client(self) -> ClientT:
        raise NotImplementedError

    # --- introspection ------------------------------------------------------------------

    @property
    def providers(self) -> tuple[Provider, ...]:
        """The configured providers, in configured order (read-only)."""
        return self._router.providers

    @property
    def client(self) -> ClientT:
        """The HTTP client the providers' requests go through."""
        return self._client

    def health(self) -> list[ProviderHealth]:
        """Each provider's circuit state and consecutive availability failures, in order."""
        return self._router.health()

    def __repr__(self) -> str:
        names = ", ".join(p.name for p in self.providers)
        return f"<{type(self).__name__} [{names}] strategy={self._router.strategy!r}>"

    # --- plans per operation --------------------------------------------------------------

    def _open(self) -> None:
        if self._closed:
            raise ConfigurationError(f"this {type(self).__name__} is closed")

    def _send_plan(self, sms: Sms) -> Plan:
        self._open()
        if not isinstance(sms, Sms):
            raise ValidationError(f"send() takes an Sms, not {type(sms).__name__}")
        return self._observed(
            self._router.plan(Operation.SEND, lambda p, m: p.send(m), sms), Operation.SEND, sms
        )

    def _batch_plan(self, messages: Sequence[Sms]) -> Plan:
        self._open()
        batch = tuple(messages)
        if not batch or not all(isinstance(m, Sms) for m in batch):
            raise ValidationError("send_batch() takes a non-empty sequence of Sms")
        return self._observed(
            self._router.plan(Operation.SEND_BATCH, lambda p, m: p.send_batch(m), batch),
            Operation.SEND_BATCH,
            batch,
        )

    def _mms_plan(self, mms: Mms) -> Plan:
        self._open()
        if not isinstance(mms, Mms):
            raise ValidationError(f"send_mms() takes an Mms, not {type(mms).__name__}")
        return self._observed(
            self._router.plan(Operation.SEND_MMS, lambda p, m: p.send_mms(m), mms), Operation.SEND_MMS, mms
        )

    def _balance_plan(self, kind: str) -> Plan:
        self._open()
        return self._observed(
            self._router.plan(Operation.BALANCE, lambda p, _: p.balance(kind), kind=kind),
            Operation.BALANCE,
            None,
        )

    def _password_plan(self, new_password: str, provider: str | None) -> Plan:
        self._open()
        op = Operation.CHANGE_PASSWORD
        if provider is not None:
            target = next((p for p in self.providers if p.name == provider), None)
            if target is None:
                raise ConfigurationError(f"no provider named {provider!r} in this gateway")
            if not target.capabilities.supports(op):
                raise UnsupportedOperationError(
                    f"provider {provider!r} cannot change its password", provider=provider, operation=op.value
                )
        else:
            capable = self._router.eligible(op)
            if len(capable) > 1:
                names = ", ".join(repr(p.name) for p in capable)
                raise ConfigurationError(
                    f"several providers can change a password ({names}); name one with provider="
                )
            target = capable[0]
        return self._observed(
            self._router.plan(op, lambda p, _: p.change_password(new_password), only=target), op, None
        )

    def _pull_plan(
        self, operation: Operation, call: Callable[[Provider, int | None], Any], limit: int | None
    ) -> Plan:
        """Pull from *every* provider that can (reports and inbound messages sit at the
        provider that handled the message), each with retries but no failover.

        Pulls are destructive at most vendors, so a provider's failure — of any kind — does
        not discard what the others returned: it is logged and reported to ``send_failed``
        observers, and raised only when every provider failed. Whatever a failed provider
        still holds is returned by a later pull.
        """
        self._open()
        if limit is not None and limit < 1:
            raise ValidationError("limit must be at least 1", field="limit")
        items: list[Any] = []
        caught: list[SmsGateError] = []
        providers = self._router.eligible(operation)
        for provider in providers:
            remaining: int | None = None if limit is None else limit - len(items)
            if remaining == 0:
                break

            def pull(p: Provider, _: object, n: int | None = remaining) -> Any:
                return call(p, n)

            try:
                pulled = yield from self._observed(
                    self._router.plan(operation, pull, only=provider), operation, None
                )
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
                continue
            items.extend(pulled)
        if len(caught) == len(providers):
            if len(caught) == 1:
                raise caught[0]
            leaves = [
                e
                for exc in caught
                for e in (exc.attempts if isinstance(exc, AllProvidersFailedError) else [exc])
            ]
            raise AllProvidersFailedError(
                f"{operation.value} failed on every provider", leaves, operation=operation.value
            )
        hook = "report_received" if operation is Operation.FETCH_REPORTS else "inbound_received"
        for item in items:
            _plugins.notify(hook, **({"report": item} if hook == "report_received" else {"message": item}))
        log.info("%s: %d pulled from %d providers", operation.value, len(items), len(providers))
        return items

    # --- observation ---------------------------------------------------------------------

    def _observed(self, plan: Plan, operation: Operation, message: Sent | None) -> Plan:
        """Forward ``plan``'s commands, logging and announcing each failed attempt and the
        accepted requests (after the plan, so receipts carry their attempt count)."""
        reply: Success | Failure | None = None
        while True:
            try:
                command = plan.send(reply)
            except StopIteration as stop:
                self._accepted(stop.value, message)
                return stop.value
            except PartialBatchError as exc:
                self._accepted(list(exc.receipts), message)
                raise
            reply = yield command
            if isinstance(command, Attempt) and isinstance(reply, Failure):
                self._failed(command, reply.error)

    def _failed(self, attempt: Attempt, error: SmsGateError) -> None:
        log.warning(
            "%s failed on %s (attempt %d, %s, code %s)",
            attempt.operation.value,
            attempt.provider.name,
            attempt.number,
            type(error).__name__,
            getattr(error, "code", None),
        )
        log.debug("failed %s to %s: %r", attempt.operation.value, _numbers(attempt.message), error)
        _plugins.notify(
            "send_failed",
            provider=attempt.provider.name,
            operation=attempt.operation.value,
            error=error,
            message=attempt.message,
        )

    def _accepted(self, result: Any, message: Sent | None) -> None:
        receipts = [result] if isinstance(result, Receipt) else result
        if not isinstance(receipts, list) or not all(isinstance(r, Receipt) for r in receipts):
            return
        for receipt in receipts:
            sent = _request_of(receipt, message)
            log.info(
                "accepted by %s: task %s, %d recipients, attempt %d",
                receipt.provider,
                receipt.task_id,
                receipt.accepted,
                receipt.attempts,
            )
            log.debug("accepted %s to %s", receipt.task_id, _numbers(sent))
            _plugins.notify("message_sent", receipt=receipt, message=sent)

    # --- closing ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True after ``close()`` / ``aclose()``."""
        return self._closed


def _request_of(receipt: Receipt, message: Sent | None) -> Any:
    """The part of ``message`` one receipt covers: for a batch sent as several requests,
    the messages whose recipients the receipt lists (all of them when it lists none)."""
    if not isinstance(message, tuple) or not receipt.recipients:
        return message
    covered = set(receipt.recipients)
    return tuple(m for m in message if set(m.to) <= covered) or message


@attrs.frozen
class _Done:
    value: Any


def _step(plan: Plan, reply: Success | Failure | None) -> Attempt | Sleep | _Done:
    """Feed ``reply`` to ``plan``; return its next command, or its result as :class:`_Done`."""
    try:
        return plan.send(reply)
    except StopIteration as stop:
        return _Done(stop.value)


def _options(attempt: Attempt) -> dict[str, Any]:
    """The driver arguments for one attempt: names for errors and logs, the provider's timeout."""
    provider = attempt.provider
    return {"provider": provider.name, "operation": attempt.operation.value, "timeout": provider.timeout}


class Gateway(_GatewayCore[httpx.Client]):
    """Send and read messages through one or several providers (synchronous).

    >>> import smsgate
    >>> providers = [smsgate.get_provider("memory", name=name) for name in ("a", "b")]
    >>> with smsgate.Gateway(providers) as gateway:
    ...     receipt = gateway.send(smsgate.Sms(to="13800138000", text="hi【shop】"))
    >>> receipt.provider, receipt.attempts
    ('a', 1)

    :param providers: one provider, or several in preference order.
    :param strategy: ``"failover"`` (in order), ``"round_robin"`` (the first choice rotates
        per call, the others follow as fallbacks) or ``"weighted"`` (the first choice is drawn
        by ``weights``, the others follow heaviest first).
    :param weights: for ``"weighted"``: one number per provider, or a mapping name → weight.
    :param retry: :class:`RetryPolicy` for retrying one provider when that is safe.
    :param breaker: :class:`BreakerPolicy` for each provider's circuit breaker.
    :param rate_limit: a :class:`RateLimit` applied to each provider, or a mapping
        provider name → RateLimit.
    :param client: an ``httpx.Client`` to use as is (you close it); by default the gateway
        opens one (TLS verified, redirects not followed) and closes it in :meth:`close`.
    :param failover_on_uncertain: allow sending to the next provider after an uncertain
        outcome of a send (it may deliver the message twice). Off by default.
    :param clock: monotonic seconds, for backoff budgets, breakers and rate limits.
    :param sleep: how to wait (default ``time.sleep``).
    :param random: a ``random.Random`` or a function returning floats in ``[0, 1)``, for
        jitter and weighted choice.

    Routing rules, errors and their guarantees: see ``docs/routing.md``. The gateway is
    safe to share between threads.
    """

    def _new_client(self) -> httpx.Client:
        return httpx.Client(verify=True, follow_redirects=False)

    def send(self, sms: Sms) -> Receipt:
        """Send one text message; the receipt names the provider that accepted it."""
        result: Receipt = self._run(self._send_plan(sms))
        return result

    def send_batch(self, messages: Sequence[Sms]) -> list[Receipt]:
        """Send personalised messages; one receipt per request the provider made."""
        result: list[Receipt] = self._run(self._batch_plan(messages))
        return result

    def send_mms(self, mms: Mms) -> Receipt:
        """Send one multimedia message."""
        result: Receipt = self._run(self._mms_plan(mms))
        return result

    def balance(self, kind: str = "sms") -> Balance:
        """The balance of ``kind`` (``"sms"`` or ``"mms"``) from a provider that reports it."""
        result: Balance = self._run(self._balance_plan(kind))
        return result

    def fetch_reports(self, *, limit: int | None = None, task_id: str | None = None) -> list[DeliveryReport]:
        """Pull queued delivery reports from every provider that can (destructive pull)."""
        plan = self._pull_plan(
            Operation.FETCH_REPORTS, lambda p, n: p.fetch_reports(limit=n, task_id=task_id), limit
        )
        result: list[DeliveryReport] = self._run(plan)
        return result

    def fetch_inbound(self) -> list[InboundMessage]:
        """Pull queued inbound messages from every provider that can (destructive pull)."""
        result: list[InboundMessage] = self._run(
            self._pull_plan(Operation.FETCH_INBOUND, lambda p, _: p.fetch_inbound(), None)
        )
        return result

    def change_password(self, new_password: str, *, provider: str | None = None) -> None:
        """Change the password of exactly one provider: ``provider``, or the only one able to.
        Never fails over."""
        self._run(self._password_plan(new_password, provider))

    def close(self) -> None:
        """Close the HTTP client if the gateway opened it. Further calls raise."""
        self._closed = True
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, plan: Plan) -> Any:
        reply: Success | Failure | None = None
        while not isinstance(command := _step(plan, reply), _Done):
            if isinstance(command, Sleep):
                (self._sleep or time.sleep)(command.seconds)
                reply = None
                continue
            try:
                reply = Success(run_flow(command.start(), self._client, **_options(command)))
            except SmsGateError as exc:
                reply = Failure(exc)
        return command.value


class AsyncGateway(_GatewayCore[httpx.AsyncClient]):
    """The asynchronous twin of :class:`Gateway`: same constructor, same methods as coroutines.

    >>> import asyncio, smsgate
    >>> async def main() -> str:
    ...     async with smsgate.AsyncGateway(smsgate.get_provider("memory")) as gateway:
    ...         receipt = await gateway.send(smsgate.Sms(to="13800138000", text="hi【shop】"))
    ...     return receipt.provider
    >>> asyncio.run(main())
    'memory'

    ``client`` is an ``httpx.AsyncClient``; ``sleep`` defaults to ``asyncio.sleep`` and may
    be a plain or a coroutine function. Safe to share between tasks of one event loop.
    """

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=True, follow_redirects=False)

    async def send(self, sms: Sms) -> Receipt:
        """Send one text message; the receipt names the provider that accepted it."""
        result: Receipt = await self._run(self._send_plan(sms))
        return result

    async def send_batch(self, messages: Sequence[Sms]) -> list[Receipt]:
        """Send personalised messages; one receipt per request the provider made."""
        result: list[Receipt] = await self._run(self._batch_plan(messages))
        return result

    async def send_mms(self, mms: Mms) -> Receipt:
        """Send one multimedia message."""
        result: Receipt = await self._run(self._mms_plan(mms))
        return result

    async def balance(self, kind: str = "sms") -> Balance:
        """The balance of ``kind`` (``"sms"`` or ``"mms"``) from a provider that reports it."""
        result: Balance = await self._run(self._balance_plan(kind))
        return result

    async def fetch_reports(
        self, *, limit: int | None = None, task_id: str | None = None
    ) -> list[DeliveryReport]:
        """Pull queued delivery reports from every provider that can (destructive pull)."""
        plan = self._pull_plan(
            Operation.FETCH_REPORTS, lambda p, n: p.fetch_reports(limit=n, task_id=task_id), limit
        )
        result: list[DeliveryReport] = await self._run(plan)
        return result

    async def fetch_inbound(self) -> list[InboundMessage]:
        """Pull queued inbound messages from every provider that can (destructive pull)."""
        result: list[InboundMessage] = await self._run(
            self._pull_plan(Operation.FETCH_INBOUND, lambda p, _: p.fetch_inbound(), None)
        )
        return result

    async def change_password(self, new_password: str, *, provider: str | None = None) -> None:
        """Change the password of exactly one provider: ``provider``, or the only one able to.
        Never fails over."""
        await self._run(self._password_plan(new_password, provider))

    async def aclose(self) -> None:
        """Close the HTTP client if the gateway opened it. Further calls raise."""
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self, plan: Plan) -> Any:
        reply: Success | Failure | None = None
        while not isinstance(command := _step(plan, reply), _Done):
            if isinstance(command, Sleep):
                waited = (self._sleep or asyncio.sleep)(command.seconds)
                if inspect.isawaitable(waited):
                    await waited
                reply = None
                continue
            try:
                reply = Success(await arun_flow(command.start(), self._client, **_options(command)))
            except SmsGateError as exc:
                reply = Failure(exc)
        return command.value
