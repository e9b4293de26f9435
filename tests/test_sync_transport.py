"""The sync gateway's transports over real loopback sockets: every failure classified by what
may have reached the server, nothing resent, no redirect followed, replies capped.

Each test runs with the gateway's default client (httpx over http.client, ``smsgate._httpclient``)
and with a plain ``httpx.Client`` the application passes, so both keep the same rules; the
tests of the default client's keep-alive pool (a connection the server closed while it was
idle) run with the default client only.
"""

from __future__ import annotations

import gzip
import http.client
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._httpclient import HTTPClientTransport, _Client, _Connection, _failure
from smsgate._provider import Capabilities, Flow
from smsgate.testing import frames_with_secrets
from tests.loopback_support import Certificate, LoopbackServer, Servers, gateways, raised, serving
from tests.server_support import refused_url

PASSWORD = "s3cret-Pa55"  # a test credential the form carries
SMS = smsgate.Sms(to="13800138000", text="hello【shop】")


class FormProvider(smsgate.Provider):
    """A flow posting a form with a credential, as the ipyy form transport does."""

    capabilities = Capabilities(send=True)

    def __init__(
        self, name: str, base_url: str, *, timeout: float = 5.0, max_reply_bytes: int = 16384
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes

    def send(self, sms: smsgate.Sms) -> Flow[smsgate.Receipt]:
        response = yield httpx.Request(
            "POST", self.base_url + "send", data={"to": ",".join(sms.to), "password": PASSWORD}
        )
        with smsgate.parsing_reply(response):
            status, task = response.content.split()
            if response.status_code != 200 or status != b"OK":
                raise ValueError("not accepted")
        return smsgate.Receipt(provider=self.name, task_id=task.decode(), accepted=len(sms.to))


class Server(LoopbackServer):
    """A loopback HTTP/1.1 server (tests/loopback_support.py) whose behaviour per request the
    test sets:
    ``ok`` (answers ``OK <n>``), ``close`` (reads the request, closes without a reply),
    ``hang`` (reads the request, never answers), ``redirect`` (307 to another path),
    ``huge`` (a body far over any cap, with or without a declared length), ``short`` (a body
    cut short of its declared length), ``idle-close`` / ``idle-reset`` (answers, then closes
    the kept-alive connection with a FIN / a RST), ``chunked``, ``close-header``
    (``Connection: close``), ``latin1`` (a header value outside ASCII), ``raw`` (the bytes
    ``raw(n)`` gives for the n-th request, then the connection is kept open or closed as it
    says)."""

    def __init__(
        self,
        behaviour: str = "ok",
        *,
        tls: ssl.SSLContext | None = None,
        raw: Callable[[int], tuple[bytes, bool]] | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.raw = raw
        self.requests: list[tuple[str, bytes]] = []
        super().__init__(tls=tls)

    def _request(self, conn: socket.socket, lines: list[str], headers: dict[str, str], body: bytes) -> bool:
        self.requests.append((lines[0].split()[1], body))
        return self._answer(conn)

    def _answer(self, conn: socket.socket) -> bool:
        """Answer one request; False once the connection is done with."""
        if self.behaviour == "close":
            return False
        if self.raw is not None:
            reply, keep = self.raw(len(self.requests))
            conn.sendall(reply)
            return keep
        if self.behaviour == "hang":
            self.stop.wait()
            return False
        if self.behaviour == "short":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nOK 1")
            return False
        if self.behaviour.startswith("idle-"):
            # Answered with keep-alive, then closed as if it had sat idle too long.
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nOK %d"
                % (len(str(len(self.requests))) + 3, len(self.requests))
            )
            if self.behaviour == "idle-reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if self.behaviour == "chunked":
            body = f"OK {len(self.requests)}".encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                % (len(body), body)
            )
            return True
        if self.behaviour in ("close-header", "latin1"):
            body = f"OK {len(self.requests)}".encode()
            extra = b"Connection: close\r\n" if self.behaviour == "close-header" else b"X-Note: caf\xe9\r\n"
            conn.sendall(b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (extra, len(body), body))
            return self.behaviour == "latin1"
        if self.behaviour == "redirect":
            conn.sendall(
                b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
            )
            return True
        if self.behaviour.startswith("huge"):
            declared = b"Content-Length: 4000000\r\n" if self.behaviour == "huge-declared" else b""
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + declared + b"Connection: close\r\n\r\n")
            for _ in range(1000):
                conn.sendall(b"x" * 4000)
            return False
        if self.behaviour in ("gzip", "bomb"):
            plain = f"OK {len(self.requests)}".encode() if self.behaviour == "gzip" else b"0" * 5_000_000
            packed = gzip.compress(plain)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
                % (len(packed), packed)
            )
            return True
        body = f"OK {len(self.requests)}".encode()
        cookie = b"Set-Cookie: session=abc; Path=/\r\n" if self.behaviour == "cookie" else b""
        conn.sendall(b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (cookie, len(body), body))
        return True


@pytest.fixture
def serve() -> Iterator[Servers[Server]]:
    yield from serving(Server)


@pytest.fixture(params=["default", "httpx"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Callable[..., smsgate.Gateway]]:
    """Gateways with the default client, or with a plain ``httpx.Client`` passed in."""
    yield from gateways(httpx.Client if request.param == "httpx" else None)


def test_the_default_client_goes_through_http_client_and_a_given_client_is_kept() -> None:
    with smsgate.Gateway(FormProvider("a", "http://127.0.0.1:9/")) as default:
        assert isinstance(default.client._transport, HTTPClientTransport)
        assert default.client.follow_redirects is False
    with (
        httpx.Client() as mine,
        smsgate.Gateway(FormProvider("a", "http://127.0.0.1:9/"), client=mine) as given,
    ):
        assert given.client is mine


def test_with_a_proxy_in_the_environment_the_default_client_is_httpx_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx's transport honours HTTPS_PROXY and NO_PROXY; the http.client one would ignore them."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with smsgate.Gateway(FormProvider("a", "http://127.0.0.1:9/")) as gateway:
        assert isinstance(gateway.client._transport, httpx.HTTPTransport)


def test_sends_reuse_one_connection_and_carry_the_form(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    server = serve()
    gw = gateway([FormProvider("a", server.url)])
    receipts = [gw.send(SMS) for _ in range(3)]
    assert [r.task_id for r in receipts] == ["1", "2", "3"]
    assert server.connections == 1
    path, body = server.requests[0]
    assert path == "/send"
    assert body == f"to=13800138000&password={PASSWORD}".encode()


def test_hooks_on_the_default_client_still_see_each_request(serve: Callable[..., Server]) -> None:
    """The own client sends the drivers' requests straight to its transport only while httpx would
    do nothing else: an event hook an application adds is called."""
    server = serve()
    seen: list[str] = []
    with smsgate.Gateway(FormProvider("a", server.url)) as gw:
        assert gw.send(SMS).task_id == "1"
        gw.client.event_hooks["request"].append(lambda request: seen.append(request.url.path))
        assert gw.send(SMS).task_id == "2"
    assert seen == ["/send"]


def test_the_default_client_keeps_no_cookies(serve: Callable[..., Server]) -> None:
    """The flows' requests never carry stored cookies, so the gateway's own client stores none."""
    server = serve("cookie")
    with smsgate.Gateway(FormProvider("a", server.url)) as gw:
        assert gw.send(SMS).task_id == "1"
        assert gw.send(SMS).task_id == "2"
        assert list(gw.client.cookies.jar) == []


def test_a_refused_connection_is_not_sent_and_fails_over(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    server = serve()
    alone = gateway([FormProvider("dead", refused_url())], retry=smsgate.RetryPolicy(attempts=1))
    error = raised(lambda: alone.send(SMS))
    assert isinstance(error, errors.NotSentError)
    assert frames_with_secrets(error, [PASSWORD]) == []
    receipt = gateway([FormProvider("dead", refused_url()), FormProvider("live", server.url)]).send(SMS)
    assert receipt.provider == "live"
    assert len(server.requests) == 1


def test_a_request_read_then_dropped_is_uncertain_and_never_resent(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    """The server reads the whole request, then closes without a reply: the provider may have
    acted, so neither a retry nor the healthy second provider may send it again."""
    dropping, healthy = serve("close"), serve()
    gw = gateway(
        [FormProvider("a", dropping.url), FormProvider("b", healthy.url)],
        retry=smsgate.RetryPolicy(attempts=3),
    )
    error = raised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert error.provider == "a"
    assert len(dropping.requests) == 1
    assert healthy.requests == []
    assert frames_with_secrets(error, [PASSWORD]) == []


def test_a_read_timeout_is_uncertain_and_never_resent(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    hanging, healthy = serve("hang"), serve()
    gw = gateway(
        [FormProvider("a", hanging.url, timeout=0.3), FormProvider("b", healthy.url)],
        retry=smsgate.RetryPolicy(attempts=3),
    )
    error = raised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert len(hanging.requests) == 1
    assert healthy.requests == []
    assert frames_with_secrets(error, [PASSWORD]) == []


def test_a_redirect_is_not_followed(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    server = serve("redirect")
    with pytest.raises(errors.ProviderError) as caught:
        gateway([FormProvider("a", server.url)]).send(SMS)
    assert caught.value.code == "HTTP 307"
    assert [path for path, _ in server.requests] == ["/send"]


@pytest.mark.parametrize("behaviour", ["huge", "huge-declared"])
def test_an_oversize_reply_is_cut_and_the_next_send_is_clean(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server], behaviour: str
) -> None:
    huge = serve(behaviour)
    gw = gateway([FormProvider("a", huge.url, max_reply_bytes=1000)])
    with pytest.raises(errors.MalformedReplyError, match="max_reply_bytes"):
        gw.send(SMS)
    huge.behaviour = "ok"
    assert gw.send(SMS).task_id == "2"


def test_a_compressed_reply_is_decoded_and_capped_by_its_decoded_size(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    server = serve("gzip")
    gw = gateway([FormProvider("a", server.url, max_reply_bytes=1000)])
    assert gw.send(SMS).task_id == "1"
    server.behaviour = "bomb"  # ~5 kB on the wire, 5 MB decoded
    with pytest.raises(errors.MalformedReplyError, match="max_reply_bytes"):
        gw.send(SMS)


def test_threads_share_the_default_pool(serve: Callable[..., Server]) -> None:
    server = serve()
    with smsgate.Gateway(FormProvider("a", server.url)) as gw:
        tasks: list[str] = []

        def send() -> None:
            for _ in range(10):
                tasks.append(gw.send(SMS).task_id)

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(tasks, key=int) == [str(n) for n in range(1, 41)]
    assert len(server.requests) == 40


def test_only_a_failure_before_the_first_byte_is_not_sent() -> None:
    """The mapping itself: the class of a failure never decides alone."""
    request = httpx.Request("POST", "http://127.0.0.1:9/send")
    refused = ConnectionRefusedError(111, "refused")
    assert isinstance(_failure(refused, False, request), httpx.ConnectError)
    assert isinstance(_failure(TimeoutError(), False, request), httpx.ConnectTimeout)
    assert isinstance(_failure(ssl.SSLCertVerificationError(), False, request), httpx.ConnectError)
    assert isinstance(_failure(refused, True, request), httpx.RemoteProtocolError)
    dropped = http.client.RemoteDisconnected("closed")  # a ConnectionResetError too
    assert isinstance(_failure(dropped, True, request), httpx.RemoteProtocolError)
    assert isinstance(_failure(http.client.IncompleteRead(b""), True, request), httpx.RemoteProtocolError)
    assert isinstance(_failure(TimeoutError(), True, request), httpx.ReadTimeout)


def test_an_untrusted_certificate_is_refused_before_the_request(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server], self_signed: ssl.SSLContext
) -> None:
    server = serve(tls=self_signed)
    with pytest.raises(errors.NotSentError):
        gateway([FormProvider("a", server.url)], retry=smsgate.RetryPolicy(attempts=1)).send(SMS)
    assert server.requests == []


def test_over_tls_sends_share_one_verified_connection_and_the_host_name_is_checked(
    serve: Callable[..., Server], self_signed: ssl.SSLContext, certificate: Certificate
) -> None:
    """With a context that trusts the server's certificate (for 127.0.0.1), sends go over one
    kept-alive TLS connection; the same certificate reached as ``localhost`` is refused."""
    server = serve(tls=self_signed)
    trusting = ssl.create_default_context(cafile=str(certificate.cert))
    with (
        _Client(HTTPClientTransport(ssl_context=trusting)) as client,
        smsgate.Gateway(FormProvider("a", server.url), client=client) as gw,
    ):
        assert [gw.send(SMS).task_id for _ in range(3)] == ["1", "2", "3"]
    assert server.connections == 1
    wrong_name = server.url.replace("127.0.0.1", "localhost")
    with (
        _Client(HTTPClientTransport(ssl_context=trusting)) as client,
        smsgate.Gateway(
            FormProvider("a", wrong_name), client=client, retry=smsgate.RetryPolicy(attempts=1)
        ) as gw,
        pytest.raises(errors.NotSentError) as refused,
    ):
        gw.send(SMS)
    assert "SSLCertVerificationError" in str(refused.value.__cause__)
    assert len(server.requests) == 3


class Recorder:
    """A loopback server that keeps the raw bytes of one request (read until ``end``) and
    answers ``OK 1``."""

    def __init__(self, end: bytes) -> None:
        self.raw = b""
        self._end = end
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/"

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            while self._end not in self.raw:
                data = conn.recv(65536)
                if not data:
                    return
                self.raw += data
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nOK 1")

    def close(self) -> None:
        self._thread.join(timeout=5)
        self._listener.close()


def test_what_goes_on_the_wire() -> None:
    """The request's own headers in its order, repeated names kept, nothing added (no
    ``User-Agent`` or ``Accept-Encoding: identity`` it did not carry), and the form after them;
    a streamed body goes out chunked."""
    form = Recorder(b"password=" + PASSWORD.encode())
    with HTTPClientTransport() as transport:
        request = httpx.Request(
            "POST", form.url + "send", headers=[("X-A", "1"), ("x-a", "2")], data={"password": PASSWORD}
        )
        response = transport.handle_request(request)
        assert response.read() == b"OK 1"
    form.close()
    length = len(f"password={PASSWORD}")
    assert (
        form.raw
        == (
            f"POST /send HTTP/1.1\r\nHost: 127.0.0.1:{form.url.split(':')[2].rstrip('/')}\r\n"
            f"X-A: 1\r\nx-a: 2\r\nContent-Length: {length}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n\r\npassword={PASSWORD}"
        ).encode()
    )
    streamed = Recorder(b"0\r\n\r\n")
    with HTTPClientTransport() as transport:
        request = httpx.Request("POST", streamed.url, content=iter([b"a", b"b"]))
        response = transport.handle_request(request)
        assert response.read() == b"OK 1"
    streamed.close()
    assert b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n" in streamed.raw


def idle_connection(gw: smsgate.Gateway) -> _Connection:
    """The one idle connection in the default client's pool."""
    (pool,) = gw.client._transport._pools.values()  # type: ignore[attr-defined]
    (conn,) = pool._idle
    conn_: _Connection = conn
    return conn_


def closed_by_peer(conn: _Connection) -> None:
    """Wait until the peer's close of ``conn`` (FIN or RST) has reached its socket."""
    assert select.select([conn.sock], [], [], 5)[0], "the server's close did not arrive"


@pytest.mark.parametrize("behaviour", ["idle-close", "idle-reset"])
def test_a_connection_the_server_closed_while_idle_is_replaced_before_the_request(
    serve: Callable[..., Server], behaviour: str
) -> None:
    """Servers close keep-alive connections that sit idle (a FIN, or a RST). Found dead before
    a byte of the next request is written, the connection is dropped and the request goes on
    a new one: sent once, neither failed as not-sent nor doubled."""
    server = serve(behaviour)
    with smsgate.Gateway(FormProvider("a", server.url), sleep=lambda _s: None) as gw:
        for task in ("1", "2", "3"):
            assert gw.send(SMS).task_id == task
            closed_by_peer(idle_connection(gw))
    assert server.connections == 3
    assert len(server.requests) == 3


@pytest.mark.parametrize("behaviour", ["idle-close", "idle-reset"])
def test_a_connection_that_dies_after_the_check_makes_the_send_uncertain(
    serve: Callable[..., Server], behaviour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server may close an idle connection just after the check: once bytes were written
    to it the send is uncertain (the server may have read them), never retried elsewhere."""
    server, healthy = serve(behaviour), serve()
    gw = smsgate.Gateway(
        [FormProvider("a", server.url), FormProvider("b", healthy.url)],
        retry=smsgate.RetryPolicy(attempts=3),
        sleep=lambda _s: None,
    )
    with gw:
        assert gw.send(SMS).task_id == "1"
        closed_by_peer(idle_connection(gw))
        monkeypatch.setattr(_Connection, "reusable", lambda self: True)  # the check raced
        error = raised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert error.provider == "a"
    assert len(server.requests) == 1
    assert healthy.requests == []
    assert frames_with_secrets(error, [PASSWORD]) == []


def test_a_reply_cut_short_of_its_length_is_uncertain(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    server, healthy = serve("short"), serve()
    gw = gateway([FormProvider("a", server.url), FormProvider("b", healthy.url)])
    error = raised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert len(server.requests) == 1
    assert healthy.requests == []


def test_a_reply_header_outside_ascii_is_read(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server]
) -> None:
    """A header value in Latin-1 (allowed by HTTP, seen from old gateways) is kept as its bytes;
    it used to escape the transport as a UnicodeEncodeError."""
    server = serve("latin1")
    assert gateway([FormProvider("a", server.url)]).send(SMS).task_id == "1"


@pytest.mark.parametrize("behaviour", ["chunked", "close-header"])
def test_chunked_and_closing_replies(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server], behaviour: str
) -> None:
    """A chunked reply leaves the connection open for the next send; ``Connection: close``
    does not, and the next send opens another."""
    server = serve(behaviour)
    gw = gateway([FormProvider("a", server.url)])
    assert [gw.send(SMS).task_id for _ in range(3)] == ["1", "2", "3"]
    assert server.connections == (1 if behaviour == "chunked" else 3)


def test_a_closed_transport_closes_the_connection_in_use_when_its_reply_is_done(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    transport = HTTPClientTransport()
    response = transport.handle_request(httpx.Request("POST", server.url, content=b"x"))
    conn = response.stream._conn  # type: ignore[union-attr]
    transport.close()
    assert response.read() == b"OK 1"
    response.close()
    assert conn.sock is None


def test_a_request_that_cannot_be_written_closes_its_connection(serve: Callable[..., Server]) -> None:
    """An error that is no transport failure (here a request body already consumed) leaves
    the transport as it is, nothing written, and the connection it had taken is closed."""
    server = serve()
    with HTTPClientTransport() as transport:
        transport.handle_request(httpx.Request("POST", server.url, content=b"x")).read()
        (pool,) = transport._pools.values()
        (conn,) = pool._idle
        consumed = httpx.Request("POST", server.url, content=(part for part in [b"a"]))
        list(consumed.stream)  # type: ignore[arg-type]
        with pytest.raises(httpx.StreamConsumed):
            transport.handle_request(consumed)
        assert conn.sock is None
        assert not pool._idle
    assert len(server.requests) == 1


def test_an_international_host_name_is_connected_to_in_its_idna_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name resolved (and checked against a certificate) is the one in the Host header."""
    resolved: list[object] = []

    def refuse(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        resolved.append(address)
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with HTTPClientTransport() as transport, pytest.raises(httpx.ConnectError):
        transport.handle_request(httpx.Request("GET", "http://中国.example:8080/"))
    assert resolved == [("xn--fiqs8s.example", 8080)]


# --- the reply's head and framing, as llhttp reads them ------------------------------------------


def _reply(n: int, head: bytes = b"HTTP/1.1 200 OK\r\n", eol: bytes = b"\r\n") -> bytes:
    body = b"OK %d" % n
    return head + b"Content-Length: %d%s%s%s" % (len(body), eol, eol, body)


@pytest.mark.parametrize(
    ("raw", "connections"),
    [
        # An interim reply before the real one is skipped; the connection stays in use.
        (lambda n: (b"HTTP/1.1 100 Continue\r\n\r\n" + _reply(n), True), 1),
        # Lone LF line ends, as http.client read them.
        (lambda n: (_reply(n, b"HTTP/1.1 200 OK\n", b"\n"), True), 1),
        # A body with no length ends with the connection, which is then not reused.
        (lambda n: (b"HTTP/1.1 200 OK\r\n\r\nOK %d" % n, False), 3),
        # HTTP/1.0 without keep-alive: the connection is not reused, even if the server keeps it.
        (lambda n: (_reply(n, b"HTTP/1.0 200 OK\r\n"), True), 3),
        # A chunked body in several chunks.
        (
            lambda n: (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n%s\r\n0\r\n\r\n"
                % (b"%x\r\n %d" % (len(str(n)) + 1, n)),
                True,
            ),
            1,
        ),
    ],
    ids=["interim-100", "lone-lf", "body-to-eof", "http-1.0", "chunked-pieces"],
)
def test_replies_are_framed_and_connections_reused_only_when_safe(
    gateway: Callable[..., smsgate.Gateway],
    serve: Callable[..., Server],
    raw: Callable[[int], tuple[bytes, bool]],
    connections: int,
) -> None:
    """Each reply is read whole and matched to its own request (no reply is taken for the
    next one's), and a connection is reused only when its reply said it may be."""
    server = serve("raw", raw=raw)
    gw = gateway([FormProvider("a", server.url)])
    assert [gw.send(SMS).task_id for _ in range(3)] == ["1", "2", "3"]
    if gw._owns_client:
        assert server.connections == connections


def test_bytes_after_a_reply_are_no_reply_to_the_next_request(serve: Callable[..., Server]) -> None:
    """A server that writes more than its reply: the extra bytes are never read as the next
    request's reply, and the connection is not reused. (A plain ``httpx.Client`` over h11
    takes them for the next reply: that client is the application's.)"""
    extra = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nOK 9"
    server = serve("raw", raw=lambda n: (_reply(n) + extra, True))
    with smsgate.Gateway(FormProvider("a", server.url)) as gw:
        assert [gw.send(SMS).task_id for _ in range(3)] == ["1", "2", "3"]
    assert server.connections == 3


@pytest.mark.parametrize(
    "reply",
    [
        b"HTX/1.1 200 OK\r\nContent-Length: 4\r\n\r\nOK 1",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nOK 1",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nOK 1",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    ],
    ids=["bad-status-line", "two-lengths", "chunk-cut", "upgrade"],
)
def test_a_reply_that_cannot_be_read_is_uncertain_and_never_resent(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server], reply: bytes
) -> None:
    """A reply the parser refuses (too many headers, a head over 64 KiB, a broken status line,
    conflicting lengths, a chunked body cut off, an upgrade never asked for) came after the
    request was written: uncertain, never sent again, never failed over."""
    server, healthy = serve("raw", raw=lambda n: (reply, False)), serve()
    gw = gateway(
        [FormProvider("a", server.url), FormProvider("b", healthy.url)], retry=smsgate.RetryPolicy(attempts=3)
    )
    error = raised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert len(server.requests) == 1
    assert healthy.requests == []
    assert frames_with_secrets(error, [PASSWORD]) == []


def test_a_reply_to_head_has_no_body_and_its_connection_is_not_reused(serve: Callable[..., Server]) -> None:
    """llhttp does not know the request's method: a reply to HEAD is complete after its head
    (whatever length it declares), has no body, and its connection is closed rather than
    trusted again."""
    # Bytes after the head (a server wrongly sending a body to HEAD) are not read as one.
    server = serve("raw", raw=lambda n: (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", True))
    with HTTPClientTransport() as transport:
        response = transport.handle_request(httpx.Request("HEAD", server.url))
        assert response.read() == b""
        response.close()
        (pool,) = transport._pools.values()
        assert not pool._idle
    assert response.status_code == 200
    assert len(server.requests) == 1


def test_the_reply_status_reason_version_and_headers_are_as_sent(serve: Callable[..., Server]) -> None:
    """What the transport's response carries: the status, the reason phrase and version as
    extensions, the headers as the bytes sent (order and case kept, repeated ones too)."""
    raw = (
        b"HTTP/1.1 202 Accepted For Now\r\nX-A: 1\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )
    server = serve("raw", raw=lambda n: (raw, True))
    with HTTPClientTransport() as transport:
        response = transport.handle_request(httpx.Request("POST", server.url, content=b"x"))
        assert response.read() == b"ok"
        response.close()
    assert response.status_code == 202
    assert response.extensions["reason_phrase"] == b"Accepted For Now"
    assert response.extensions["http_version"] == b"HTTP/1.1"
    assert response.headers.raw == [
        (b"X-A", b"1"),
        (b"set-cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"Content-Length", b"2"),
    ]


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(101))
        + b"Content-Length: 4\r\n\r\nOK 1",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * 70_000 + b"\r\nContent-Length: 4\r\n\r\nOK 1",
    ],
    ids=["101-headers", "70k-head"],
)
def test_a_reply_head_over_the_caps_is_uncertain(serve: Callable[..., Server], reply: bytes) -> None:
    """The default client refuses a head of more than 100 headers or 64 KiB (http.client's caps
    were 100 headers and 64 KiB a line): uncertain, never resent."""
    server, healthy = serve("raw", raw=lambda n: (reply, False)), serve()
    with smsgate.Gateway([FormProvider("a", server.url), FormProvider("b", healthy.url)]) as gw:
        error = raised(lambda: gw.send(SMS))
    assert isinstance(error, errors.UncertainOutcomeError)
    assert len(server.requests) == 1
    assert healthy.requests == []
