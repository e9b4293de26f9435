"""The built-in ``memory`` provider: a real :class:`smsgate.Provider` that talks to nobody.

Its flows return without yielding a request, which both drivers support, so a gateway runs
over it exactly as over a network provider (routing, retries, hooks) without any I/O. This
module is also the plugin that registers it as ``"memory"`` (``smsgate.get_provider("memory")``,
``type = "memory"`` in a config file); :mod:`smsgate.testing` re-exports its names.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeAlias

import attrs

from smsgate import exceptions as errors
from smsgate._args import is_seconds, is_whole, to_int
from smsgate._models import (
    Balance,
    DeliveryReport,
    DeliveryStatus,
    InboundMessage,
    Mms,
    Receipt,
    Sms,
    _compared,
)
from smsgate._parts import send_in_parts
from smsgate._provider import CallbackReply, Capabilities, Flow, Operation, Provider
from smsgate._secret import Secret
from smsgate.hookspecs import ProviderFactory, hookimpl
from smsgate.templates import TextTemplates

__all__ = ["ALL_CAPABILITIES", "InMemoryProvider", "OutboxEntry", "Scripted", "register_providers"]

_BOTH_KINDS: Any = frozenset({"sms", "mms"})  # Any: attrs converter typing confuses mypy
# The values fail_next/script take for ``operation``, and queue_report for ``status``.
_OPERATIONS = frozenset(operation.value for operation in Operation)
_STATUSES = frozenset(status.value for status in DeliveryStatus)

#: Every capability on, both balance kinds: the default of :class:`InMemoryProvider`.
ALL_CAPABILITIES = Capabilities(
    send=True,
    batch=True,
    mms=True,
    balance=True,
    balance_kinds=_BOTH_KINDS,
    report_pull=True,
    inbound_pull=True,
    callbacks=True,
    scheduling=True,
    change_password=True,
    templates=True,
    references=True,
    query_status=True,
)

#: What :meth:`InMemoryProvider.fail_next` and :meth:`InMemoryProvider.script` accept: an
#: error instance, an error class from :mod:`smsgate.exceptions`, or ``None`` (succeed).
Scripted: TypeAlias = "errors.SmsGateError | type[errors.SmsGateError] | None"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@_compared
@attrs.frozen(kw_only=True, eq=False, repr=False)
class OutboxEntry:
    """One request the in-memory provider accepted.

    :ivar operation: ``Operation.SEND``, ``SEND_BATCH`` or ``SEND_MMS``.
    :ivar message: the :class:`~smsgate.Sms`, the :class:`~smsgate.Mms`, or for a batch the
        tuple of messages of that request.
    :ivar receipt: the receipt returned for it.
    :ivar texts: the text each message of the request was sent with, as the provider
        rendered it (a template filled in, or the message's own text): one for a send, one
        per message for a batch, none for an MMS.
    """

    operation: Operation
    message: Sms | Mms | tuple[Sms, ...]
    receipt: Receipt
    texts: tuple[str, ...] = ()


@_compared
@attrs.frozen(eq=False, repr=False)
class _Step:
    error: errors.SmsGateError | type[errors.SmsGateError] | None
    operation: Operation | None


def _instantiate(
    error: errors.SmsGateError | type[errors.SmsGateError], provider: str, operation: Operation
) -> errors.SmsGateError:
    """A fresh exception for one scripted failure, with provider and operation filled in.

    An instance is copied (so ``times=3`` raises three distinct objects, each with its own
    traceback and ``attempts``); a class is built with a message saying it was scripted.
    """
    if isinstance(error, errors.SmsGateError):
        clone = type(error).__new__(type(error), *error.args)
        clone.__dict__.update(error.__dict__)
        clone.__cause__ = error.__cause__
        clone.provider = clone.provider or provider
        clone.operation = clone.operation or operation.value
        return clone
    if not (isinstance(error, type) and issubclass(error, errors.SmsGateError)):
        raise TypeError(f"expected an smsgate error class or instance, not {error!r}")
    text = f"scripted {error.__name__}"
    where: dict[str, Any] = {"provider": provider, "operation": operation.value}
    if issubclass(error, errors.AllProvidersFailedError):
        inner = errors.NotSentError(f"scripted {error.__name__} (inner)", **where)
        return error(text, [inner], operation=operation.value)
    if issubclass(error, errors.PartialSendError):
        cause = errors.NotSentError(f"scripted {error.__name__} (cause)", **where)
        return error(text, receipts=(), pending=(), cause=cause, **where)
    return error(text, **where)


def _check_options(
    name: object,
    *,
    capabilities: object,
    balance: object,
    auto_report: object,
    timeout: object,
    templates: object,
) -> None:
    """The constructor's options, each refused with a ConfigurationError naming it, as a
    network provider refuses its settings (they failed later, or raised a bare ValueError)."""
    problems = {
        "name": "a non-empty string",
        "capabilities": "a smsgate.Capabilities",
        "balance": "a whole number or a Decimal, at least 0",
        "auto_report": "a DeliveryStatus or its value ('delivered', 'failed' …)",
        "timeout": "a positive number of seconds, or None",
        "templates": "a mapping name -> text",
    }
    valid = {
        "name": isinstance(name, str) and bool(name),
        "capabilities": capabilities is None or isinstance(capabilities, Capabilities),
        "balance": is_whole(balance, least=0)
        or (isinstance(balance, Decimal) and balance.is_finite() and balance >= 0),
        "auto_report": auto_report is None or (isinstance(auto_report, str) and auto_report in _STATUSES),
        "timeout": timeout is None or (isinstance(timeout, int | float) and is_seconds(timeout)),
        "templates": templates is None or isinstance(templates, Mapping),
    }
    for option, ok in valid.items():
        if not ok:
            where = name if isinstance(name, str) and name else None
            raise errors.ConfigurationError(f"{option} must be {problems[option]}", provider=where)
    kinds = capabilities.balance_kinds if isinstance(capabilities, Capabilities) else _BOTH_KINDS
    if not kinds <= _BOTH_KINDS:
        raise errors.ConfigurationError(
            f"capabilities: balance kinds are 'mms' and 'sms', not {_listed(kinds - _BOTH_KINDS)}",
            provider=name if isinstance(name, str) and name else None,
        )


class InMemoryProvider(Provider):
    """A provider that keeps everything in memory: for testing applications and gateways.

    Tests import it as ``from smsgate.testing import InMemoryProvider``; configuration builds
    it by name:

    >>> import smsgate
    >>> memory = smsgate.get_provider("memory")
    >>> memory.fail_next(smsgate.exceptions.AuthenticationError)
    >>> with smsgate.Gateway([memory, smsgate.get_provider("memory", name="backup")]) as gateway:
    ...     receipt = gateway.send(smsgate.Sms(to="13800138000", text="hi【shop】"))
    >>> receipt.provider, memory.calls["send"]
    ('backup', 1)

    :param name: the name used in receipts and errors.
    :param capabilities: what it declares; default :data:`ALL_CAPABILITIES` (``templates``
        only when ``templates`` are given). With
        ``max_recipients`` a send is split into several requests (one combined receipt), with
        ``max_batch`` a batch into several requests (one receipt each), and
        ``max_text_length`` refuses longer texts with a ValidationError before "sending".
    :param balance: starting balance of each kind (``"sms"`` and ``"mms"``); each accepted
        recipient costs one unit, and a send it cannot pay for raises
        :class:`~smsgate.exceptions.InsufficientBalanceError`. A whole number or a ``Decimal``,
        at least ``0``.
    :param auto_report: when set, every accepted recipient gets a queued delivery report with
        this status (a :class:`~smsgate.DeliveryStatus` or its value, ``"delivered"``),
        drained by ``fetch_reports``.
    :param password: initial password (only :meth:`check_password` reveals anything about it).
    :param templates: logical templates it renders, name → ``str.format``-style text with
        named fields (``{"verify": "code {code}【shop】"}``); checked here
        (:class:`~smsgate.exceptions.ConfigurationError` for positional, attribute or index
        fields). A message naming a template is sent with the template filled in.
    :param timeout: per-request timeout reported to the gateway (no effect here): a
        positive, finite number of seconds, or ``None``.

    A wrong option (and ``capabilities`` declaring a balance kind other than ``"sms"`` and
    ``"mms"``) is a :class:`~smsgate.exceptions.ConfigurationError` naming it.

    Other keyword arguments are accepted and ignored, so configuration written for a real
    provider (``account=…``, ``base_url=…``) can build this one in tests.

    Thread-safe: its state is guarded by a lock, so a sync gateway may use it from threads.
    """

    def __init__(
        self,
        name: str = "memory",
        *,
        capabilities: Capabilities | None = None,
        balance: int | Decimal = 1000,
        auto_report: DeliveryStatus | None = None,
        password: str | None = None,
        timeout: float | None = None,
        templates: Mapping[str, str] | None = None,
        **_ignored: Any,
    ) -> None:
        _check_options(
            name,
            capabilities=capabilities,
            balance=balance,
            auto_report=auto_report,
            timeout=timeout,
            templates=templates,
        )
        self.name = name
        #: The templates it renders: name → text.
        self.templates: dict[str, str] = dict(templates or {})
        self._templates = TextTemplates(self.templates)
        if capabilities is None:
            capabilities = attrs.evolve(ALL_CAPABILITIES, templates=bool(self.templates))
        self.capabilities = capabilities
        self.timeout = timeout
        self.auto_report = DeliveryStatus(auto_report) if auto_report is not None else None
        #: Every accepted request, oldest first.
        self.outbox: list[OutboxEntry] = []
        #: How many times each operation ran (its value as key: ``calls["send"]``), failed or not.
        self.calls: collections.Counter[str] = collections.Counter()
        #: Balance per kind; goes down by one per accepted recipient.
        self.balances: dict[str, Decimal] = {"sms": Decimal(to_int(balance)), "mms": Decimal(to_int(balance))}
        self._password = password
        self._reports: list[DeliveryReport] = []
        # The latest report of each (task id, mobile), for query_status (never drained).
        self._statuses: dict[tuple[str | None, str], DeliveryReport] = {}
        self._inbound: list[InboundMessage] = []
        self._script: list[_Step] = []
        self._lock = threading.RLock()
        # One counter per instance: a new provider (a new test) starts at ``<name>-1``.
        self._task_numbers = itertools.count(1)

    # --- what tests set up -------------------------------------------------------------

    def fail_next(
        self,
        error: errors.SmsGateError | type[errors.SmsGateError],
        *,
        times: int = 1,
        operation: Operation | str | None = None,
    ) -> None:
        """Make the next ``times`` requests fail with ``error``.

        :param error: an error instance (copied for each failure) or a class from
            :mod:`smsgate.exceptions` (built with a message and this provider's name).
        :param operation: only requests of this operation fail (``"send"``, ``"balance"`` …);
            by default any operation consumes the failure.

        A batch split by ``max_batch`` consumes one scripted step per request, so a failure
        scripted after a success yields a :class:`~smsgate.exceptions.PartialBatchError`.

        :raises ~smsgate.exceptions.ValidationError: ``error`` is no smsgate error, ``times``
            no whole number from 1, or ``operation`` no :class:`~smsgate.Operation` (or its
            value); nothing is scripted then.
        """
        if not _is_error(error):
            raise errors.ValidationError(
                f"fail_next() takes an smsgate error (an instance or a class from smsgate.exceptions), "
                f"not {_kind_of(error)}",
                field="error",
                provider=self.name,
            )
        if not is_whole(times, least=1):
            raise errors.ValidationError(
                f"times must be a whole number, at least 1, not {times!r}", field="times", provider=self.name
            )
        self.script(*([error] * int(times)), operation=operation)

    def script(self, *outcomes: Scripted, operation: Operation | str | None = None) -> None:
        """Queue outcomes for the next requests, in order: an error (instance or class) fails
        that request, ``None`` lets it succeed. ``operation`` restricts them as in
        :meth:`fail_next`. Steps are consumed by the first request that matches them.

        :raises ~smsgate.exceptions.ValidationError: an outcome is neither an smsgate error
            nor ``None``, or ``operation`` is unknown; none of the outcomes is queued then.
        """
        op = self._operation(operation)
        for outcome in outcomes:
            if outcome is not None and not _is_error(outcome):
                raise errors.ValidationError(
                    f"script() takes smsgate errors or None, not {_kind_of(outcome)}",
                    field="outcomes",
                    provider=self.name,
                )
        with self._lock:
            self._script.extend(_Step(outcome, op) for outcome in outcomes)

    def queue_report(
        self,
        report: DeliveryReport | str,
        /,
        *,
        task_id: str | None = None,
        status: DeliveryStatus | str = DeliveryStatus.DELIVERED,
        received_at: dt.datetime | None = None,
        vendor_code: str | None = None,
    ) -> DeliveryReport:
        """Queue a delivery report for ``fetch_reports``: a model, or a mobile number plus fields
        (``status`` a :class:`~smsgate.DeliveryStatus` or its value, ``"failed"``); anything
        else is a :class:`~smsgate.exceptions.ValidationError`."""
        if not isinstance(report, DeliveryReport):
            self._check_mobile("queue_report", "a DeliveryReport", report)
            if not (isinstance(status, str) and status in _STATUSES):
                raise errors.ValidationError(
                    f"status must be a DeliveryStatus or its value ({_listed(_STATUSES)}), not {status!r}",
                    field="status",
                    provider=self.name,
                )
            report = DeliveryReport(
                provider=self.name,
                mobile=report,
                task_id=task_id,
                status=DeliveryStatus(status),
                received_at=received_at or _now(),
                vendor_code=vendor_code,
            )
        with self._lock:
            self._queue(report)
        return report

    def queue_inbound(
        self,
        message: InboundMessage | str,
        /,
        text: str | None = None,
        *,
        ext: str | None = None,
        received_at: dt.datetime | None = None,
    ) -> InboundMessage:
        """Queue an inbound message for ``fetch_inbound``: a model, or a mobile number and text;
        anything else is a :class:`~smsgate.exceptions.ValidationError`."""
        if not isinstance(message, InboundMessage):
            self._check_mobile("queue_inbound", "an InboundMessage", message)
            if text is None:
                raise errors.ValidationError("queue_inbound needs the message text", field="text")
            if not isinstance(text, str):
                raise errors.ValidationError(
                    f"text must be a string, not {type(text).__name__}", field="text", provider=self.name
                )
            message = InboundMessage(
                provider=self.name, mobile=message, text=text, ext=ext, received_at=received_at or _now()
            )
        with self._lock:
            self._inbound.append(message)
        return message

    def check_password(self, candidate: str) -> bool:
        """Whether ``candidate`` is the current password (after :meth:`change_password`)."""
        return self._password is not None and candidate == self._password

    @property
    def pending_reports(self) -> tuple[DeliveryReport, ...]:
        """Reports queued and not yet fetched."""
        with self._lock:
            return tuple(self._reports)

    @property
    def pending_inbound(self) -> tuple[InboundMessage, ...]:
        """Inbound messages queued and not yet fetched."""
        with self._lock:
            return tuple(self._inbound)

    @property
    def sent(self) -> list[Sms | Mms | tuple[Sms, ...]]:
        """The messages of :attr:`outbox`, without their receipts."""
        with self._lock:
            return [entry.message for entry in self.outbox]

    # --- operations ----------------------------------------------------------------------

    def cannot_render(self, message: Sms) -> str | None:
        """Why it cannot render ``message``: the base rules, then its own template table (an
        unknown template, a missing parameter) when the message has no text to fall back on.
        ``message`` must be an :class:`~smsgate.Sms` (else a ValidationError)."""
        self.expect_type(message, Sms, "cannot_render", "message", provider=self.name)
        reason = super().cannot_render(message)
        if reason is not None or message.template is None or not self.capabilities.templates:
            return reason
        problem = self._templates.problem(message)
        if problem is not None and message.text is not None and self.capabilities.free_text:
            return None  # sent with its text
        return problem

    def render(self, message: Sms) -> str:
        """The text ``message`` is sent with: its template filled in when this provider can
        render it, else its own text. :class:`~smsgate.exceptions.ValidationError` when
        neither (see :meth:`cannot_render`), or when ``message`` is no :class:`~smsgate.Sms`."""
        self.expect_type(message, Sms, "render", "message", provider=self.name)
        reason = self.cannot_render(message)
        if reason is not None:
            raise errors.ValidationError(
                f"{self.name!r} cannot send this message: {reason}", provider=self.name
            )
        if (
            message.template is not None
            and self.capabilities.templates
            and self._templates.problem(message) is None
        ):
            return self._templates.render(message)
        if message.text is None:  # pragma: no cover - cannot_render said it could
            raise errors.ValidationError("nothing to send", field="text", provider=self.name)
        return message.text

    def send(self, sms: Sms) -> Flow[Receipt]:
        """Accept ``sms`` (split by ``max_recipients``) and return its receipt."""
        self._check_supported(Operation.SEND)
        self.expect_type(sms, Sms, "send", "sms", provider=self.name)
        return self._send(sms)

    def send_batch(self, messages: Sequence[Sms]) -> Flow[list[Receipt]]:
        """Accept personalised messages: one receipt per request (``max_batch`` per request)."""
        self._check_supported(Operation.SEND_BATCH)
        return self._send_batch(self._batch(messages))

    def send_mms(self, mms: Mms) -> Flow[Receipt]:
        """Accept ``mms`` and return its receipt (costs ``"mms"`` balance)."""
        self._check_supported(Operation.SEND_MMS)
        self.expect_type(mms, Mms, "send_mms", "mms", provider=self.name)
        return self._send_mms(mms)

    def balance(self, kind: str = "sms") -> Flow[Balance]:
        """The remaining balance of ``kind``."""
        self._check_supported(Operation.BALANCE)
        if not isinstance(kind, str) or kind not in self.capabilities.balance_kinds:
            raise errors.ValidationError(
                f"provider {self.name!r} has no {kind!r} balance", field="kind", provider=self.name
            )

        def run() -> Balance:
            self._consume_script(Operation.BALANCE)
            with self._lock:
                return Balance(provider=self.name, remaining=self.balances.get(kind, Decimal(0)), kind=kind)

        return self._flow(Operation.BALANCE, run)

    def fetch_reports(
        self, *, limit: int | None = None, task_id: str | None = None
    ) -> Flow[list[DeliveryReport]]:
        """Drain queued reports (oldest first), at most ``limit`` (a whole number from 1),
        only ``task_id``'s if given."""
        self._check_supported(Operation.FETCH_REPORTS)
        if limit is not None and not is_whole(limit, least=1):
            raise errors.ValidationError(
                f"limit must be a whole number, at least 1, not {limit!r}", field="limit", provider=self.name
            )
        limit = None if limit is None else int(limit)

        def run() -> list[DeliveryReport]:
            self._consume_script(Operation.FETCH_REPORTS)
            with self._lock:
                taken: list[DeliveryReport] = []
                kept: list[DeliveryReport] = []
                for report in self._reports:
                    wanted = task_id is None or report.task_id == task_id
                    if wanted and (limit is None or len(taken) < limit):
                        taken.append(report)
                    else:
                        kept.append(report)
                self._reports = kept
                return taken

        return self._flow(Operation.FETCH_REPORTS, run)

    def fetch_inbound(self) -> Flow[list[InboundMessage]]:
        """Drain every queued inbound message, oldest first."""
        self._check_supported(Operation.FETCH_INBOUND)

        def run() -> list[InboundMessage]:
            self._consume_script(Operation.FETCH_INBOUND)
            with self._lock:
                taken, self._inbound = self._inbound, []
                return taken

        return self._flow(Operation.FETCH_INBOUND, run)

    def change_password(self, new_password: str) -> Flow[None]:
        """Replace the password (kept private: never in a repr, an error or a frame local)."""
        secret = Secret(new_password)
        del new_password  # held only by ``secret`` (hidden from reprs): frame locals are reported
        self._check_supported(Operation.CHANGE_PASSWORD)
        if not isinstance(secret.value, str) or not secret.value:
            raise errors.ValidationError("the new password must be a non-empty string", provider=self.name)

        def run() -> None:
            self._consume_script(Operation.CHANGE_PASSWORD)
            with self._lock:
                self._password = secret.value

        return self._flow(Operation.CHANGE_PASSWORD, run)

    def query_status(self, receipt: Receipt) -> Flow[list[DeliveryReport]]:
        """The reports of the message behind ``receipt``, looked up (never drained): for each
        recipient of each of its requests, the latest report queued for it (by
        ``auto_report``, :meth:`queue_report` or a fetch), else a ``PENDING`` one. A receipt
        it never issued gives an empty list. Reports carry the message's reference."""
        self._check_supported(Operation.QUERY_STATUS)
        if not isinstance(receipt, Receipt):
            raise errors.ValidationError("query_status() takes a Receipt", provider=self.name)

        def run() -> list[DeliveryReport]:
            self._consume_script(Operation.QUERY_STATUS)
            wanted = set(receipt.task_ids)
            with self._lock:
                entries = [e for e in self.outbox if e.receipt.task_id in wanted]
                return [
                    self._status_of(e.receipt, mobile) for e in entries for mobile in e.receipt.recipients
                ]

        return self._flow(Operation.QUERY_STATUS, run)

    # --- pushes --------------------------------------------------------------------------

    def parse_callback(
        self, body: bytes, content_type: str | None = None
    ) -> list[DeliveryReport | InboundMessage]:
        """Parse the in-memory push format, a UTF-8 JSON object::

            {"reports": [{"mobile": "13800138000", "task_id": "memory-1", "status": "delivered",
                          "received_at": "2024-05-01T10:00:00+08:00", "vendor_code": "DELIVRD",
                          "reference": "order-42"}],
             "inbound": [{"mobile": "13800138000", "text": "hello", "ext": "01",
                          "received_at": "2024-05-01T10:00:00+08:00"}]}

        Both lists are optional; ``status`` is a :class:`~smsgate.DeliveryStatus` value;
        ``received_at`` is ISO 8601 with an offset (optional). Reports come first, then inbound
        messages, each in body order. Anything else raises
        :class:`~smsgate.exceptions.ValidationError`, and so does a body that is no bytes (a
        decoded ``str``, ``None``); a ``bytearray`` or ``memoryview`` is read as its bytes.
        """
        data = self.push_body(body, provider=self.name)
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise errors.ValidationError("callback body is not UTF-8 JSON", provider=self.name) from exc
        if not isinstance(document, dict) or not set(document) <= {"reports", "inbound"}:
            raise errors.ValidationError(
                'callback body must be an object with "reports" and/or "inbound"', provider=self.name
            )
        items: list[DeliveryReport | InboundMessage] = []
        try:
            for entry in _entries(document, "reports"):
                items.append(
                    DeliveryReport(
                        provider=self.name,
                        mobile=str(entry["mobile"]),
                        task_id=_optional(entry.get("task_id")),
                        status=DeliveryStatus(entry.get("status", "delivered")),
                        received_at=_timestamp(entry.get("received_at")),
                        vendor_code=_optional(entry.get("vendor_code")),
                        reference=_optional(entry.get("reference")),
                        raw=entry,
                    )
                )
            for entry in _entries(document, "inbound"):
                items.append(
                    InboundMessage(
                        provider=self.name,
                        mobile=str(entry["mobile"]),
                        text=str(entry["text"]),
                        ext=_optional(entry.get("ext")),
                        received_at=_timestamp(entry.get("received_at")),
                        raw=entry,
                    )
                )
        except errors.ValidationError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.ValidationError(
                f"callback entry is incomplete or invalid ({type(exc).__name__}: {exc})", provider=self.name
            ) from exc
        return items

    def callback_reply(self, ok: bool) -> CallbackReply:
        """``200 ok`` when the push was stored, ``503 retry`` to ask for a re-delivery."""
        if ok:
            return CallbackReply(status_code=200, body=b"ok")
        return CallbackReply(status_code=503, body=b"retry")

    # --- internals -----------------------------------------------------------------------

    def _batch(self, messages: object) -> tuple[Sms, ...]:
        """A batch as a tuple: a list or tuple (any sequence but a string) of Sms."""
        batch = self.expect_batch(messages, provider=self.name)
        for index, message in enumerate(batch):
            if not isinstance(message, Sms):
                raise errors.ValidationError(
                    f"send_batch() takes a sequence of Sms; message {index + 1} of the batch is "
                    f"{type(message).__name__}",
                    field="messages",
                    provider=self.name,
                )
        return tuple(batch)

    def _operation(self, operation: object) -> Operation | None:
        """``operation`` of fail_next and script: ``None``, an Operation or its value."""
        if operation is None:
            return None
        if isinstance(operation, str) and operation in _OPERATIONS:
            return Operation(operation)
        raise errors.ValidationError(
            f"operation must be one of {_listed(_OPERATIONS)}, or None, not {operation!r}",
            field="operation",
            provider=self.name,
        )

    def _check_mobile(self, call: str, model: str, value: object) -> None:
        """The first argument of queue_report and queue_inbound: the model, or a number."""
        if not isinstance(value, str):
            raise errors.ValidationError(
                f"{call}() takes {model} or a mobile number (a str), not {type(value).__name__}",
                field="mobile",
                provider=self.name,
            )

    def _check_supported(self, operation: Operation) -> None:
        if not self.capabilities.supports(operation):
            raise self._unsupported(operation)

    def _flow(self, operation: Operation, run: Callable[[], Any]) -> Flow[Any]:
        # A generator that returns without yielding: no request, so no I/O. Counting happens
        # when the flow runs, so ``calls`` counts attempts, not flows built and dropped.
        yield from ()
        self._count(operation)
        return run()

    def _count(self, operation: Operation) -> None:
        with self._lock:
            self.calls[operation.value] += 1

    def _consume_script(self, operation: Operation) -> None:
        with self._lock:
            for index, step in enumerate(self._script):
                if step.operation is None or step.operation is operation:
                    del self._script[index]
                    break
            else:
                return
        if step.error is not None:
            raise _instantiate(step.error, self.name, operation)

    def _queue(self, report: DeliveryReport) -> None:
        """Queue a report for fetch_reports and keep it for query_status (lock held)."""
        self._reports.append(report)
        self._statuses[report.task_id, report.mobile] = report

    def _status_of(self, receipt: Receipt, mobile: str) -> DeliveryReport:
        known = self._statuses.get((receipt.task_id, mobile))
        if known is not None:
            if known.reference is None and receipt.reference is not None:
                known = attrs.evolve(known, reference=receipt.reference)
            return known
        return DeliveryReport(
            provider=self.name,
            mobile=mobile,
            task_id=receipt.task_id,
            status=DeliveryStatus.PENDING,
            reference=receipt.reference,
        )

    def _check_text(self, text: str) -> None:
        limit = self.capabilities.max_text_length
        if limit is not None and len(text) > limit:
            raise errors.ValidationError(
                f"text has {len(text)} characters; provider {self.name!r} allows {limit}",
                field="text",
                provider=self.name,
            )

    def _check_schedule(self, send_at: dt.datetime | None) -> None:
        if send_at is not None and not self.capabilities.scheduling:
            raise errors.ValidationError(
                f"provider {self.name!r} cannot schedule messages", field="send_at", provider=self.name
            )

    def _accept(
        self,
        operation: Operation,
        kind: str,
        message: Sms | Mms | tuple[Sms, ...],
        recipients: tuple[str, ...],
    ) -> Receipt:
        """Charge, record and return the receipt of one accepted request (lock held)."""
        cost = Decimal(len(recipients))
        if self.balances.get(kind, Decimal(0)) < cost:
            plural = "" if len(recipients) == 1 else "s"
            raise errors.InsufficientBalanceError(
                f"{kind} balance too low for {len(recipients)} recipient{plural}",
                provider=self.name,
                operation=operation.value,
            )
        self.balances[kind] -= cost
        receipt = Receipt(
            provider=self.name,
            task_id=f"{self.name}-{next(self._task_numbers)}",
            accepted=len(recipients),
            recipients=recipients,
            balance=self.balances[kind],
            reference=_reference_of(message) if self.capabilities.references else None,
        )
        entry = OutboxEntry(operation=operation, message=message, receipt=receipt)
        self.outbox.append(entry)
        self._accepted(entry)
        if self.auto_report is not None:
            for mobile in recipients:
                self._queue(
                    DeliveryReport(
                        provider=self.name,
                        mobile=mobile,
                        task_id=receipt.task_id,
                        status=self.auto_report,
                        received_at=_now(),
                        reference=receipt.reference,
                    )
                )
        return receipt

    def _accepted(self, entry: OutboxEntry) -> None:
        """Called with each request accepted into the outbox (lock held); a subclass that
        shows or forwards what was sent (the console provider) overrides it."""

    # The send flows are generators too (counting when run, never yielding a request): each
    # request of a split send is one ``_request``, and send_in_parts says which were accepted.

    def _request(
        self,
        operation: Operation,
        kind: str,
        message: Sms | Mms | tuple[Sms, ...],
        recipients: tuple[str, ...],
        texts: tuple[str, ...] = (),
    ) -> Flow[Receipt]:
        """One request: its scripted outcome, then the charge and the outbox entry."""
        yield from ()
        self._consume_script(operation)
        with self._lock:
            receipt = self._accept(operation, kind, message, recipients)
            if texts:  # the entry _accept just recorded gets the rendered texts
                self.outbox[-1] = attrs.evolve(self.outbox[-1], texts=texts)
            return receipt

    def _send(self, sms: Sms) -> Flow[Receipt]:
        self._count(Operation.SEND)
        text = self.render(sms)
        self._check_text(text)
        self._check_schedule(sms.send_at)
        size = self.capabilities.max_recipients or len(sms.to)
        chunks = [sms.to[start : start + size] for start in range(0, len(sms.to), size)]

        def send_chunk(chunk: tuple[str, ...]) -> Flow[Receipt]:
            part = sms if len(chunk) == len(sms.to) else attrs.evolve(sms, to=chunk)
            return self._request(Operation.SEND, "sms", part, chunk, (text,))

        receipts = yield from send_in_parts(
            chunks,
            send_chunk,
            pending=lambda rest: [attrs.evolve(sms, to=tuple(n for chunk in rest for n in chunk))],
        )
        return Receipt.combine(receipts)

    def _send_batch(self, batch: tuple[Sms, ...]) -> Flow[list[Receipt]]:
        self._count(Operation.SEND_BATCH)
        if not batch:
            raise errors.ValidationError("a batch needs at least one message", provider=self.name)
        texts = {}
        for sms in batch:
            texts[sms] = self.render(sms)
            self._check_text(texts[sms])
            self._check_schedule(sms.send_at)
        size = self.capabilities.max_batch or len(batch)
        chunks = [batch[start : start + size] for start in range(0, len(batch), size)]

        def send_chunk(chunk: tuple[Sms, ...]) -> Flow[Receipt]:
            numbers = tuple(n for sms in chunk for n in sms.to)
            return self._request(Operation.SEND_BATCH, "sms", chunk, numbers, tuple(texts[m] for m in chunk))

        return (
            yield from send_in_parts(
                chunks, send_chunk, pending=lambda rest: [sms for chunk in rest for sms in chunk]
            )
        )

    def _send_mms(self, mms: Mms) -> Flow[Receipt]:
        self._count(Operation.SEND_MMS)
        self._check_schedule(mms.send_at)
        limit = self.capabilities.max_mms_size
        size = sum(len(part.data) for part in mms.parts)
        if limit is not None and size > limit:
            raise errors.ValidationError(
                f"the MMS has {size} bytes; provider {self.name!r} allows {limit}",
                field="parts",
                provider=self.name,
            )
        return (yield from self._request(Operation.SEND_MMS, "mms", mms, mms.to))

    def __repr__(self) -> str:
        # Never raises, not even half-built (a traceback rendered with locals shows it).
        outbox = getattr(self, "outbox", None)
        shown = "(not built)" if outbox is None else f"outbox={len(outbox)}"
        return f"<InMemoryProvider {self.name!r} {shown}>"


def _is_error(value: object) -> bool:
    """Whether ``value`` is an smsgate error: an instance, or a class of one."""
    return isinstance(value, errors.SmsGateError) or (
        isinstance(value, type) and issubclass(value, errors.SmsGateError)
    )


def _listed(values: frozenset[str]) -> str:
    """Values for an error, sorted and quoted: ``'a', 'b'``."""
    return ", ".join(map(repr, sorted(values)))


def _kind_of(value: object) -> str:
    """How an error names a value of the wrong kind: a class by its name, anything else by
    its type (never its repr: a test's value may hold anything)."""
    return f"the class {value.__name__}" if isinstance(value, type) else type(value).__name__


def _reference_of(message: Sms | Mms | tuple[Sms, ...]) -> str | None:
    """The reference of a request: the message's, or the one its batch messages share."""
    if isinstance(message, Sms):
        return message.reference
    if isinstance(message, tuple):
        references = {m.reference for m in message}
        return references.pop() if len(references) == 1 else None
    return None


def _entries(document: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise errors.ValidationError(f'"{key}" must be a list')
    for entry in value:
        if not isinstance(entry, dict):
            raise errors.ValidationError(f'each item of "{key}" must be an object')
        yield entry


def _optional(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _timestamp(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.ValidationError("received_at must be an ISO 8601 string")
    return dt.datetime.fromisoformat(value)


@hookimpl
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    """Register :class:`InMemoryProvider` as the provider ``"memory"``."""
    register("memory", InMemoryProvider)
