"""uvicorn's h11 protocol with the connection limit and the request-head timeout of
:class:`~smsgate.receiver.ServerLimits`. Imported only when a limited server starts (uvicorn
is the ``receiver`` extra; h11 is reached through uvicorn, which depends on it)."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from smsgate.receiver._limits import ServerLimits

__all__ = ["limited_protocol"]


def _idle_state() -> object:
    """h11's IDLE state (the peer has not sent a request head), through uvicorn's h11 import."""
    import uvicorn.protocols.http.h11_impl as impl  # noqa: PLC0415

    return getattr(impl, "h11").IDLE  # noqa: B009 - not re-exported by uvicorn


_IDLE = _idle_state()


class _LimitedH11Protocol(H11Protocol):
    """H11Protocol that closes connections slow to send a request head, and keeps at most
    ``max_connections`` open by closing the oldest one still waiting for a request head."""

    limits: ServerLimits = ServerLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened = time.monotonic()
        self._head_timer: asyncio.TimerHandle | None = None

    def _waiting_for_head(self) -> bool:
        return bool(self.conn.their_state is _IDLE) and not self.transport.is_closing()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_expired)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._waiting_for_head():
            self.transport.close()

    def _make_room(self) -> None:
        """Over the limit: close the oldest connection waiting for a head (possibly this one)."""
        idle = [c for c in self.connections if isinstance(c, _LimitedH11Protocol) and c._waiting_for_head()]
        victim = min(idle, key=lambda c: c._opened, default=self)
        victim.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection; make room when over the limit; start the head timer."""
        super().connection_made(transport)
        self._arm_head_timer()
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the head timer."""
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """The next request's head gets its own ``head_timeout``."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()


@functools.cache
def limited_protocol(limits: ServerLimits) -> type[asyncio.Protocol]:
    """The protocol class uvicorn should build connections with, for ``limits``."""
    return type("LimitedH11Protocol", (_LimitedH11Protocol,), {"limits": limits})
