"""Root test configuration: a network guard for the whole suite.

Tests may only talk to loopback addresses, and must never reach a real SMS gateway. This
guard makes that a checked rule instead of a convention: any name lookup or connection to a
non-loopback address from a test process is refused (the code under test sees an ordinary
connection error) *and* fails the test that tried it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_attempts: list[str] = []


def _is_loopback(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard, used for binding
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost") or name == "":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        _attempts.append(f"name lookup of {host!r}")
        raise socket.gaierror(socket.EAI_NONAME, "test network guard: only loopback hosts")
    return _real_getaddrinfo(host, *args, **kwargs)


def _refuse(sock: socket.socket, address: Any) -> bool:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        _attempts.append(f"connection to {address[0]!r}")
        return True
    return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if _refuse(self, address):
        raise ConnectionRefusedError("test network guard: only loopback addresses")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if _refuse(self, address):
        raise ConnectionRefusedError("test network guard: only loopback addresses")
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.getaddrinfo = _real_getaddrinfo
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _only_loopback() -> Iterator[None]:
    """Fail any test that tried to reach a non-loopback address."""
    _attempts.clear()
    yield
    if _attempts:
        tried = ", ".join(dict.fromkeys(_attempts))
        _attempts.clear()
        pytest.fail(f"the test tried to leave loopback: {tried}", pytrace=False)
