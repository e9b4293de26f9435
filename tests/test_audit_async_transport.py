"""Audit of the async gateway's own client (``smsgate._aiohttp``) with the same hostile servers
as ``test_audit_httpclient``: a request read then answered badly is uncertain (or, where the
reply is whole, read correctly) and never resent nor failed over; a refused connection fails
over; bytes past a reply and replies after a timeout never become another send's reply;
concurrent tasks each get their own reply; redirects are never followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.testing import frames_with_secrets
from tests.loopback_support import Servers, araised, serving
from tests.test_audit_httpclient import (
    CUT_REPLIES,
    PASSWORD,
    EchoProvider,
    RawServer,
    echo_recipient,
    ok,
    reply_then_close,
    sms,
)


@pytest.fixture
def servers() -> Iterator[Servers[RawServer]]:
    yield from serving(RawServer)


async def outcome_of(call: Any) -> Any:
    """The result of ``call``, or the exception it raised (its traceback starting here)."""
    try:
        return await call
    except Exception as exc:
        return exc


def gateway(providers: list[smsgate.Provider], **options: Any) -> smsgate.AsyncGateway:
    async def no_sleep(_seconds: float) -> None:
        await asyncio.sleep(0)

    options.setdefault("sleep", no_sleep)
    return smsgate.AsyncGateway(providers, **options)


@pytest.mark.parametrize("cut", list(CUT_REPLIES))
async def test_a_request_answered_badly_is_never_resent_nor_failed_over(
    servers: Callable[..., RawServer], cut: str
) -> None:
    broken, healthy = servers(reply_then_close(CUT_REPLIES[cut])), servers()
    async with gateway(
        [EchoProvider("a", broken.url), EchoProvider("b", healthy.url)], retry=smsgate.RetryPolicy(attempts=3)
    ) as gw:
        outcome = await outcome_of(gw.send(sms()))
        if isinstance(outcome, smsgate.Receipt):  # a whole reply (many headers, say) read as it is
            assert (outcome.provider, outcome.task_id) == ("a", "1")
        else:
            assert isinstance(outcome, errors.UncertainOutcomeError), repr(outcome)
            assert outcome.provider == "a"
            assert frames_with_secrets(outcome, [PASSWORD]) == []
        assert len(broken.requests) == 1
        assert healthy.requests == []
        broken.answer = ok
        assert (await gw.send(sms())).task_id == "2"


async def test_a_refused_connection_fails_over(servers: Callable[..., RawServer]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    healthy = servers()
    async with gateway([EchoProvider("dead", dead), EchoProvider("live", healthy.url)]) as gw:
        receipt = await gw.send(sms())
    assert (receipt.provider, receipt.task_id) == ("live", "1")


async def test_bytes_past_a_reply_and_late_replies_are_never_another_send_s_reply(
    servers: Callable[..., RawServer],
) -> None:
    stray = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nOK 999"
    timed_out = threading.Event()

    def smuggle(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nOK %d" % (len(str(number)) + 3, number)
        conn.sendall(reply + stray if number == 1 else reply)
        return True

    def late(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        if number == 1:
            timed_out.wait(10)
            with contextlib.suppress(OSError):
                conn.sendall(stray)
            return True
        return ok(server, conn, number, headers, body)

    smuggling, slow = servers(smuggle), servers(late)
    async with gateway([EchoProvider("a", smuggling.url)]) as gw:
        assert [(await gw.send(sms())).task_id for _ in range(4)] == ["1", "2", "3", "4"]
    async with gateway([EchoProvider("a", slow.url, timeout=0.3)]) as gw:
        error = await araised(lambda: gw.send(sms()))
        timed_out.set()
        assert isinstance(error, errors.UncertainOutcomeError)
        assert [(await gw.send(sms())).task_id for _ in range(3)] == ["2", "3", "4"]


async def test_concurrent_tasks_each_get_their_own_reply(servers: Callable[..., RawServer]) -> None:
    server = servers(echo_recipient)
    async with gateway([EchoProvider("a", server.url)]) as gw:

        async def work(mobile: str) -> list[str]:
            return [(await gw.send(sms(mobile))).task_id for _ in range(15)]

        mobiles = [f"1380013{n:04d}" for n in range(8)]
        results = await asyncio.gather(*(work(m) for m in mobiles))
    assert results == [[m] * 15 for m in mobiles]
    assert server.garbage == []


async def test_a_redirect_elsewhere_is_never_followed(servers: Callable[..., RawServer]) -> None:
    thief = servers()
    location = (thief.url + "steal?key=loc-secret-123").encode()

    def redirect(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        conn.sendall(b"HTTP/1.1 308 Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % location)
        return True

    origin = servers(redirect)
    async with gateway([EchoProvider("a", origin.url)], retry=smsgate.RetryPolicy(attempts=3)) as gw:
        error = await araised(lambda: gw.send(sms()))
    assert isinstance(error, errors.ProviderError)
    assert error.code == "HTTP 308"
    assert thief.connections == 0
    assert "loc-secret-123" not in str(error) + repr(error)
