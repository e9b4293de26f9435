"""The async gateway's transports over real loopback sockets: every failure classified by what
may have reached the server, nothing resent, no redirect followed, replies capped and streamed.

Each test runs with the gateway's default client (httpx over aiohttp, ``smsgate._aiohttp``)
and with a plain ``httpx.AsyncClient`` the application passes, so the rules hold whichever is
the default. The loopback server and the form provider are the sync transport tests' own
(``tests/test_sync_transport.py``), the self-signed certificate the session's
(``tests/loopback_support.py``).
"""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._aiohttp import AiohttpClient, AiohttpTransport, _translated
from smsgate._drivers import translate_transport_error
from smsgate._provider import Capabilities, Flow
from smsgate.testing import frames_with_secrets
from tests.loopback_support import Servers, araised, serving
from tests.server_support import refused_url
from tests.test_sync_transport import PASSWORD, SMS, FormProvider, Server

SECRETS = [PASSWORD]


class StreamingServer(Server):
    """The loopback server, plus ``endless``: a 200 whose body never ends (it stops once the
    client hangs up, counting what it managed to send)."""

    sent = 0

    def _answer(self, conn: socket.socket) -> bool:
        if self.behaviour != "endless":
            return super()._answer(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        chunk = b"x" * 16384
        while not self.stop.is_set():
            conn.sendall(chunk)  # raises once the client has closed: the connection ends
            self.sent += len(chunk)
        return False


class DeafServer(Server):
    """Accepts connections and never reads from them: a large request stalls once the socket
    buffers are full."""

    def _requests(self, conn: socket.socket) -> None:
        self.stop.wait()


class UploadProvider(FormProvider):
    """A send whose body (32 MB, the credential in it) cannot fit in the socket buffers."""

    def send(self, sms: smsgate.Sms) -> Flow[smsgate.Receipt]:
        response = yield httpx.Request(
            "POST", self.base_url + "send", content=f"password={PASSWORD}&data=".encode() + b"x" * 32_000_000
        )
        with smsgate.parsing_reply(response):
            return smsgate.Receipt(provider=self.name, task_id="?", accepted=len(sms.to))


class GetProvider(smsgate.Provider):
    """A flow sending with GET, the credential in the query (as GET-style vendor APIs do)."""

    capabilities = Capabilities(send=True)

    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self.base_url = base_url
        self.timeout = 5.0
        self.max_reply_bytes = 16384

    def send(self, sms: smsgate.Sms) -> Flow[smsgate.Receipt]:
        response = yield httpx.Request("GET", self.base_url + "send", params={"password": PASSWORD})
        with smsgate.parsing_reply(response):
            _, task = response.content.split()
        return smsgate.Receipt(provider=self.name, task_id=task.decode(), accepted=len(sms.to))


@pytest.fixture
def serve() -> Iterator[Servers[StreamingServer]]:
    yield from serving(StreamingServer)


@pytest.fixture(params=["default", "httpx"])
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., smsgate.AsyncGateway]]:
    """Gateways with the default client, or with a plain ``httpx.AsyncClient`` passed in."""
    opened: list[smsgate.AsyncGateway] = []

    def make(providers: list[smsgate.Provider], **options: Any) -> smsgate.AsyncGateway:
        if request.param == "httpx":
            options["client"] = httpx.AsyncClient()
        options.setdefault("sleep", lambda _seconds: None)
        opened.append(smsgate.AsyncGateway(providers, **options))
        if request.param == "default":
            assert isinstance(opened[-1].client, AiohttpClient)
        return opened[-1]

    yield make
    for gw in opened:
        await gw.aclose()
        if not gw._owns_client:
            await gw.client.aclose()


async def test_the_default_client_goes_through_aiohttp_and_a_given_client_is_kept() -> None:
    async with smsgate.AsyncGateway(FormProvider("a", "http://127.0.0.1:9/")) as default:
        assert isinstance(default.client, AiohttpClient)
        assert isinstance(default.client._transport, AiohttpTransport)
        assert default.client.follow_redirects is False
    async with (
        httpx.AsyncClient() as mine,
        smsgate.AsyncGateway(FormProvider("a", "http://127.0.0.1:9/"), client=mine) as given,
    ):
        assert given.client is mine


async def test_with_a_proxy_in_the_environment_the_default_client_is_httpx_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx's transport honours HTTPS_PROXY and NO_PROXY; the aiohttp one would ignore them."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    async with smsgate.AsyncGateway(FormProvider("a", "http://127.0.0.1:9/")) as gateway:
        assert not isinstance(gateway.client, AiohttpClient)
        assert isinstance(gateway.client._transport, httpx.AsyncHTTPTransport)


async def test_without_aiohttp_the_default_client_is_httpx_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The aiohttp extra is optional: without it the gateway opens httpx's own client."""
    monkeypatch.setitem(sys.modules, "smsgate._aiohttp", None)  # import fails as if aiohttp were missing
    async with smsgate.AsyncGateway(FormProvider("a", "http://127.0.0.1:9/")) as gateway:
        assert type(gateway.client) is httpx.AsyncClient
        assert gateway.client.follow_redirects is False


async def test_sends_reuse_one_connection_and_carry_the_form(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server]
) -> None:
    server = serve()
    gw = gateway([FormProvider("a", server.url)])
    receipts = [await gw.send(SMS) for _ in range(3)]
    assert [r.task_id for r in receipts] == ["1", "2", "3"]
    assert server.connections == 1
    path, body = server.requests[0]
    assert path == "/send"
    assert body == f"to=13800138000&password={PASSWORD}".encode()


async def test_a_refused_connection_is_not_sent_and_fails_over(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server]
) -> None:
    server = serve()
    alone = gateway([FormProvider("dead", refused_url())], retry=smsgate.RetryPolicy(attempts=1))
    error = await araised(lambda: alone.send(SMS))
    assert isinstance(error, errors.NotSentError)
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert frames_with_secrets(error, SECRETS) == []
    receipt = await gateway([FormProvider("dead", refused_url()), FormProvider("live", server.url)]).send(SMS)
    assert receipt.provider == "live"
    assert len(server.requests) == 1


async def test_a_request_read_then_dropped_is_uncertain_and_never_resent(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server]
) -> None:
    """The server reads the whole request, then closes without a reply: the provider may have
    acted, so neither a retry nor the healthy second provider may send it again."""
    dropping, healthy = serve("close"), serve()
    gw = gateway(
        [FormProvider("a", dropping.url), FormProvider("b", healthy.url)],
        retry=smsgate.RetryPolicy(attempts=3),
    )
    error = await araised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)
    assert error.provider == "a"
    assert len(dropping.requests) == 1
    assert healthy.requests == []
    assert frames_with_secrets(error, SECRETS) == []


async def test_a_get_read_then_dropped_is_sent_once(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server]
) -> None:
    """aiohttp retries an idempotent method once on a dropped connection by itself; a GET-style
    send must not be repeated below the gateway either."""
    dropping = serve("close")
    gw = gateway([GetProvider("a", dropping.url)], retry=smsgate.RetryPolicy(attempts=3))
    error = await araised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert [path for path, _ in dropping.requests] == ["/send?password=" + PASSWORD]


async def test_a_read_timeout_is_uncertain_and_never_resent(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server]
) -> None:
    hanging, healthy = serve("hang"), serve()
    gw = gateway(
        [FormProvider("a", hanging.url, timeout=0.3), FormProvider("b", healthy.url)],
        retry=smsgate.RetryPolicy(attempts=3),
    )
    error = await araised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert len(hanging.requests) == 1
    assert healthy.requests == []
    assert frames_with_secrets(error, SECRETS) == []


async def test_a_request_the_server_stops_reading_times_out_as_uncertain(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server]
) -> None:
    """aiohttp has no write timeout: the wait for the reply is bounded by the request's
    timeouts together, and part of the request may have gone, so it is never resent."""
    deaf, healthy = DeafServer(), serve()
    try:
        gw = gateway(
            [UploadProvider("a", deaf.url, timeout=0.3), FormProvider("b", healthy.url)],
            retry=smsgate.RetryPolicy(attempts=3),
        )
        error = await araised(lambda: gw.send(SMS))
    finally:
        deaf.close()
    assert isinstance(error, errors.UncertainOutcomeError)
    assert isinstance(error.__cause__, httpx.WriteTimeout)
    assert deaf.connections == 1
    assert healthy.requests == []
    if isinstance(gw.client, AiohttpClient):  # httpcore's own write frames hold the body it was sending
        assert frames_with_secrets(error, SECRETS) == []


async def test_a_redirect_is_not_followed(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server]
) -> None:
    server = serve("redirect")
    with pytest.raises(errors.ProviderError) as caught:
        await gateway([FormProvider("a", server.url)]).send(SMS)
    assert caught.value.code == "HTTP 307"
    assert [path for path, _ in server.requests] == ["/send"]


@pytest.mark.parametrize("behaviour", ["huge", "huge-declared"])
async def test_an_oversize_reply_is_cut_and_the_next_send_is_clean(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., Server], behaviour: str
) -> None:
    huge = serve(behaviour)
    gw = gateway([FormProvider("a", huge.url, max_reply_bytes=1000)])
    with pytest.raises(errors.MalformedReplyError, match="max_reply_bytes"):
        await gw.send(SMS)
    huge.behaviour = "ok"
    assert (await gw.send(SMS)).task_id == "2"


async def test_an_endless_reply_is_read_only_up_to_the_cap(
    gateway: Callable[..., smsgate.AsyncGateway], serve: Callable[..., StreamingServer]
) -> None:
    """The body is streamed to the driver, which stops past the cap and hangs up: a transport
    that read the whole reply first would never return from an endless one."""
    endless = serve("endless")
    gw = gateway([FormProvider("a", endless.url, max_reply_bytes=100_000)])
    error = await araised(lambda: gw.send(SMS))
    assert isinstance(error, errors.MalformedReplyError)
    assert "max_reply_bytes" in str(error)


async def test_an_untrusted_certificate_is_refused_before_the_request(
    gateway: Callable[..., smsgate.AsyncGateway],
    serve: Callable[..., Server],
    self_signed: ssl.SSLContext,
) -> None:
    server = serve(tls=self_signed)
    gw = gateway([FormProvider("a", server.url)], retry=smsgate.RetryPolicy(attempts=1))
    error = await araised(lambda: gw.send(SMS))
    assert isinstance(error, errors.NotSentError)
    assert server.requests == []
    assert frames_with_secrets(error, SECRETS) == []


async def test_concurrent_sends_share_the_default_pool(serve: Callable[..., Server]) -> None:
    import asyncio

    server = serve()
    async with smsgate.AsyncGateway(FormProvider("a", server.url)) as gw:
        receipts = await asyncio.gather(*(gw.send(SMS) for _ in range(40)))
    assert sorted((r.task_id for r in receipts), key=int) == [str(n) for n in range(1, 41)]
    assert len(server.requests) == 40


def test_the_default_client_serves_a_new_event_loop_once_the_old_one_is_closed(
    serve: Callable[..., Server],
) -> None:
    """A gateway built once and used from two ``asyncio.run`` calls (one after the other)."""
    import asyncio

    server = serve()
    gw = smsgate.AsyncGateway(FormProvider("a", server.url))
    assert asyncio.run(gw.send(SMS)).task_id == "1"
    assert asyncio.run(gw.send(SMS)).task_id == "2"
    asyncio.run(gw.aclose())


async def test_the_default_client_keeps_no_cookie(serve: Callable[..., Server]) -> None:
    server = serve()
    async with smsgate.AsyncGateway(FormProvider("a", server.url)) as gw:
        response = await gw.client.get(server.url + "send")  # the plain httpx path
        assert response.status_code == 200
        gw.client.cookies.extract_cookies(
            httpx.Response(200, headers={"Set-Cookie": "a=b"}, request=httpx.Request("GET", server.url))
        )
        assert not gw.client.cookies


def test_only_a_failure_before_the_request_left_is_not_sent() -> None:
    """The mapping itself: connect-stage aiohttp failures are connect errors, every failure on
    an open connection a read/protocol error (smsgate: uncertain)."""
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None)
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    cases: list[tuple[BaseException, type[httpx.TransportError]]] = [
        (refused, httpx.ConnectError),
        (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
        (aiohttp.ClientConnectionResetError("closing"), httpx.WriteError),
        (aiohttp.ClientPayloadError("truncated"), httpx.RemoteProtocolError),
        (ConnectionResetError(), httpx.ReadError),
    ]
    for exc, expected in cases:
        assert type(_translated(exc)) is expected, exc
    for exc, expected in cases[2:]:
        error = translate_transport_error(_translated(exc))
        assert isinstance(error, errors.UncertainOutcomeError), (exc, expected)
