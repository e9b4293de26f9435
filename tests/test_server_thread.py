"""``smsgate.receiver.ServerThread``: any ASGI app under uvicorn in a thread, on loopback."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from smsgate.receiver import ServerThread

pytestmark = pytest.mark.e2e


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app without lifespan support: answers every request with ``hello``."""
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def failing_startup(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app whose lifespan startup fails."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})


def test_port_zero_binds_a_free_port_readable_while_running() -> None:
    server = ServerThread(hello)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port
    with server:
        assert server.port > 0
        assert server.url == server.base_url == f"http://127.0.0.1:{server.port}/"
        assert httpx.get(server.url, timeout=5).text == "hello"
        url, alive_while_serving = server.url, server.alive
    assert (alive_while_serving, server.alive) == (True, False)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=5)


def test_a_stopped_server_starts_again_and_stop_is_idempotent() -> None:
    server = ServerThread(hello, name="smsgate-test-restart")
    server.start()
    with pytest.raises(RuntimeError, match="already running"):
        server.start()
    server.stop()
    server.stop()
    with server:
        assert httpx.get(server.url, timeout=5).text == "hello"
    assert not any(t.name == "smsgate-test-restart" for t in threading.enumerate())


def test_a_taken_port_is_a_runtime_error_from_start() -> None:
    with ServerThread(hello) as running:
        taken = ServerThread(hello, port=running.port)
        with pytest.raises(RuntimeError, match="could not start"):
            taken.start()
        assert not taken.alive
        assert httpx.get(running.url, timeout=5).text == "hello"


def test_a_failed_lifespan_startup_is_a_runtime_error_from_start() -> None:
    server = ServerThread(failing_startup, lifespan="on")
    with pytest.raises(RuntimeError, match="could not start"):
        server.start()
    assert not server.alive


def test_ipv6_loopback_url_has_brackets() -> None:
    try:
        server = ServerThread(hello, host="::1").start()
    except RuntimeError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert server.url == f"http://[::1]:{server.port}/"
        assert httpx.get(server.url, timeout=5).text == "hello"
    finally:
        server.stop()
