"""Fault injection: make the sandbox slow, broken or refusing, over a real socket.

============  ===========================================================================
kind          what the client sees
============  ===========================================================================
``latency``   the reply comes ``seconds`` late: the request is read, then served normally
              (acted on even when the client timed out meanwhile; its reply is dropped)
``status``    HTTP ``status`` (default 503) with an HTML body, and the request is *not* acted on (a
              gateway in front of the service failing)
``code``      the service's refusal ``code`` / ``message`` (HTTP ``status``, default 200),
              not acted on: ``Throttling.User``, ``isv.BUSINESS_LIMIT_CONTROL`` …
``garbage``   the request *is* acted on (a send is recorded), then the reply is not JSON
``drop``      the request *is* acted on, then the connection is closed mid-reply
============  ===========================================================================

A rule applies to one action (``SendSms`` …) or to every one (``*``), ``times`` times
(``None``: until cleared).
"""

from __future__ import annotations

import logging
import threading
from typing import Literal

import attrs

__all__ = ["FAULT_KINDS", "DroppedConnection", "FaultKind", "FaultRule", "FaultSet", "quiet_drops"]

FaultKind = Literal["latency", "status", "code", "garbage", "drop"]
FAULT_KINDS = frozenset({"latency", "status", "code", "garbage", "drop"})


def _kind(_inst: object, _attr: object, value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {sorted(FAULT_KINDS)}, not {value!r}")


def _times(_inst: object, _attr: object, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError("times must be a positive integer or null")


@attrs.define
class FaultRule:
    """One injected fault (see the module table)."""

    kind: FaultKind = attrs.field(validator=_kind)
    action: str = "*"
    times: int | None = attrs.field(default=1, validator=_times)
    seconds: float = 0.0
    status: int | None = None  # ``status``: default 503; ``code``: default 200
    code: str = "isp.SYSTEM_ERROR"
    message: str = "sandbox fault"

    def matches(self, action: str) -> bool:
        """Whether this rule applies to ``action``."""
        return self.action in {"*", action}


class FaultSet:
    """The rules in force; :meth:`take` hands out the first that matches and counts it down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        """Put ``rule`` in force, after the ones already there."""
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        """The rules in force, in order."""
        with self._lock:
            return list(self._rules)

    def take(self, action: str) -> FaultRule | None:
        """The first rule for ``action``, used once (and removed when its count runs out)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(action):
                    if rule.times == 1:
                        self._rules.remove(rule)
                    elif rule.times is not None:
                        rule.times -= 1
                    return rule
        return None


class DroppedConnection(Exception):
    """Raised after a reply started, so that the server aborts the connection (``drop``)."""


class _QuietDrops(logging.Filter):
    # The server logs every exception leaving the app; a deliberate drop is not an error.
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


_FILTER = _QuietDrops()


def quiet_drops() -> None:
    """Keep deliberate drops out of uvicorn's error log (idempotent)."""
    logging.getLogger("uvicorn.error").addFilter(_FILTER)
