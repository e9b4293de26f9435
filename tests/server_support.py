"""What the tests' own servers share: a free loopback port, a URL nothing listens on, and the
one way a session-wide server fixture starts and stops its server.

Imported by the other support modules (``from tests.server_support import …``; the
repository root is on ``sys.path`` when pytest runs from it, as the README's command does).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Protocol, TypeVar


class Startable(Protocol):
    """A server a session fixture runs: :meth:`start` it, :meth:`stop` it whatever happens."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def refused_url() -> str:
    """An ``http://`` URL on 127.0.0.1 nothing listens on: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port()}/"


def running(server: S) -> Iterator[S]:
    """Start ``server``, yield it, and stop it at the end (also when starting failed half-way):
    the body of a session fixture, ``yield from running(Server())``."""
    try:
        server.start()
        yield server
    finally:
        server.stop()
