"""Limits for a receiver exposed to the network, and a rate limit for the log lines a flood makes.

:class:`ServerLimits` bounds what slow or idle clients can hold: connections, the time to send
the request head, the time to send the body, the body's size, the idle keep-alive time and
the listen backlog. :class:`RateLimitFilter` lets one line of a kind through per interval and
counts the rest, so a flood of refused pushes or of ``accept()`` errors cannot fill a disk.
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
import time
from typing import Any

import attrs

from smsgate.exceptions import ConfigurationError

__all__ = ["RateLimitFilter", "RateLimiter", "ServerLimits"]


def _count(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A positive whole number (connections, bytes, queued connections): any integral number,
    not a bool; ``0`` would refuse every connection or every body."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(f"ServerLimits.{attr.name} must be a whole number, not {value!r}")
    if value <= 0:
        raise ConfigurationError(f"ServerLimits.{attr.name} must be positive, not {value!r}")


def is_seconds(value: object, *, zero: bool = False) -> bool:
    """Whether ``value`` is a finite number of seconds: any real number but a bool, positive
    (or ``0`` too when ``zero``); NaN, the infinities and an int too large for a float are not.
    The receiver's one test of a duration (limits, the server thread, the journals)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        number = float(value)
    except OverflowError:
        return False
    return (number >= 0 if zero else number > 0) and number < math.inf  # False for NaN too


def _seconds(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A positive, finite number of seconds (any real number, not a bool): ``0`` would close
    every connection at once, and NaN passes every comparison."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"ServerLimits.{attr.name} must be a number of seconds, not {value!r}")
    if not is_seconds(value):
        raise ConfigurationError(
            f"ServerLimits.{attr.name} must be a positive, finite number of seconds, not {value!r}"
        )


@attrs.frozen(kw_only=True)
class ServerLimits:
    """What one client may hold of a receiver's server (see ``docs/receiver.md``).

    :ivar max_connections: open connections at most. Over it, the oldest connection that is
        idle or still sending its request head is closed to make room; when every
        connection is busy with a request, the new one is closed at once. Keep it well under
        the process's file limit (``ulimit -n``).
    :ivar head_timeout: seconds a client gets to send its request line and headers (a
        connection that trickles them is closed).
    :ivar body_timeout: seconds a client gets to send its body once the head is in (the
        adapter answers 408).
    :ivar keep_alive: seconds an idle keep-alive connection stays open.
    :ivar backlog: the listen backlog: connections the kernel queues before they are accepted.
    :ivar max_body: the largest body accepted, in bytes (larger: 413).

    The counts (``max_connections``, ``backlog``, ``max_body``) are positive whole numbers and
    the timeouts positive, finite numbers of seconds; anything else is refused with a
    :class:`~smsgate.exceptions.ConfigurationError` naming the field, here and in
    :func:`attrs.evolve`.
    """

    max_connections: int = attrs.field(default=100, validator=_count)
    head_timeout: float = attrs.field(default=10.0, validator=_seconds)
    body_timeout: float = attrs.field(default=10.0, validator=_seconds)
    keep_alive: float = attrs.field(default=5.0, validator=_seconds)
    backlog: int = attrs.field(default=128, validator=_count)
    max_body: int = attrs.field(default=1 << 20, validator=_count)


class RateLimiter:
    """Say yes to one event of a kind per ``interval`` seconds, and count the refused ones.

    Thread-safe. :meth:`allow` returns ``None`` to suppress, else how many of that kind were
    suppressed since the last one allowed.

    :raises ConfigurationError: ``interval`` is not a positive, finite number of seconds (a
        string failed at the second event, a NaN suppressed nothing).
    """

    def __init__(self, interval: float = 10.0) -> None:
        if not is_seconds(interval):
            raise ConfigurationError(
                f"interval must be a positive, finite number of seconds, not {interval!r}"
            )
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, kind: str) -> int | None:
        """``None`` when a ``kind`` event was allowed less than ``interval`` ago, else the count
        of ``kind`` events suppressed since (and this one is allowed)."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return None
            if len(self._last) > 1000:  # kinds are message templates; never grow without bound
                self._last.clear()
            self._last[kind] = now
            return self._suppressed.pop(kind, 0)


class RateLimitFilter(logging.Filter):
    """A logging filter that lets one record per message template through per ``interval``
    seconds; the next one let through says how many were suppressed meanwhile.

    Records are told apart by logger name and unformatted message (``record.msg``), so lines
    that differ only in their arguments (an address, a count) count as one kind. Attach it
    to a handler or a logger::

        logging.getLogger("asyncio").addFilter(RateLimitFilter(interval=10))

    :raises ConfigurationError: ``interval`` is not a positive, finite number of seconds.
    """

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.limiter = RateLimiter(interval)

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record of a kind let through less than ``interval`` seconds ago."""
        suppressed = self.limiter.allow(f"{record.name}\x1f{record.msg}")
        if suppressed is None:
            return False
        if suppressed:
            record.msg = f"{record.getMessage()} [{suppressed} similar line(s) suppressed]"
            record.args = None
        return True


def app_max_body(receiver: object, max_body: object, limits: object) -> int:
    """The arguments of :func:`~smsgate.receiver.asgi.asgi_app` /
    :func:`~smsgate.receiver.wsgi.wsgi_app`, each refused with a :class:`ConfigurationError`
    naming it, and the largest body the app accepts.

    A receiver whose provider does not declare :attr:`Capabilities.callbacks
    <smsgate.Capabilities>` is refused here rather than at construction: it may store and
    dispatch what a pull returned (:meth:`Receiver.store_pulled`), but every push served with
    it would be answered "retry" (the provider cannot parse it), for ever.
    """
    provider = getattr(receiver, "provider", None)
    if provider is None or not callable(getattr(receiver, "handle_push", None)):
        # (what a Receiver has: this module cannot import the class, which imports it)
        raise ConfigurationError(
            f"the receiver app needs a smsgate.receiver.Receiver, not {type(receiver).__name__}"
        )
    name = provider.name
    if not provider.capabilities.callbacks:
        raise ConfigurationError(
            f"provider {name!r} does not declare the callbacks capability: it cannot parse pushes, "
            "so a receiver app for it would answer every push with 'retry'",
            provider=name,
        )
    if limits is not None and not isinstance(limits, ServerLimits):
        raise ConfigurationError(
            f"limits must be a smsgate.receiver.ServerLimits (or None), not {type(limits).__name__}",
            provider=name,
        )
    if max_body is None:
        return (limits if limits is not None else ServerLimits()).max_body
    if isinstance(max_body, bool) or not isinstance(max_body, numbers.Integral) or max_body <= 0:
        raise ConfigurationError(
            f"max_body must be a positive whole number of bytes (or None), not {max_body!r}", provider=name
        )
    return int(max_body)
