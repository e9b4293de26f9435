"""A request URL whose port is outside 1-65535 is refused by smsgate's own clients before any
connection, as not sent. The sync client used to connect to the port modulo 65536 (the
resolver wraps it), so a send meant for port 65536 + P reached whatever listened on P; the
async client raised a ValueError outside its transport error handling (uncertain)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._aiohttp import AiohttpClient
from smsgate._httpclient import sync_client
from tests.loopback_support import Servers, serving
from tests.test_sync_transport import SMS, FormProvider, Server


@pytest.fixture
def serve() -> Iterator[Servers[Server]]:
    yield from serving(Server)


def _wrapped(server: Server, port: int) -> str:
    """The server's URL with ``port`` in place of its own."""
    own = server.url.rsplit(":", 1)[1].rstrip("/")
    return server.url.replace(f":{own}/", f":{port}/")


def _bad_ports(server: Server) -> list[int]:
    own = int(server.url.rsplit(":", 1)[1].rstrip("/"))
    return [own + 65536, own + 2 * 65536, 0, -1]


def test_the_sync_client_refuses_a_port_out_of_range_as_not_sent(serve: Servers[Server]) -> None:
    server = serve()
    for port in _bad_ports(server):
        with smsgate.Gateway(FormProvider("a", _wrapped(server, port)), client=sync_client()) as gateway:
            with pytest.raises(errors.NotSentError) as raised:
                gateway.send(SMS)
            gateway.client.close()
        assert not isinstance(raised.value, errors.UncertainOutcomeError)
        assert "InvalidURL" in str(raised.value)
    assert server.requests == []
    assert server.connections == 0
    # The same client still sends to the server's real port.
    with smsgate.Gateway(FormProvider("a", server.url)) as gateway:
        assert gateway.send(SMS).accepted == 1


def test_the_async_client_refuses_a_port_out_of_range_as_not_sent(serve: Servers[Server]) -> None:
    server = serve()

    async def send(port: int) -> BaseException:
        client = AiohttpClient()
        async with smsgate.AsyncGateway(FormProvider("a", _wrapped(server, port)), client=client) as gateway:
            try:
                await gateway.send(SMS)
            except errors.SmsGateError as exc:
                return exc
            finally:
                await client.aclose()
        pytest.fail("sent")

    for port in _bad_ports(server):
        error = asyncio.run(send(port))
        assert isinstance(error, errors.NotSentError), repr(error)
    assert server.requests == []
    assert server.connections == 0
