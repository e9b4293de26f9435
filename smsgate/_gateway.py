"""Gateway and AsyncGateway: the application's one object for sending and reading messages.

Every decision (which provider, retry or not, how long to wait) is made by the routing
package (:class:`smsgate.routing.Router`), without I/O. This module adds what is common to
both gateways in :class:`_GatewayCore` — checking arguments, and the one after-attempt step
(logging, the ``send_failed`` hook) and one after-result step (logging, ``message_sent``,
``report_received``, ``inbound_received``) — and the two thin loops that execute a plan's
commands: one with :func:`smsgate.run_flow` and ``time.sleep``, one with
:func:`smsgate.arun_flow` and ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random as _random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

import httpx

from smsgate import _plugins
from smsgate._drivers import arun_flow, run_flow
from smsgate._models import Balance, DeliveryReport, InboundMessage, Mms, Receipt, Sms, mask_mobile
from smsgate._provider import Flow, Operation, Provider
from smsgate._secret import Secret
from smsgate.exceptions import (
    ConfigurationError,
    PartialSendError,
    SmsGateError,
    UnsupportedOperationError,
    ValidationError,
)
from smsgate.routing import (
    Attempt,
    BreakerPolicy,
    Command,
    Failure,
    Outcome,
    Plan,
    ProviderHealth,
    RateLimit,
    RetryPolicy,
    Router,
    RoutingConfig,
    RoutingState,
    Sleep,
    Strategy,
    Success,
)
from smsgate.settings import cut_traceback

__all__ = ["AsyncGateway", "Gateway"]

log = logging.getLogger("smsgate.gateway")

ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)
T = TypeVar("T")
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


def _request_of(
    receipt: Receipt, message: tuple[Sms, ...], by_number: Mapping[str, list[int]]
) -> tuple[Sms, ...]:
    """The part of ``message`` one receipt covers: for a batch sent as several requests,
    the messages whose recipients the receipt lists (all of them when it lists none).

    ``by_number`` maps each number to the positions of the messages sent to it
    (:func:`_positions`), so a receipt costs its own recipients, not the whole batch."""
    if not receipt.recipients:
        return message
    covered = set(receipt.recipients)
    candidates = sorted({i for number in covered for i in by_number.get(number, ())})
    return tuple(message[i] for i in candidates if set(message[i].to) <= covered) or message


def _positions(message: tuple[Sms, ...]) -> dict[str, list[int]]:
    """Each number of a batch → the positions of the messages sent to it."""
    by_number: dict[str, list[int]] = {}
    for i, sms in enumerate(message):
        for number in sms.to:
            by_number.setdefault(number, []).append(i)
    return by_number


class _Closable(Protocol):
    def close(self) -> None: ...


def _provider_list(providers: object, gateway: str) -> list[Any]:
    """``providers`` as a list: one provider, or an iterable of them (each is checked by the
    router). A name, or anything neither a provider nor an iterable, is a ConfigurationError."""
    if isinstance(providers, str):  # a name is not a sequence of providers
        raise ConfigurationError(
            f"providers must be Provider objects, not the string {providers!r}: build one with "
            f"smsgate.get_provider({providers!r}), or a gateway from a config file with "
            f"{gateway}.from_config(path)"
        )
    if isinstance(providers, Provider):
        return [providers]
    if not isinstance(providers, Iterable):
        raise ConfigurationError(
            f"providers must be a Provider or a sequence of them, not {type(providers).__name__}"
        )
    return list(providers)


def _check_tools(gateway: type[Any], client: object, *, clock: object, sleep: object) -> None:
    """The gateway's client, clock and sleep are checked when it is built: a client of the
    other flavour (or no httpx client at all) would make every send look *uncertain*, and a
    sleep that cannot be called would raise in the middle of a send."""
    wanted: type[Any] = gateway._client_type
    if client is not None and not isinstance(client, wanted):
        raise ConfigurationError(
            f"client must be an {wanted.__module__}.{wanted.__name__} for {gateway.__name__}, "
            f"not {type(client).__name__}"
        )
    if not callable(clock):
        raise ConfigurationError(
            f"clock must be a function returning monotonic seconds, not {type(clock).__name__}"
        )
    if sleep is not None and not callable(sleep):
        raise ConfigurationError(f"sleep must be a function taking seconds, not {type(sleep).__name__}")


def _check_pull(observe: object, task_id: object = None) -> None:
    """A pull's own arguments: ``observe`` a bool (``"false"`` would be true, and the caller
    that journals the events before announcing them would have them announced twice), and
    ``task_id`` a string or ``None``."""
    if not isinstance(observe, bool):
        raise ValidationError(f"observe must be True or False, not {observe!r}", field="observe")
    if task_id is not None and not isinstance(task_id, str):
        raise ValidationError(
            f"task_id must be a string or None, not {type(task_id).__name__}", field="task_id"
        )


class _GatewayCore(Generic[ClientT]):
    """What both gateways share: configuration, argument checks, the after-attempt and
    after-result steps."""

    #: The HTTP client class this gateway drives (a given ``client`` must be one).
    _client_type: type[httpx.Client] | type[httpx.AsyncClient]

    def __init__(
        self,
        providers: Provider | Sequence[Provider],
        *,
        strategy: Strategy | str | None = None,
        weights: Sequence[float] | Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        rate_limit: RateLimit | Mapping[str, RateLimit] | None = None,
        client: ClientT | None = None,
        failover_on_uncertain: bool | None = None,
        shared_state: RoutingState | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
        random: Callable[[], float] | _random.Random | None = None,
    ) -> None:
        config = RoutingConfig.given(
            strategy=strategy,
            weights=weights,
            retry=retry,
            breaker=breaker,
            rate_limit=rate_limit,
            failover_on_uncertain=failover_on_uncertain,
            shared_state=shared_state,
        )
        listed = _provider_list(providers, type(self).__name__)
        _check_tools(type(self), client, clock=clock, sleep=sleep)
        self._router = Router(listed, config, clock=clock, random=random)
        self._sleep = sleep
        self._owns_client = client is None
        self._client: ClientT = client if client is not None else self._new_client()
        self._closed = False
        # A shared state the gateway built itself (``from_config``'s Redis URL) is closed with it.
        self._owned_state: _Closable | None = None

    @classmethod
    def from_config(
        cls,
        path: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Self:
        """A gateway built from the TOML file the ``smsgate`` CLI reads: its providers (passwords
        from ``SMSGATE_<NAME>_PASSWORD``) and its ``[gateway]`` routing (strategy, weights,
        retry, breaker, rate limit, and ``shared_state``: a Redis URL whose
        :class:`smsgate.scale.RedisState` keeps breakers and limits shared by processes; the
        gateway closes the state it builds when it is closed).

        :param path: the file; None looks for it as the CLI does (``./smsgate.toml``, else
            ``$SMSGATE_CONFIG``).
        :param env: where passwords are read (default ``os.environ``).
        :param data: instead of a file, the configuration already read into a mapping shaped
            like the file (``{"gateway": {...}, "providers": {"primary": {"type": "ipyy",
            ...}}}``); no file is looked for. The same checks apply: a secret in it is
            refused, passwords come from ``env``.
        :param overrides: constructor arguments that win over the file (``client=`` …).
        :raises ConfigurationError: no file, an invalid file or mapping, or no provider in it.
        """
        from smsgate import _config  # noqa: PLC0415 - the TOML layer loads only when used

        try:
            gateway: Self = _config.gateway_from_config(cls, path, env=env, data=data, **overrides)
        except SmsGateError as error:
            # The frames below hold the parsed file and the passwords (``env``) as locals,
            # which error reporters capture: the traceback is cut here, and ``env`` (and a
            # mapping given as ``data``) dropped.
            del env, data, overrides
            cut_traceback(error)
            raise error
        return gateway

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
        # Never raises, not even for a gateway whose __init__ failed (a traceback rendered
        # with its frames' locals shows that ``self``).
        router = getattr(self, "_router", None)
        if not isinstance(router, Router):
            return f"<{type(self).__name__} (not built)>"
        names = ", ".join(p.name for p in router.providers)
        return f"<{type(self).__name__} [{names}] strategy={router.strategy.value!r}>"

    @property
    def closed(self) -> bool:
        """True after ``close()`` / ``aclose()``."""
        return self._closed

    def _close_owned_state(self) -> None:
        """Close the shared state this gateway built (once; one given to it is the caller's)."""
        state, self._owned_state = self._owned_state, None
        if state is not None:
            state.close()

    # --- plans per operation (the checks before any I/O, then the router's plan) -----------

    def _open(self) -> None:
        if self._closed:
            raise ConfigurationError(f"this {type(self).__name__} is closed")

    def _send_plan(self, sms: Sms) -> Plan[Receipt]:
        self._open()
        if not isinstance(sms, Sms):
            raise ValidationError(f"send() takes an Sms, not {type(sms).__name__}")
        return self._router.plan(Operation.SEND, _send, sms)

    def _batch_plan(self, batch: tuple[Sms, ...]) -> Plan[list[Receipt]]:
        self._open()
        if not batch or not all(isinstance(m, Sms) for m in batch):
            raise ValidationError("send_batch() takes a non-empty sequence of Sms")
        return self._router.plan(Operation.SEND_BATCH, _send_batch, batch)

    def _mms_plan(self, mms: Mms) -> Plan[Receipt]:
        self._open()
        if not isinstance(mms, Mms):
            raise ValidationError(f"send_mms() takes an Mms, not {type(mms).__name__}")
        return self._router.plan(Operation.SEND_MMS, _send_mms, mms)

    def _balance_plan(self, kind: str) -> Plan[Balance]:
        self._open()
        if not isinstance(kind, str):
            raise ValidationError(
                f"balance() takes a kind such as 'sms' or 'mms', not {type(kind).__name__}", field="kind"
            )
        return self._router.plan(Operation.BALANCE, lambda p, _: p.balance(kind), kind=kind)

    def _password_plan(self, new_password: Secret, provider: str | None) -> Plan[None]:
        self._open()
        return self._router.password_plan(lambda p, _: p.change_password(new_password.value), provider)

    def _reports_plan(
        self, limit: int | None, task_id: str | None, observe: bool
    ) -> Plan[list[DeliveryReport]]:
        self._open()
        _check_pull(observe, task_id)
        return self._router.pull_plan(
            Operation.FETCH_REPORTS, lambda p, n: p.fetch_reports(limit=n, task_id=task_id), limit
        )

    def _inbound_plan(self, observe: bool) -> Plan[list[InboundMessage]]:
        self._open()
        _check_pull(observe)
        return self._router.pull_plan(Operation.FETCH_INBOUND, lambda p, _: p.fetch_inbound(), None)

    def _status_plan(self, receipt: Receipt) -> Plan[list[DeliveryReport]]:
        self._open()
        return self._router.status_plan(_query_status, receipt, unsupported=_part_not_looked_up)

    # --- the two observation steps --------------------------------------------------------

    def _after_attempt(self, attempt: Attempt, error: SmsGateError) -> Failure:
        """After each failed attempt: it is logged and announced to ``send_failed``."""
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
            message=attempt.message if attempt.operation.delivers else None,
        )
        return Failure(error)

    def _step(
        self, plan: Plan[T], outcome: Outcome | None, message: Sent | None, observe: bool = True
    ) -> Command | _Done[T]:
        """Feed ``outcome`` to ``plan``: its next command, or its result (after the
        after-result step, unless ``observe`` is False) as :class:`_Done`."""
        try:
            return plan.send(outcome)
        except StopIteration as done:
            # The plan finished its receipts (attempts, reference, accepted_at) in one step.
            result: T = done.value
            return _Done(self._after_result(result, message) if observe else result)

    def _closing(self, plan: Plan[Any], message: Sent | None) -> _Closing:
        """Around one run of a plan: announce the accepted part of a partial send, and close
        the plan in any case (a cancelled task hands a claimed half-open probe back)."""
        return _Closing(self, plan, message)

    def _after_result(self, result: T, message: Sent | None) -> T:
        """After a plan: each accepted request goes to ``message_sent`` (those of a partial
        send too), each pulled item to ``report_received`` / ``inbound_received``."""
        by_number: dict[str, list[int]] | None = None
        # Which messages of a batch a receipt covers is worked out only for someone to tell:
        # an observer of message_sent (registered now), or the debug log.
        watched = _plugins.observed("message_sent")
        telling = watched or log.isEnabledFor(logging.DEBUG)
        for item in result if isinstance(result, list) else [result]:
            if isinstance(item, Receipt):
                sent: Sent | None = message
                if isinstance(message, tuple) and telling:
                    by_number = _positions(message) if by_number is None else by_number
                    sent = _request_of(item, message, by_number)
                log.info(
                    "accepted by %s: task %s, %d recipients, attempt %d",
                    item.provider,
                    item.task_id,
                    item.accepted,
                    item.attempts,
                )
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("accepted %s to %s", item.task_id, _numbers(sent))
                if watched:
                    _plugins.notify("message_sent", receipt=item, message=sent)
            elif isinstance(item, DeliveryReport | InboundMessage):
                _plugins.notify_event(item)
        return result


class _Done(Generic[T]):
    """What a plan returned (a plain box: built once per call, never compared or printed)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


class _Closing:
    """:meth:`_GatewayCore._closing` as a plain context manager (no generator per call)."""

    __slots__ = ("gateway", "message", "plan")

    def __init__(self, gateway: _GatewayCore[Any], plan: Plan[Any], message: Sent | None) -> None:
        self.gateway = gateway
        self.plan = plan
        self.message = message

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        try:
            if isinstance(exc, PartialSendError):
                self.gateway._after_result(list(exc.receipts), self.message)
        finally:
            self.plan.close()


def _options(attempt: Attempt) -> dict[str, Any]:
    """The driver arguments for one attempt: names for errors and logs, the provider's timeout
    and reply cap."""
    provider = attempt.provider
    return {
        "provider": provider.name,
        "operation": attempt.operation.value,
        "timeout": provider.timeout,
        "max_reply_bytes": provider.max_reply_bytes,
    }


def _send(provider: Provider, sms: Sms) -> Flow[Receipt]:
    return provider.send(sms)


def _send_batch(provider: Provider, batch: tuple[Sms, ...]) -> Flow[list[Receipt]]:
    return provider.send_batch(batch)


def _send_mms(provider: Provider, mms: Mms) -> Flow[Receipt]:
    return provider.send_mms(mms)


def _query_status(provider: Provider, receipt: Receipt) -> Flow[list[DeliveryReport]]:
    return provider.query_status(receipt)


def _part_not_looked_up(error: UnsupportedOperationError) -> None:
    """A part of a receipt whose provider cannot look messages up (the router logged it):
    announced to ``send_failed`` as that provider's UnsupportedOperationError, while the
    other parts are looked up."""
    _plugins.notify(
        "send_failed",
        provider=error.provider,
        operation=Operation.QUERY_STATUS.value,
        error=error,
        message=None,
    )


class Gateway(_GatewayCore[httpx.Client]):
    """Send and read messages through one or several providers (synchronous).

    >>> import smsgate
    >>> providers = [smsgate.get_provider("memory", name=name) for name in ("a", "b")]
    >>> with smsgate.Gateway(providers) as gateway:
    ...     receipt = gateway.send(smsgate.Sms(to="13800138000", text="hi【shop】"))
    >>> receipt.provider, receipt.attempts
    ('a', 1)

    :param providers: one provider, or several in preference order.
    :param strategy: a :class:`Strategy` or its string: ``"failover"`` (in order, the
        default), ``"round_robin"`` (the first choice rotates per call, the others follow as
        fallbacks) or ``"weighted"`` (the first choice is drawn by ``weights``, the others
        follow heaviest first).
    :param weights: for ``"weighted"``: one number per provider, or a mapping name → weight.
    :param retry: :class:`RetryPolicy` for retrying one provider when that is safe.
    :param breaker: :class:`BreakerPolicy` for each provider's circuit breaker;
        ``BreakerPolicy.off()`` switches breakers off.
    :param rate_limit: a :class:`RateLimit` applied to each provider, or a mapping
        provider name → RateLimit.
    :param client: an ``httpx.Client`` to use as is (you close it); by default the gateway
        opens one (TLS verified, redirects not followed) and closes it in :meth:`close`.
    :param failover_on_uncertain: allow sending to the next provider after an uncertain
        outcome of a send (it may deliver the message twice). Off by default.
    :param shared_state: where breakers and rate limits live: this process's memory by
        default; a :class:`smsgate.scale.RedisState` shares them with every process using
        the same Redis (``[gateway] shared_state`` in the TOML file). See
        ``docs/routing.md``.
    :param clock: monotonic seconds, for backoff budgets, breakers and rate limits.
    :param sleep: how to wait (default ``time.sleep``).
    :param random: a ``random.Random`` or a function returning floats in ``[0, 1)``, for
        jitter and weighted choice.

    A routing argument left out (or ``None``) takes its default from
    :class:`smsgate.routing.RoutingConfig`, the one place routing defaults live.

    Routing rules, errors and their guarantees: see ``docs/routing.md``. The gateway is
    safe to share between threads.
    """

    _client_type = httpx.Client

    def _new_client(self) -> httpx.Client:
        # http.client under httpx's interface: far cheaper than httpcore for one send at a
        # time, with the same failure classes (smsgate/_httpclient.py); loaded with the first gateway.
        from smsgate._httpclient import sync_client  # noqa: PLC0415

        return sync_client()

    def send(self, sms: Sms) -> Receipt:
        """Send one text message; the receipt names the provider that accepted it."""
        return self._run(self._send_plan(sms), sms)

    def send_batch(self, messages: Sequence[Sms]) -> list[Receipt]:
        """Send personalised messages; one receipt per request the provider made."""
        batch = _as_batch(messages)
        return self._run(self._batch_plan(batch), batch)

    def send_mms(self, mms: Mms) -> Receipt:
        """Send one multimedia message."""
        return self._run(self._mms_plan(mms), mms)

    def balance(self, kind: str = "sms") -> Balance:
        """The balance of ``kind`` (``"sms"`` or ``"mms"``) from a provider that reports it."""
        return self._run(self._balance_plan(kind))

    def fetch_reports(
        self, *, limit: int | None = None, task_id: str | None = None, observe: bool = True
    ) -> list[DeliveryReport]:
        """Pull queued delivery reports from every provider that can (destructive pull).

        ``observe=False``: no ``report_received`` hook sees them here; the caller stores them
        first and announces them itself (the Celery pull task journals them, then dispatches).
        """
        return self._run(self._reports_plan(limit, task_id, observe), observe=observe)

    def fetch_inbound(self, *, observe: bool = True) -> list[InboundMessage]:
        """Pull queued inbound messages from every provider that can (destructive pull).
        ``observe=False``: no ``inbound_received`` hook sees them here (see :meth:`fetch_reports`)."""
        return self._run(self._inbound_plan(observe), observe=observe)

    def query_status(self, receipt: Receipt) -> list[DeliveryReport]:
        """Look up the delivery reports of the message behind ``receipt`` at the provider that
        accepted it (``receipt.provider``), with retries but no failover; a lookup drains
        nothing. Each report also goes to the ``report_received`` hook.

        A receipt whose parts several providers accepted (``provider="ipyy,aliyun"``) is
        looked up part by part, each at its own provider. A part whose provider cannot look
        messages up is skipped: its ``UnsupportedOperationError`` is logged (WARNING) and
        given to the ``send_failed`` hook, and the reports of the other parts are returned.

        :raises ConfigurationError: the receipt names a provider not in this gateway.
        :raises UnsupportedOperationError: no provider of the receipt can look messages up.
        """
        return self._run(self._status_plan(receipt))

    def change_password(self, new_password: str, *, provider: str | None = None) -> None:
        """Change the password of exactly one provider: ``provider``, or the only one able to.
        Never fails over."""
        secret = Secret(new_password)
        del new_password  # held only by ``secret`` (hidden from reprs): frame locals are reported
        self._run(self._password_plan(secret, provider))

    def close(self) -> None:
        """Close the HTTP client if the gateway opened it, and the shared state if it built it
        (``from_config``). Further calls raise."""
        self._closed = True
        try:
            if self._owns_client:
                self._client.close()
        finally:
            self._close_owned_state()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, plan: Plan[T], message: Sent | None = None, *, observe: bool = True) -> T:
        """Execute ``plan``'s commands until it returns; closed in any case."""
        outcome: Outcome | None = None
        with self._closing(plan, message):
            while not isinstance(command := self._step(plan, outcome, message, observe), _Done):
                if isinstance(command, Sleep):
                    (self._sleep or time.sleep)(command.seconds)
                    outcome = None
                    continue
                try:
                    outcome = Success(
                        run_flow(
                            command.call(command.provider, command.message), self._client, **_options(command)
                        )
                    )
                except SmsGateError as exc:
                    outcome = self._after_attempt(command, exc)
        return command.value


def default_async_client() -> httpx.AsyncClient:
    """The client an :class:`AsyncGateway` opens: httpx over aiohttp when the ``aiohttp`` extra
    is installed (several times faster than httpcore's pool, with the same failure classes:
    ``smsgate/_aiohttp.py``), else httpx's own; TLS verified, redirects not followed."""
    try:
        from smsgate._aiohttp import async_client  # noqa: PLC0415 - only with the extra
    except ImportError:
        return httpx.AsyncClient(verify=True, follow_redirects=False)
    return async_client()


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

    _client_type = httpx.AsyncClient

    def _new_client(self) -> httpx.AsyncClient:
        return default_async_client()

    async def send(self, sms: Sms) -> Receipt:
        """Send one text message; the receipt names the provider that accepted it."""
        return await self._run(self._send_plan(sms), sms)

    async def send_batch(self, messages: Sequence[Sms]) -> list[Receipt]:
        """Send personalised messages; one receipt per request the provider made."""
        batch = _as_batch(messages)
        return await self._run(self._batch_plan(batch), batch)

    async def send_mms(self, mms: Mms) -> Receipt:
        """Send one multimedia message."""
        return await self._run(self._mms_plan(mms), mms)

    async def balance(self, kind: str = "sms") -> Balance:
        """The balance of ``kind`` (``"sms"`` or ``"mms"``) from a provider that reports it."""
        return await self._run(self._balance_plan(kind))

    async def fetch_reports(
        self, *, limit: int | None = None, task_id: str | None = None, observe: bool = True
    ) -> list[DeliveryReport]:
        """Pull queued delivery reports from every provider that can (destructive pull);
        ``observe=False``: no hook sees them here (see :meth:`Gateway.fetch_reports`)."""
        return await self._run(self._reports_plan(limit, task_id, observe), observe=observe)

    async def fetch_inbound(self, *, observe: bool = True) -> list[InboundMessage]:
        """Pull queued inbound messages from every provider that can (destructive pull);
        ``observe=False``: no hook sees them here (see :meth:`Gateway.fetch_reports`)."""
        return await self._run(self._inbound_plan(observe), observe=observe)

    async def query_status(self, receipt: Receipt) -> list[DeliveryReport]:
        """Look up the delivery reports of the message behind ``receipt`` at the provider that
        accepted it (each part at its own provider), with retries but no failover (see
        :meth:`Gateway.query_status`)."""
        return await self._run(self._status_plan(receipt))

    async def change_password(self, new_password: str, *, provider: str | None = None) -> None:
        """Change the password of exactly one provider: ``provider``, or the only one able to.
        Never fails over."""
        secret = Secret(new_password)
        del new_password  # held only by ``secret`` (hidden from reprs): frame locals are reported
        await self._run(self._password_plan(secret, provider))

    async def aclose(self) -> None:
        """Close the HTTP client if the gateway opened it, and the shared state if it built it
        (``from_config``). Further calls raise."""
        self._closed = True
        try:
            if self._owns_client:
                await self._client.aclose()
        finally:
            self._close_owned_state()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self, plan: Plan[T], message: Sent | None = None, *, observe: bool = True) -> T:
        """Execute ``plan``'s commands until it returns; closed in any case (a cancelled
        task hands a claimed half-open probe back)."""
        outcome: Outcome | None = None
        with self._closing(plan, message):
            while not isinstance(command := self._step(plan, outcome, message, observe), _Done):
                if isinstance(command, Sleep):
                    waited = (self._sleep or asyncio.sleep)(command.seconds)
                    if inspect.isawaitable(waited):
                        await waited
                    outcome = None
                    continue
                try:
                    outcome = Success(
                        await arun_flow(
                            command.call(command.provider, command.message), self._client, **_options(command)
                        )
                    )
                except SmsGateError as exc:
                    outcome = self._after_attempt(command, exc)
        return command.value


def _as_batch(messages: Iterable[Sms]) -> tuple[Sms, ...]:
    """The messages of a ``send_batch`` call as a tuple (what is no iterable is bad input)."""
    if not isinstance(messages, Iterable):
        raise ValidationError(
            f"send_batch() takes a non-empty sequence of Sms, not {type(messages).__name__}"
        )
    return tuple(messages)
