"""The suite's network guard (root conftest.py): tests can only reach loopback."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest


@pytest.fixture
def guard(request: pytest.FixtureRequest) -> Any:
    """The root conftest module; its record of attempts is cleared after the test, so the
    attempts this test makes on purpose do not fail it."""
    path = Path(request.config.rootpath) / "conftest.py"
    module = request.config.pluginmanager.get_plugin(str(path))
    assert module is not None, "the root conftest.py is not loaded"
    yield module
    module._attempts.clear()


def test_lookups_of_public_names_are_refused_and_recorded(guard: Any) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("dx.ipyy.net", 443)
    assert guard._attempts == ["name lookup of 'dx.ipyy.net'"]


def test_connections_to_public_addresses_are_refused_before_any_packet(guard: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("203.0.113.7", 443))  # TEST-NET-3: documentation only
    assert guard._attempts == ["connection to '203.0.113.7'"]


def test_an_httpx_request_to_the_real_gateway_never_leaves_the_machine(guard: Any) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.post("https://dx.ipyy.net/sms.aspx", timeout=2.0)
    assert guard._attempts


def test_loopback_stays_allowed(guard: Any) -> None:
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert guard._attempts == []
