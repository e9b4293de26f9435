"""Every error smsgate raises, in one tree.

Each class answers the question an application has when a send goes wrong:
*was the message sent, and what can I do now?*

::

    SmsGateError                      root of everything smsgate raises
    ├── ConfigurationError            the library is set up wrongly; fix the code or config
    │   ├── UnknownProviderError      no plugin registers that provider name
    │   ├── DuplicateProviderError    two plugins register the same provider name
    │   └── UnsupportedOperationError no configured provider can do this operation
    │       └── UnrenderableMessageError none can render this message (also a ValidationError)
    ├── ValidationError               bad input, found before any I/O; nothing was sent
    ├── ProviderError                 the provider answered and refused (code, message kept)
    │   ├── ProviderUnavailableError  about *this provider*: another provider may succeed
    │   │   ├── AuthenticationError   wrong account or password, IP not bound, account stopped
    │   │   ├── InsufficientBalanceError
    │   │   ├── NoChannelError        no sending channel or product configured
    │   │   ├── PermissionDeniedError the account may not use this operation
    │   │   ├── RateLimitedError      too many requests; try again later (retryable)
    │   │   └── ProviderOutageError   internal error at the provider (retryable)
    │   └── MessageRejectedError      about *the message*: any provider would refuse it
    │       ├── InvalidRecipientError bad, black-listed or unroutable number
    │       ├── ContentError          empty, too long, sensitive words, bad parts
    │       └── SignatureError        the 【signature】 is missing or not allowed
    ├── TransportError                the exchange itself failed
    │   ├── NotSentError              surely did not reach the provider: safe to retry
    │   │   └── CircuitOpenError      not attempted: the provider's circuit breaker is open
    │   └── UncertainOutcomeError     may have reached it: retrying may send twice
    │       └── MalformedReplyError   a reply came but could not be understood
    ├── PartialSendError              a send made of several requests was partly accepted
    ├── JournalError                  the receiver's journal could not store or read events
    └── AllProvidersFailedError       every attempt failed (also an ``ExceptionGroup``)

``PartialBatchError`` is the former name of :class:`PartialSendError`, kept as an alias.

Two class attributes carry the routing decision, so code never has to know the tree:

``retry_safe``
    Sending the *same* request to the *same* provider again cannot duplicate the message
    and may succeed.
``failover_safe``
    Sending the message to *another* provider cannot duplicate it.

Errors from httpx, zeep, lxml and pycryptodome never escape untranslated: they are
always the ``__cause__`` of one of these.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, ClassVar, Self

__all__ = [
    "AllProvidersFailedError",
    "AuthenticationError",
    "CircuitOpenError",
    "ConfigurationError",
    "ContentError",
    "DuplicateProviderError",
    "InsufficientBalanceError",
    "InvalidRecipientError",
    "JournalError",
    "MalformedReplyError",
    "MessageRejectedError",
    "NoChannelError",
    "NotSentError",
    "PartialBatchError",
    "PartialSendError",
    "PermissionDeniedError",
    "ProviderError",
    "ProviderOutageError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "SignatureError",
    "SmsGateError",
    "TransportError",
    "UncertainOutcomeError",
    "UnknownProviderError",
    "UnrenderableMessageError",
    "UnsupportedOperationError",
    "ValidationError",
    "error_for_http_status",
    "parse_retry_after",
]


class SmsGateError(Exception):
    """Root of every error smsgate raises.

    :ivar provider: name of the provider involved, when one is.
    :ivar operation: the operation that failed (``"send"``, ``"balance"`` …), when known.
    :ivar attempts: set by the gateway on the error it raises: every failed attempt
        before this one, oldest first, each an exception with ``provider`` set.
    """

    #: Re-sending to the same provider cannot duplicate the message.
    retry_safe: ClassVar[bool] = False
    #: Sending to another provider cannot duplicate the message.
    failover_safe: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.operation = operation
        self.attempts: tuple[SmsGateError, ...] = ()

    def __str__(self) -> str:
        where = f"[{self.provider}] " if self.provider else ""
        return f"{where}{self.message}"


# --- configuration ----------------------------------------------------------------------


class ConfigurationError(SmsGateError):
    """The library is set up wrongly. Fix the code or the configuration; retrying won't help."""


class UnknownProviderError(ConfigurationError):
    """No installed plugin registers a provider under this name.

    Install the plugin (``pip install smsgate-<name>``) or check ``SMSGATE_PLUGINS``.
    """


class DuplicateProviderError(ConfigurationError):
    """Two plugins register a provider under the same name; uninstall or restrict one."""


class UnsupportedOperationError(ConfigurationError):
    """No configured provider declares the capability this operation needs."""


# --- input ------------------------------------------------------------------------------


class ValidationError(SmsGateError, ValueError):
    """The input is invalid. Found before any I/O: nothing was sent. Correct the input.

    :ivar field: the name of the offending field, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, operation=operation)
        self.field = field


class UnrenderableMessageError(UnsupportedOperationError, ValidationError):
    """No configured provider can render this message: each one's ``cannot_render`` gave a
    reason (no template of that name, a rule of the account such as a number it cannot reach
    or a text too long). Raised by the gateway before any I/O: nothing was sent.

    It is both an :class:`UnsupportedOperationError` (the gateway has no provider for it) and
    a :class:`ValidationError` (this input cannot be sent as it is), so code catching either
    catches it. ``field`` is ``None``; ``retry_safe`` and ``failover_safe`` are ``False``.
    """


# --- provider refusals ------------------------------------------------------------------


class ProviderError(SmsGateError):
    """The provider answered and refused the request. Nothing was sent.

    :ivar code: the vendor's result code as a string (``"1005"``, ``"PasswordError"``), if any.
    :ivar vendor_message: the vendor's own description, unchanged.
    :ivar raw: the reply as parsed (not part of ``str()``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        vendor_message: str | None = None,
        raw: Any = None,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, operation=operation)
        self.code = code
        self.vendor_message = vendor_message
        self.raw = raw

    def __str__(self) -> str:
        text = super().__str__()
        if self.code is not None:
            text += f" (code {self.code})"
        return text


class ProviderUnavailableError(ProviderError):
    """The refusal is about this provider or account, not the message: fail over."""

    failover_safe = True


class AuthenticationError(ProviderUnavailableError):
    """Credentials refused, account stopped or caller IP not bound. Check the account."""


class InsufficientBalanceError(ProviderUnavailableError):
    """The account has no balance left. Top it up, or let another provider send."""


class NoChannelError(ProviderUnavailableError):
    """The account has no channel or product able to carry this message."""


class PermissionDeniedError(ProviderUnavailableError):
    """The account is not allowed to use this operation."""


class RateLimitedError(ProviderUnavailableError):
    """The provider asks to slow down. Retrying later is safe.

    :ivar retry_after: seconds the provider asked to wait, when it said.
    """

    retry_safe = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderOutageError(ProviderUnavailableError):
    """The provider reported an internal error without accepting the message. Retry later."""

    retry_safe = True


class MessageRejectedError(ProviderError):
    """The refusal is about the message: another provider would refuse it too. Fix it."""


class InvalidRecipientError(MessageRejectedError):
    """A recipient number is malformed, black-listed or has no route."""


class ContentError(MessageRejectedError):
    """The content is empty, too long, contains blocked words, or its parts are malformed."""


class SignatureError(MessageRejectedError):
    """The 【signature】 the provider requires is missing or not registered."""


# --- transport --------------------------------------------------------------------------


class TransportError(SmsGateError):
    """The HTTP exchange failed. See the two subclasses for what that means."""


class NotSentError(TransportError):
    """The request surely never reached the provider (DNS, refused, connect timeout, TLS).

    Retrying or failing over cannot duplicate the message.
    """

    retry_safe = True
    failover_safe = True


class CircuitOpenError(NotSentError):
    """The gateway skipped this provider: its circuit breaker is open after repeated
    availability failures. Nothing was sent to it; it is probed again after a cool-down."""


class UncertainOutcomeError(TransportError):
    """The request may have reached the provider, but no usable answer came back.

    The message may or may not have been sent. Retrying or failing over may send it twice,
    so smsgate does neither unless told to; check delivery reports before resending.

    :ivar request_sent: True when the whole request is known to have been written.
    """

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool | None = None,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, operation=operation)
        self.request_sent = request_sent


class MalformedReplyError(UncertainOutcomeError):
    """A reply arrived but could not be parsed; whether the provider acted is unknown.

    :ivar status_code: the HTTP status of the reply.
    :ivar body_excerpt: the first bytes of the reply, for diagnosis (never the request).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body_excerpt: bytes = b"",
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, request_sent=True, provider=provider, operation=operation)
        self.status_code = status_code
        self.body_excerpt = body_excerpt[:200]


# --- batches and groups -----------------------------------------------------------------


class PartialSendError(SmsGateError):
    """A send went out as several requests; some were accepted, then one failed.

    This happens to one :class:`~smsgate.Sms` split by a provider's ``max_recipients``, to a
    batch split into requests, and to a send the gateway resumed on another provider.

    :ivar receipts: the receipts of the requests that were accepted, in order.
    :ivar pending: the messages that were not accepted (the failed request's and the rest).
    :ivar untried: the part of :attr:`pending` whose requests were never made (the requests
        after the failed one), as the sender would resend them: surely not sent, whatever
        the cause. The rest of ``pending`` is the failed request's: when :attr:`cause` is an
        :class:`UncertainOutcomeError` those recipients may have been sent to (check before
        resending them), otherwise they were not sent either. Empty when the failed request
        was the last one, and when the sender could not tell (a conservative answer: nothing
        is called untried that may have gone).
    The failure itself is :attr:`cause` (also set as ``__cause__`` for tracebacks; ``raise
    … from`` cannot replace :attr:`cause`); ``retry_safe`` / ``failover_safe`` follow it, so
    the pending part may be resent exactly when the cause allows it.
    """

    def __init__(
        self,
        message: str,
        *,
        receipts: Sequence[Any],
        pending: Sequence[Any],
        cause: SmsGateError,
        provider: str | None = None,
        operation: str | None = None,
        untried: Sequence[Any] = (),
    ) -> None:
        super().__init__(message, provider=provider, operation=operation)
        self.receipts = tuple(receipts)
        self.pending = tuple(pending)
        self.untried = tuple(untried)
        self._stopped_by = cause
        self.__cause__ = cause

    def __reduce__(self) -> tuple[Any, ...]:
        # BaseException's own rebuilds from ``args`` alone, which lack the keyword-only
        # receipts, pending and cause: unpickling (a process pool, a task result) failed.
        rebuild = functools.partial(
            type(self),
            receipts=self.receipts,
            pending=self.pending,
            cause=self.cause,
            untried=getattr(self, "untried", ()),
        )
        return (rebuild, (self.message,), self.__dict__)

    @property
    def cause(self) -> SmsGateError:
        """The error that stopped the batch."""
        return self._stopped_by

    @property
    def retry_safe(self) -> bool:  # type: ignore[override]
        """The cause's: re-sending the pending part to the same provider cannot duplicate it."""
        return self.cause.retry_safe

    @property
    def failover_safe(self) -> bool:  # type: ignore[override]
        """The cause's: sending the pending part to another provider cannot duplicate it."""
        return self.cause.failover_safe


#: The name this error had before sends split by ``max_recipients`` were covered too.
PartialBatchError = PartialSendError


class JournalError(SmsGateError):
    """The receiver's journal could not store or read events (disk full, locked, closed …).

    The receiver answers the provider "not stored, retry later" when this happens, so nothing
    is lost as long as the provider retries. Raised by :class:`smsgate.receiver.SQLiteJournal`
    (with the database error as ``__cause__``) and expected from any other journal.
    """


class AllProvidersFailedError(SmsGateError, ExceptionGroup[SmsGateError]):
    """Every attempt on every eligible provider failed.

    It is an :class:`ExceptionGroup`: ``except*`` works on it, and ``exceptions`` lists every
    attempt in order, each with ``provider`` set (``attempts`` holds the same, typed as
    ``tuple[SmsGateError, ...]``). Raised only when several providers were eligible; with one,
    the gateway raises that provider's own error. Nothing was sent (an uncertain outcome stops
    the gateway with that error instead, unless failover on uncertainty was allowed).
    """

    def __new__(cls, message: str, exceptions: Sequence[SmsGateError], **_: Any) -> Self:
        return super().__new__(cls, message, exceptions)

    def __init__(
        self,
        message: str,
        exceptions: Sequence[SmsGateError],
        *,
        operation: str | None = None,
    ) -> None:
        # ExceptionGroup stores message and exceptions in __new__ (``message`` is read-only
        # there); only SmsGateError's own fields are set here.
        self.provider = None
        self.operation = operation
        self.attempts = tuple(exceptions)

    def __str__(self) -> str:
        return ExceptionGroup.__str__(self)

    def derive(self, excs: Sequence[SmsGateError]) -> AllProvidersFailedError:  # type: ignore[override]
        """The same error over a subset of the attempts (what ``except*`` and ``split`` build),
        keeping the message and the operation."""
        return AllProvidersFailedError(self.message, excs, operation=self.operation)


# --- what an HTTP status says: for providers ----------------------------------------------

#: RFC 9110 §10.2.3: delay-seconds is 1*DIGIT. More than nine digits (31 years) is no delay a
#: client should honour.
_MAX_DELAY_DIGITS = 9


def parse_retry_after(value: str | bytes | None, *, now: dt.datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait, or ``None`` when it says nothing usable.

    RFC 9110 §10.2.3: ASCII digits (delay-seconds) or an HTTP date (the wait is the time
    until then, at least 0; ``now``: the current time, aware, by default the clock's). Anything
    else (a non-ASCII digit such as ``²``, a sign, a fraction, an absurdly long number, a date
    further ahead than nine digits of seconds, a value that is no text) is ignored: the 429
    stays a rate limit, without a delay. Header bytes are read as Latin-1. Never raises.
    """
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or not text.isascii():
        return None
    if text.isdigit():  # an ASCII str: only 0-9 are digits
        return float(text) if len(text) <= _MAX_DELAY_DIGITS else None
    if len(text) > 64:
        return None
    import email.utils  # noqa: PLC0415 - only a provider's 429 with a date needs it

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" in the date: RFC 5322 for "UTC, source unknown"
        when = when.replace(tzinfo=dt.UTC)
    current = now if now is not None else dt.datetime.now(dt.UTC)
    try:
        delay = max(0.0, (when - current).total_seconds())
    except (TypeError, OverflowError):  # a naive ``now``; a date past the calendar's end in UTC
        return None
    # The same ceiling as delay-seconds: a wait a date asks of centuries is none to honour
    # (and a scheduler adding it to the clock would overflow the calendar).
    return delay if delay < 10**_MAX_DELAY_DIGITS else None


def error_for_http_status(
    status_code: int, *, retry_after: str | None = None, service: str = "the gateway"
) -> SmsGateError | None:
    """What an HTTP status other than 2xx says of a request: its error, or ``None`` for a 2xx.
    For a provider whose reply carries no answer of the vendor's own (a refusal code) that
    would say more.

    * 429 → :class:`RateLimitedError` (the ``Retry-After`` header's seconds kept, see
      :func:`parse_retry_after`), 503 → :class:`ProviderOutageError`: both refuse the request
      before it is processed, so nothing was sent (retry later, or fail over);
    * any other 5xx → :class:`UncertainOutcomeError`: the service may have failed *after*
      acting on the request (a crash, a proxy timing out), so a send must not be repeated;
    * any other status (a 4xx, a 1xx or 3xx left over) → :class:`ProviderError` with code
      ``HTTP <status>``: the server refused the request before the service read it (a wrong
      ``base_url`` gives 404); nothing was sent, but another provider is not tried, since the
      cause is usually configuration.

    ``service`` names the other side in the message (``"the gateway"``, ``"Aliyun"``).

    :raises ValidationError: ``status_code`` is no whole number (a ``str``, a ``bool``).
    """
    if isinstance(status_code, bool) or not isinstance(status_code, int):
        raise ValidationError(
            f"error_for_http_status's status_code is an HTTP status (int), not {type(status_code).__name__}",
            field="status_code",
        )
    if 200 <= status_code < 300:
        return None
    if status_code == 429:
        return RateLimitedError(
            f"{service} asks to slow down (HTTP 429)",
            retry_after=parse_retry_after(retry_after),
            code="HTTP 429",
        )
    if status_code == 503:
        return ProviderOutageError(f"{service} is unavailable (HTTP 503)", code="HTTP 503")
    if status_code >= 500:
        return UncertainOutcomeError(
            f"{service} failed with HTTP {status_code}; it may have acted on the request",
            request_sent=True,
        )
    return ProviderError(f"{service} refused the request with HTTP {status_code}", code=f"HTTP {status_code}")
