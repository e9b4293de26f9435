"""The sync gateway's transports over real loopback sockets: every failure classified by what
may have reached the server, nothing resent, no redirect followed, replies capped.

Each test runs with the gateway's default client (httpx over urllib3, ``smsgate._urllib3``)
and with a plain ``httpx.Client`` the application passes, so both keep the same rules.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Capabilities, Flow
from smsgate._urllib3 import Urllib3Transport, _failure, _Hidden, _outgoing
from smsgate.testing import frames_with_secrets

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


class Server:
    """A loopback HTTP/1.1 server in a thread whose behaviour per request the test sets:
    ``ok`` (answers ``OK <n>``), ``close`` (reads the request, closes without a reply),
    ``hang`` (reads the request, never answers), ``redirect`` (307 to another path),
    ``huge`` (a body far over any cap, with or without a declared length)."""

    def __init__(self, behaviour: str = "ok", *, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.requests: list[tuple[str, bytes]] = []
        self.connections = 0
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}/"

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
                self._open.append(conn)
            with conn:
                self._requests(conn)
        except OSError:  # a client hanging up, a refused handshake, or the test ending
            return

    def _requests(self, conn: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set():
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(
                (
                    int(v)
                    for k, _, v in (ln.partition(":") for ln in lines[1:])
                    if k.lower() == "content-length"
                ),
                0,
            )
            while len(buffer) < length:
                buffer += conn.recv(65536)
            body, buffer = buffer[:length], buffer[length:]
            self.requests.append((lines[0].split()[1], body))
            if not self._answer(conn):
                return

    def _answer(self, conn: socket.socket) -> bool:
        """Answer one request; False once the connection is done with."""
        if self.behaviour == "close":
            return False
        if self.behaviour == "hang":
            self._stop.wait()
            return False
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

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(behaviour: str = "ok", **options: Any) -> Server:
        servers.append(Server(behaviour, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def raised(call: Callable[[], object]) -> Exception:
    """The exception ``call`` raised (its traceback ends in this frame, not in the test's)."""
    try:
        call()
    except Exception as exc:
        return exc
    pytest.fail("nothing was raised")


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(params=["default", "httpx"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Callable[..., smsgate.Gateway]]:
    """Gateways with the default client, or with a plain ``httpx.Client`` passed in."""
    opened: list[smsgate.Gateway] = []

    def make(providers: list[smsgate.Provider], **options: Any) -> smsgate.Gateway:
        if request.param == "httpx":
            options["client"] = httpx.Client()
        options.setdefault("sleep", lambda _seconds: None)
        opened.append(smsgate.Gateway(providers, **options))
        return opened[-1]

    yield make
    for gw in opened:
        gw.close()
        if not gw._owns_client:
            gw.client.close()


def test_the_default_client_goes_through_urllib3_and_a_given_client_is_kept() -> None:
    with smsgate.Gateway(FormProvider("a", "http://127.0.0.1:9/")) as default:
        assert isinstance(default.client._transport, Urllib3Transport)
        assert default.client.follow_redirects is False
    with (
        httpx.Client() as mine,
        smsgate.Gateway(FormProvider("a", "http://127.0.0.1:9/"), client=mine) as given,
    ):
        assert given.client is mine


def test_with_a_proxy_in_the_environment_the_default_client_is_httpx_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx's transport honours HTTPS_PROXY and NO_PROXY; the urllib3 one would ignore them."""
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
    """The own client sends the drivers' requests straight to urllib3 only while httpx would
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
    """The mapping itself: the class of a urllib3 failure never decides alone."""
    from urllib3.exceptions import EmptyPoolError, NewConnectionError, ProtocolError, ReadTimeoutError

    request = httpx.Request("POST", "http://127.0.0.1:9/send")
    refused = NewConnectionError(None, "refused")  # type: ignore[arg-type]
    assert isinstance(_failure(refused, False, request), httpx.ConnectError)
    assert isinstance(_failure(EmptyPoolError(None, "full"), False, request), httpx.PoolTimeout)  # type: ignore[arg-type]
    assert isinstance(_failure(TimeoutError(), False, request), httpx.ConnectTimeout)
    assert isinstance(_failure(refused, True, request), httpx.RemoteProtocolError)
    assert isinstance(_failure(ProtocolError("aborted"), True, request), httpx.RemoteProtocolError)
    assert isinstance(_failure(ReadTimeoutError(None, "/", "slow"), True, request), httpx.ReadTimeout)  # type: ignore[arg-type]


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for 127.0.0.1 (the openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_an_untrusted_certificate_is_refused_before_the_request(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., Server], self_signed: ssl.SSLContext
) -> None:
    server = serve(tls=self_signed)
    with pytest.raises(errors.NotSentError):
        gateway([FormProvider("a", server.url)], retry=smsgate.RetryPolicy(attempts=1)).send(SMS)
    assert server.requests == []


def test_what_urllib3_is_given_to_send() -> None:
    """The request's own headers (repeated names kept, nothing added), and a body of known
    length to go out with the head; a streamed body is left to urllib3's chunked encoding."""
    form = httpx.Request("POST", "http://127.0.0.1:9/send", data={"password": PASSWORD})
    headers, body = _outgoing(form)
    assert isinstance(body, _Hidden)
    assert body.data == f"password={PASSWORD}".encode()
    assert PASSWORD not in repr(body)
    assert headers["Content-Length"] == str(len(body.data))
    assert headers["User-Agent"] == headers["Accept-Encoding"] == urllib3.util.SKIP_HEADER
    repeated = httpx.Request("GET", "http://127.0.0.1:9/", headers=[("X-A", "1"), ("x-a", "2")])
    headers, body = _outgoing(repeated)
    assert body is None
    assert headers.getlist("X-A") == ["1", "2"]  # type: ignore[union-attr]
    streamed = httpx.Request("POST", "http://127.0.0.1:9/", content=iter([b"a", b"b"]))
    headers, body = _outgoing(streamed)
    assert headers["Transfer-Encoding"] == "chunked"
    assert body == b"ab"
