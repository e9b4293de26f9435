"""The provider protocol: capabilities plus operations written as I/O-free flows.

A provider never performs I/O. Each operation returns a *flow*: a generator that yields
the :class:`httpx.Request` it wants sent, receives the :class:`httpx.Response` (body read),
and finally returns the result model. httpx's ``Auth.auth_flow`` is the model for this::

    def balance(self, kind: str = "sms") -> Flow[Balance]:
        response = yield build_balance_request(...)
        with smsgate.parsing_reply(response):  # a parser crash here is a malformed reply
            balance = parse_balance(response.content)
        return balance

The core's two drivers (:func:`smsgate.run_flow` and :func:`smsgate.arun_flow`) run the
same flow over an ``httpx.Client`` or ``httpx.AsyncClient``, so a provider is written once
and works in sync and async code. A transport failure is translated to
:class:`~smsgate.exceptions.NotSentError` or
:class:`~smsgate.exceptions.UncertainOutcomeError` and *thrown into* the flow, which may
catch it (a batch adds its partial receipts) or let it propagate. Errors a flow raises need
no provider or operation: the driver sets both on every error that leaves the flow.

Validation happens in the flow before its first ``yield``: a flow that raises
:class:`~smsgate.exceptions.ValidationError` has sent nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

# The classic ``attr`` namespace: the same functions as ``attrs.frozen`` / ``attrs.field``, without
# the ``attrs`` package that re-exports them (six more modules, ~2.2M instructions of
# ``import smsgate``; issue 11).
import attr
import httpx

from smsgate._checks import _compared
from smsgate.exceptions import ConfigurationError, UnsupportedOperationError, ValidationError

if TYPE_CHECKING:
    from smsgate._mms import Mms
    from smsgate._models import Receipt, Sms
    from smsgate._reports import Balance, CallbackReply, DeliveryReport, InboundMessage

__all__ = ["DEFAULT_MAX_REPLY_BYTES", "CallbackReply", "Capabilities", "Flow", "Operation", "Provider"]

T = TypeVar("T")

#: The largest reply body (decoded) the drivers read unless a provider sets its own
#: ``max_reply_bytes``: 16 MiB, far above any real reply (a pull of 4,000 reports is under
#: 1 MB). A larger reply is a MalformedReplyError, read no further.
DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024

#: A provider operation: yields requests, receives responses, returns the result.
Flow: TypeAlias = Generator[httpx.Request, httpx.Response, T]


class Operation(enum.StrEnum):
    """The operations a gateway routes. Each needs the capability of the same name."""

    SEND = "send"
    SEND_BATCH = "send_batch"
    SEND_MMS = "send_mms"
    BALANCE = "balance"
    FETCH_REPORTS = "fetch_reports"
    FETCH_INBOUND = "fetch_inbound"
    CHANGE_PASSWORD = "change_password"  # noqa: S105 - an operation name, not a secret
    QUERY_STATUS = "query_status"

    @property
    def delivers(self) -> bool:
        """True when running it twice could deliver a message twice."""
        return self in (Operation.SEND, Operation.SEND_BATCH, Operation.SEND_MMS)


#: The kinds of balance there are (:class:`~smsgate.Balance`'s ``kind``).
_BALANCE_KINDS = frozenset({"sms", "mms"})


def _shown(kind: object) -> str:
    """A kind for an error: a string by its repr, any other value by its type."""
    return repr(kind) if isinstance(kind, str) else type(kind).__name__


def _balance_kinds(value: object) -> frozenset[str]:
    """``balance_kinds`` as a frozenset of kinds among ``"sms"`` and ``"mms"``; anything else
    is a ConfigurationError naming the field (a string is refused rather than read as its
    letters; a kind that is a string is shown by its repr, any other value by its type)."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise ConfigurationError(
            f"balance_kinds must be kinds such as {{'sms', 'mms'}}, not {type(value).__name__}"
        )
    try:
        kinds = frozenset(value)
    except TypeError:  # an unhashable item
        kinds = None
    if kinds is None or not kinds <= _BALANCE_KINDS:
        others = (
            "an unhashable value" if kinds is None else ", ".join(sorted(map(_shown, kinds - _BALANCE_KINDS)))
        )
        raise ConfigurationError(f"balance_kinds: balance kinds are 'mms' and 'sms', not {others}")
    return kinds


# An instance dict rather than slots: attrs builds a slotted class twice (the class, then its
# slotted copy), ~0.5M instructions of `import smsgate` for this one (issue 11); a provider
# class holds one instance.
@_compared
@attr.frozen(kw_only=True, eq=False, repr=False, slots=False)
class Capabilities:
    """What a provider can do, declared up front so the gateway routes without trying.

    :ivar max_recipients: recipients one send request may carry (the flow chunks above it).
    :ivar max_batch: messages one batch request may carry.
    :ivar max_text_length: characters one message may have, if the provider has a limit.
    :ivar max_mms_size: bytes one MMS may have (its parts' data summed), if the provider has
        a limit; a larger MMS is refused with a ValidationError before any I/O.
    :ivar balance_kinds: the kinds :meth:`Provider.balance` accepts, among ``"sms"`` and
        ``"mms"`` (the kinds of :class:`~smsgate.Balance`): any other kind, or a value that is
        not a collection of kinds (a single string), is a
        :class:`~smsgate.exceptions.ConfigurationError` naming the field.
    :ivar templates: renders logical templates (:attr:`Sms.template <smsgate.Sms>`) from its
        own configuration.
    :ivar free_text: accepts free text (:attr:`Sms.text <smsgate.Sms>`); ``False`` for a
        vendor that sends registered templates only.
    :ivar references: carries :attr:`Sms.reference <smsgate.Sms>` to the vendor (and echoes
        it on reports where the vendor does).
    :ivar query_status: looks a sent message's reports up (:meth:`Provider.query_status`).
    """

    send: bool = True
    batch: bool = False
    mms: bool = False
    balance: bool = False
    balance_kinds: frozenset[str] = attr.field(default=frozenset({"sms"}), converter=_balance_kinds)
    report_pull: bool = False
    inbound_pull: bool = False
    callbacks: bool = False
    scheduling: bool = False
    change_password: bool = False
    templates: bool = False
    free_text: bool = True
    references: bool = False
    query_status: bool = False
    max_recipients: int | None = None
    max_batch: int | None = None
    max_text_length: int | None = None
    max_mms_size: int | None = None

    def supports(self, operation: Operation | str) -> bool:
        """Whether the declared capabilities cover ``operation``."""
        op = Operation(operation)
        return {
            Operation.SEND: self.send,
            Operation.SEND_BATCH: self.batch,
            Operation.SEND_MMS: self.mms,
            Operation.BALANCE: self.balance,
            Operation.FETCH_REPORTS: self.report_pull,
            Operation.FETCH_INBOUND: self.inbound_pull,
            Operation.CHANGE_PASSWORD: self.change_password,
            Operation.QUERY_STATUS: self.query_status,
        }[op]


class Provider:
    """Base class for providers. Subclasses set :attr:`capabilities` and override the
    operations they declare; the others raise :class:`UnsupportedOperationError`.

    :ivar name: the name this instance reports in receipts and errors (defaults to the
        registered provider name; give two accounts of one vendor different names).
    :ivar timeout: seconds allowed per HTTP request (connect, read, write and pool each).
    :ivar max_reply_bytes: the largest reply body the drivers read for this provider; a
        larger one is a :class:`~smsgate.exceptions.MalformedReplyError` (uncertain outcome).
    """

    capabilities: Capabilities = Capabilities()
    name: str = "provider"
    timeout: float | None = 10.0
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _unsupported(self, operation: Operation) -> UnsupportedOperationError:
        return UnsupportedOperationError(
            f"provider {self.name!r} does not support {operation.value}",
            provider=self.name,
            operation=operation.value,
        )

    def cannot_render(self, message: Sms) -> str | None:
        """Why this provider cannot render ``message``, or ``None`` when it can.

        Pure and quick (no I/O): routing asks it before sending, and skips a provider that
        answers a reason, as it skips one without the capability. This base answers from the
        capabilities: a template-only message needs ``templates``, a text-only message needs
        ``free_text``. A provider that renders templates overrides it to check its own
        template table and the parameters each template needs. A message with both a text
        and a template is renderable when either form is. The reason is short and does not
        name the provider (``"no template named 'verify'"``): routing's error adds the name.
        """
        caps = self.capabilities
        if message.text is None and not caps.templates:
            return "renders no templates, and the message has no text"
        if message.template is None and not caps.free_text:
            return "sends templates only, and the message has no template"
        return None

    def cannot_render_batch(self, messages: Sequence[Sms]) -> tuple[int, str] | None:
        """The first of ``messages`` this provider cannot render, as its index and the reason
        :meth:`cannot_render` gives for it, or ``None`` when it can render every one.

        Routing asks it of a batch (one message at a time goes to :meth:`cannot_render`).
        This base asks :meth:`cannot_render` of each message in order, so a provider that
        overrides only :meth:`cannot_render` is asked exactly as before. A provider whose
        per-message answer is costly over a large batch may override it with a whole-batch
        test, provided it gives exactly the answer of this loop (the same index and reason,
        the same error raised for the same message).
        """
        cannot_render = self.cannot_render
        for index, message in enumerate(messages):
            reason = cannot_render(message)
            if reason is not None:
                return index, reason
        return None

    def send(self, sms: Sms) -> Flow[Receipt]:
        """Send one text message (chunked by ``max_recipients`` if needed)."""
        raise self._unsupported(Operation.SEND)

    def send_batch(self, messages: Sequence[Sms]) -> Flow[list[Receipt]]:
        """Send personalised messages; one receipt per request made, in order."""
        raise self._unsupported(Operation.SEND_BATCH)

    def send_mms(self, mms: Mms) -> Flow[Receipt]:
        """Send one multimedia message."""
        raise self._unsupported(Operation.SEND_MMS)

    def balance(self, kind: str = "sms") -> Flow[Balance]:
        """Read the account balance of ``kind`` (see ``capabilities.balance_kinds``)."""
        raise self._unsupported(Operation.BALANCE)

    def fetch_reports(
        self, *, limit: int | None = None, task_id: str | None = None
    ) -> Flow[list[DeliveryReport]]:
        """Pull queued delivery reports. Destructive at most vendors: each is returned once."""
        raise self._unsupported(Operation.FETCH_REPORTS)

    def fetch_inbound(self) -> Flow[list[InboundMessage]]:
        """Pull queued inbound messages. Destructive at most vendors."""
        raise self._unsupported(Operation.FETCH_INBOUND)

    def change_password(self, new_password: str) -> Flow[None]:
        """Change the account password; on success the provider uses the new one."""
        raise self._unsupported(Operation.CHANGE_PASSWORD)

    def query_status(self, receipt: Receipt) -> Flow[list[DeliveryReport]]:
        """Look up the delivery reports of the message behind ``receipt`` (one this provider
        accepted): one report per recipient the vendor knows about, ``PENDING`` while the
        carrier has not answered. Not destructive: asking twice gives the reports again.
        Only for providers whose lookup is exact (it never returns, nor consumes, another
        message's reports)."""
        raise self._unsupported(Operation.QUERY_STATUS)

    # --- pushes (callbacks) -------------------------------------------------------------

    def parse_callback(
        self, body: bytes, content_type: str | None = None
    ) -> list[DeliveryReport | InboundMessage]:
        """Parse the body of a push the provider sent to the application's receiver.

        Pure: no I/O. Raises :class:`~smsgate.exceptions.ValidationError` for a body that is
        not a valid push (the receiver then asks the provider to retry, or rejects it).
        """
        raise UnsupportedOperationError(
            f"provider {self.name!r} does not parse callbacks", provider=self.name
        )

    def callback_reply(self, ok: bool) -> CallbackReply:
        """The answer that tells the provider a push was stored (``ok``) or should be retried."""
        from smsgate._reports import CallbackReply  # noqa: PLC0415 - built on first use

        return CallbackReply(status_code=200 if ok else 500)

    def verify_push(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        """True when a push really comes from the vendor: for vendors that sign their pushes
        (an HMAC of the URL and body in a header, Twilio-style), check the signature here.

        ``headers`` have lower-case names; ``url`` is the URL the vendor posted to (the
        receiver's ``PushGuard.public_url`` when set). Pure: no I/O. The default accepts every
        push (the vendor signs nothing); a receiver refuses a push this returns False for (403,
        never journaled), and one it raises on.
        """
        return True

    # --- argument checks for subclasses -------------------------------------------------

    @staticmethod
    def expect_type(value: object, kind: type, call: str, field: str, *, provider: str | None = None) -> None:
        """Refuse, before anything else, a ``value`` of the wrong type given to the public
        method ``call``: unless it is a ``kind``, raise a
        :class:`~smsgate.exceptions.ValidationError` naming ``field``
        (``"send() takes an Sms, not str"``: the type is named, never the value). Otherwise
        its ``AttributeError`` or ``TypeError`` would come out of the first field read.
        ``provider`` goes on the error (a flow leaves it out: the driver adds it).
        """
        if not isinstance(value, kind):
            raise ValidationError(
                f"{call}() takes an {kind.__name__}, not {type(value).__name__}",
                field=field,
                provider=provider,
            )

    @staticmethod
    def expect_batch(messages: object, *, provider: str | None = None) -> Sequence[Any]:
        """Refuse a ``send_batch`` argument that is no batch: a batch is a sequence (a list or
        a tuple; a ``str`` or ``bytes`` is none), returned as it is, its items for the caller
        to check one by one. Anything else is a :class:`~smsgate.exceptions.ValidationError`
        on field ``messages`` (``"send_batch() takes a sequence of Sms, not dict"``), with
        ``provider`` on it when given.
        """
        if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
            raise ValidationError(
                f"send_batch() takes a sequence of Sms, not {type(messages).__name__}",
                field="messages",
                provider=provider,
            )
        return messages

    @staticmethod
    def push_body(body: object, *, provider: str | None = None) -> bytes:
        """A push's ``body`` (given to :meth:`parse_callback`) as ``bytes``: ``bytes`` as it
        is, a ``bytearray`` or ``memoryview`` copied to bytes. Anything else (a decoded
        ``str``, ``None``) is a :class:`~smsgate.exceptions.ValidationError` on field
        ``body``, with ``provider`` on it when given, where its ``AttributeError`` or
        ``TypeError`` would otherwise come out of the parse.
        """
        if isinstance(body, bytes):
            return body
        if isinstance(body, bytearray | memoryview):
            return bytes(body)
        raise ValidationError(
            f"a push body is the request's raw bytes, not {type(body).__name__}",
            field="body",
            provider=provider,
        )


def __getattr__(name: str) -> Any:
    """:class:`CallbackReply`, defined in :mod:`smsgate._reports` (built on its first use, not
    at ``import smsgate``) and still importable from here (PEP 562)."""
    if name != "CallbackReply":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from smsgate._reports import CallbackReply  # noqa: PLC0415 - on first use

    globals()[name] = CallbackReply
    return CallbackReply
