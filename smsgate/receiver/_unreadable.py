"""Pushes the provider could not read (dead letters), kept so that none is lost.

A push whose body ``provider.parse_callback`` refuses is answered "retry"; a vendor re-delivers
it a few times and then gives up. Before answering, the receiver keeps the body in its journal
(:class:`UnreadableStore`): one record per provider and body (:func:`unreadable_key`), counting
its deliveries, so that it can be read again once the parser is fixed
(:meth:`Receiver.reparse_unreadable <smsgate.receiver.Receiver.reparse_unreadable>`).

What is kept is bounded (:data:`DEFAULT_MAX_UNREADABLE` pushes, :data:`DEFAULT_MAX_UNREADABLE_BYTES`
bytes of bodies by default: ``Receiver(max_unreadable=…, max_unreadable_bytes=…)``): without a
:class:`~smsgate.receiver.PushGuard`, anyone who can post could otherwise fill the disk with
distinct garbage bodies. The journals keep running totals (one row, kept by triggers), so the
check costs one indexed read, never a scan.

A body holds phone numbers and message texts: it never appears in a repr, a log line or an
error message (:func:`unreadable_error` keeps it out of the parser's error text too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Protocol, runtime_checkable

import attrs

from smsgate.exceptions import ConfigurationError, ValidationError

__all__ = [
    "DEFAULT_MAX_UNREADABLE",
    "DEFAULT_MAX_UNREADABLE_BYTES",
    "UnreadablePush",
    "UnreadableStore",
    "unreadable_error",
    "unreadable_key",
]

#: How many unreadable pushes a receiver keeps at most, by default (``max_unreadable``).
DEFAULT_MAX_UNREADABLE = 10_000
#: How many bytes of unreadable bodies a receiver keeps at most, by default (64 MiB,
#: ``max_unreadable_bytes``).
DEFAULT_MAX_UNREADABLE_BYTES = 64 * 1024 * 1024

#: A bound on the unreadable pushes this large or larger is no bound (``None``): the journals
#: compare it with 64-bit totals, and a larger one cannot be given to the database.
NO_BOUND_FROM = 2**62

#: The longest error text kept for an unreadable push (a parser's message can be long).
MAX_ERROR = 1000

#: The longest ``Content-Type`` kept for an unreadable push (a media type and its parameters
#: take a few dozen): the bound counts bodies only, so a header of many kilobytes must not ride
#: along with each kept push.
MAX_CONTENT_TYPE = 1000

#: An exception's class name (dotted, as a qualified name may be): what of a kept error is shown.
_CLASS_NAME = re.compile(r"[A-Za-z_][\w.]{0,99}")


def error_class(error: str) -> str:
    """The class part of a kept push's error (its text up to the first ``:``), never its
    message, which may quote a field of the body (a phone number, a message text); ``""``
    when that part is no class name."""
    name = error.partition(":")[0].strip() if isinstance(error, str) else ""
    return name if _CLASS_NAME.fullmatch(name) else ""


@attrs.frozen(kw_only=True, repr=False)
class UnreadablePush:
    """A push the provider could not read, as the journal keeps it (a dead letter).

    :ivar key: SHA-256 (hex) over the provider's name and the body (:func:`unreadable_key`):
        every delivery of one body is one record.
    :ivar provider: the name of the provider whose receiver got it.
    :ivar content_type: the request's ``Content-Type`` at the last delivery (``None``: none).
    :ivar body: the request's body, as it arrived. It holds phone numbers and message
        texts: the repr shows its size only.
    :ivar error: why it could not be read, at the last attempt: the exception's class and
        message (never the whole body, though the message may quote a field of it: a phone
        number, a text). The repr shows its class only (:attr:`error_class`).
    :ivar first_seen: when it first arrived (UTC).
    :ivar last_seen: when it last arrived (UTC).
    :ivar deliveries: how many times it arrived.
    """

    key: str
    provider: str
    content_type: str | None
    body: bytes
    error: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    deliveries: int = 1

    @property
    def error_class(self) -> str:
        """The class of :attr:`error` (``"ValidationError"``), without its message, which may
        quote a field of the body; ``""`` when the error names no class."""
        return error_class(self.error)

    def __repr__(self) -> str:
        # Never the body (phone numbers, message texts), nor the error's message (it can
        # quote a field of the body); never raises. str() is this too.
        try:
            return (
                f"UnreadablePush(key={self.key!r}, provider={self.provider!r}, "
                f"content_type={self.content_type!r}, body=<{len(self.body)} bytes>, "
                f"error=<{self.error_class or 'error'}>, first_seen={self.first_seen!r}, "
                f"last_seen={self.last_seen!r}, deliveries={self.deliveries!r})"
            )
        except Exception:
            return "UnreadablePush(...)"


@runtime_checkable
class UnreadableStore(Protocol):
    """A journal that also keeps the pushes the provider could not read (optional).

    :class:`~smsgate.receiver.SQLiteJournal` and :class:`~smsgate.receiver.PostgresJournal`
    implement it. A :class:`~smsgate.receiver.Journal` without it still works: its receiver
    only answers "retry" to an unreadable push, as before, and says so once in a WARNING.
    Methods are blocking and must be thread-safe, as the :class:`~smsgate.receiver.Journal`'s.

    A store may also have ``update_unreadable(key, error) -> bool`` (both journals do):
    :meth:`Receiver.reparse_unreadable <smsgate.receiver.Receiver.reparse_unreadable>` then
    records the new error of a push still unreadable, without counting a delivery. And
    ``unreadable_usage() -> (pushes, bytes)`` (both journals): what is kept, read once per
    push while the store is full, to tell when it has room again.
    """

    def record_unreadable(
        self,
        provider: str,
        body: bytes,
        content_type: str | None,
        error: str,
        *,
        max_pushes: int | None = None,
        max_bytes: int | None = None,
    ) -> str | None:
        """Keep ``body`` durably (before the "retry" reply); return its key
        (:func:`unreadable_key`). Another delivery of the same body counts one more delivery
        and updates ``last_seen``, ``content_type`` and ``error``.

        A new body is not kept (``None`` is returned) when the store would then hold more than
        ``max_pushes`` pushes or ``max_bytes`` bytes of bodies (``None``: no bound); a body
        kept before still counts its delivery. A store whose ``record_unreadable`` takes no
        ``max_pushes`` / ``max_bytes`` is called without them (and bounds nothing)."""
        ...

    def unreadable(self) -> list[UnreadablePush]:
        """Every kept push, oldest first."""
        ...

    def discard_unreadable(self, key: str) -> bool:
        """Forget the kept push ``key``; False when there is none."""
        ...


def unreadable_key(provider: str, body: bytes) -> str:
    """The key of an unreadable push: SHA-256 (hex) over the provider's name, a separator
    byte (``0x1f``) and the body."""
    return hashlib.sha256(b"%s\x1f%s" % (provider.encode("utf-8"), body)).hexdigest()


def unreadable_error(exc: BaseException, body: bytes) -> str:
    """What is kept of ``exc`` (the parser's refusal of ``body``): its class and message, the
    message left out when it quotes the body, cut to :data:`MAX_ERROR` characters."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # an exception that cannot render itself
        return f"{name}: (message not renderable)"
    if _quotes(message, body):
        return f"{name}: (message not kept: it quotes the push)"
    text = f"{name}: {message}" if message else name
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _quotes(message: str, body: bytes) -> bool:
    """True when ``message`` holds the whole body, as text or as its escaped bytes."""
    if not body:
        return False
    text = body.decode("utf-8", "replace")
    shown = {text, text.strip(), repr(body)[2:-1], repr(text)[1:-1]}
    return any(piece and piece in message for piece in shown)


def check_unreadable(
    provider: object, body: object, content_type: object, error: object
) -> tuple[str, bytes, str | None, str]:
    """The arguments of :meth:`UnreadableStore.record_unreadable`, checked: ``body`` as bytes
    (a ``bytearray`` or ``memoryview`` read as its bytes), ``content_type`` cut to
    :data:`MAX_CONTENT_TYPE` characters; anything else is a :class:`ValidationError` naming the
    argument (never quoting the body)."""
    if not isinstance(provider, str) or not provider:
        raise ValidationError(
            "record_unreadable's provider is a provider's name (non-empty text), "
            f"not {type(provider).__name__}",
            field="provider",
        )
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ValidationError(
            f"record_unreadable's body is the push's raw bytes, not {type(body).__name__}", field="body"
        )
    if content_type is not None and not isinstance(content_type, str):
        raise ValidationError(
            f"record_unreadable's content_type is text or None, not {type(content_type).__name__}",
            field="content_type",
        )
    if not isinstance(error, str):
        raise ValidationError(f"record_unreadable's error is text, not {type(error).__name__}", field="error")
    content_type = None if content_type is None else storable(content_type[:MAX_CONTENT_TYPE])
    return storable(provider), bytes(body), content_type, storable(error)


def keyed_unreadable(
    provider: object, body: object, content_type: object, error: object
) -> tuple[str, str, bytes, str | None, str]:
    """:func:`check_unreadable`'s values, led by the key they are kept under
    (:func:`unreadable_key` of the checked provider and body): what every way of keeping an
    unreadable push starts from."""
    provider, body, content_type, error = check_unreadable(provider, body, content_type, error)
    return unreadable_key(provider, body), provider, body, content_type, error


def storable(text: str) -> str:
    """``text`` as every database takes it: a NUL or a lone surrogate (which PostgreSQL and
    SQLite refuse, or the driver cannot encode) written as its escape."""
    if "\0" in text:
        text = text.replace("\0", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def check_key(key: object, method: str) -> str:
    """The ``key`` of a kept push given to ``method``, as the database takes it (a NUL or a
    lone surrogate escaped: no key has one, so it matches none); anything but text is a
    :class:`ValidationError`."""
    if not isinstance(key, str):
        raise ValidationError(
            f"{method}'s key is a kept push's key (text, UnreadablePush.key), not {type(key).__name__}",
            field="key",
        )
    return storable(key)


def check_bound(
    owner: str, name: str, value: object, error: type[ValidationError | ConfigurationError]
) -> int | None:
    """A bound on the unreadable pushes (``name`` of ``owner``): a whole number >= 0, or
    ``None`` (no bound); anything else is ``error`` naming it. A bound of :data:`NO_BOUND_FROM`
    or more is none (``None``): the journals' totals are 64-bit integers, which no larger bound
    fits in (nor the sum of one and a body's size)."""
    if value is None or (type(value) is int and value >= 0):
        return None if value is not None and value >= NO_BOUND_FROM else value
    message = (
        f"{owner}'s {name} is a whole number >= 0 (0: keep none) or None (no bound), "
        f"not {type(value).__name__} {value!r}"
    )
    if error is ValidationError:
        raise ValidationError(message, field=name)
    raise ConfigurationError(message)
