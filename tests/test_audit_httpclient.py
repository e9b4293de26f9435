"""Audit of the sync gateway's own transport (``smsgate._httpclient``) through the public API
and real loopback sockets: hostile and broken servers must never make a send look not-sent
when it may have gone, never make it go twice (no retry, no failover), never hand one
request's reply to another, never follow a redirect, and never let a header be injected.

Every server here is a raw socket server on 127.0.0.1 written for the attack it makes; no
assertion depends on timing (timeouts are generous, waits use events).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Capabilities, Flow
from smsgate.testing import frames_with_secrets
from tests.loopback_support import LoopbackServer, Servers, gateways, raised, serving

PASSWORD = "audit-Pa55-9f3c"  # the credential the form carries


class EchoProvider(smsgate.Provider):
    """Posts a form with the recipients and a credential; the reply's second word is the task id.
    ``header``: an extra header the provider's configuration puts on each request."""

    capabilities = Capabilities(send=True)

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout: float = 5.0,
        max_reply_bytes: int = 16384,
        header: tuple[str, str] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self.header = header

    def send(self, sms: smsgate.Sms) -> Flow[smsgate.Receipt]:
        headers = [self.header] if self.header is not None else []
        response = yield httpx.Request(
            "POST",
            self.base_url + "send",
            headers=headers,
            data={"to": ",".join(sms.to), "password": PASSWORD},
        )
        with smsgate.parsing_reply(response):
            status, task = response.content.split()
            if response.status_code != 200 or status != b"OK":
                raise ValueError("not accepted")
        return smsgate.Receipt(provider=self.name, task_id=task.decode(), accepted=len(sms.to))


def sms(to: str = "13800138000") -> smsgate.Sms:
    return smsgate.Sms(to=to, text="hello【shop】")


Answer = Callable[["RawServer", socket.socket, int, dict[str, str], bytes], bool]


def ok(server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes) -> bool:
    """``OK <n>``, kept alive."""
    reply = f"OK {number}".encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply))
    return True


class RawServer(LoopbackServer):
    """A loopback HTTP/1.1 server (tests/loopback_support.py): each complete request is
    recorded (head lines, body) and answered by ``answer(server, conn, n, headers, body)`` (n
    counts requests from 1), which returns whether the connection serves another request.
    Bytes that do not parse as a request are recorded in ``garbage``."""

    def __init__(self, answer: Answer = ok) -> None:
        self.answer = answer
        self.requests: list[tuple[list[str], bytes]] = []
        self.garbage: list[bytes] = []
        super().__init__()

    def _welcome(self, head: bytes) -> bool:
        line = head.split(b"\r\n", 1)[0]
        if not line.startswith(b"POST /") or not line.endswith(b" HTTP/1.1"):
            self.garbage.append(head)
            return False
        return True

    def _request(self, conn: socket.socket, lines: list[str], headers: dict[str, str], body: bytes) -> bool:
        with self.lock:
            self.requests.append((lines, body))
            number = len(self.requests)
        return self.answer(self, conn, number, headers, body)


@pytest.fixture
def serve() -> Iterator[Servers[RawServer]]:
    yield from serving(RawServer)


@pytest.fixture
def gateway() -> Iterator[Callable[..., smsgate.Gateway]]:
    """Gateways with their own (default) client: the transport under audit."""
    yield from gateways()


def echo_recipient(
    server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
) -> bool:
    """``OK <the form's to>``, after yielding the CPU for 0-2 ms (so replies overlap), kept alive."""
    to = dict(pair.split("=", 1) for pair in body.decode().split("&"))["to"]
    server.stop.wait(0.001 * (number % 3))
    reply = f"OK {to}".encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply))
    return True


def reply_then_close(data: bytes) -> Answer:
    """Writes ``data`` (anything, even nothing), then closes the connection."""

    def answer(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        if data:
            conn.sendall(data)
        return False

    return answer


CUT_REPLIES = {
    "nothing": b"",
    "part-of-status-line": b"HTTP/1.1 20",
    "status-line-only": b"HTTP/1.1 200 OK\r\n",
    "headers-cut": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-A",
    "head-without-body": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n",
    "body-short-of-length": b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nOK 1",
    "chunk-size-only": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n",
    "chunk-cut": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nOK",
    "no-last-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nOK 1\r\n",
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nOK 1\r\n0\r\n\r\n",
    "garbage-status": b"HELLO\r\n\r\n",
    "101-headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\nOK 1",
    "huge-header-line": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\nOK 1",
    "endless-head": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"b" * 100 + b"\r\n" + b"c" * 500_000,
}


@pytest.mark.parametrize("cut", list(CUT_REPLIES))
def test_a_request_read_then_answered_badly_is_uncertain_never_resent_never_failed_over(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer], cut: str
) -> None:
    """The server read the whole request; whatever broken reply (or none) follows, the provider
    may have acted: uncertain, one request, the healthy second provider never asked."""
    broken, healthy = serve(reply_then_close(CUT_REPLIES[cut])), serve()
    gw = gateway(
        [EchoProvider("a", broken.url), EchoProvider("b", healthy.url)],
        retry=smsgate.RetryPolicy(attempts=3),
    )
    error = raised(lambda: gw.send(sms()))
    assert isinstance(error, errors.UncertainOutcomeError), repr(error)
    assert not error.retry_safe
    assert not error.failover_safe
    assert error.provider == "a"
    assert len(broken.requests) == 1
    assert healthy.requests == []
    assert PASSWORD not in str(error) + repr(error)
    assert frames_with_secrets(error, [PASSWORD]) == []
    # The gateway is still usable and the next send goes on a new connection.
    broken.answer = ok
    assert gw.send(sms()).task_id == "2"


def test_a_refused_connection_is_not_sent_and_fails_over_once(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    healthy = serve()
    error = raised(
        lambda: gateway([EchoProvider("dead", dead)], retry=smsgate.RetryPolicy(attempts=1)).send(sms())
    )
    assert isinstance(error, errors.NotSentError)
    assert error.failover_safe
    receipt = gateway([EchoProvider("dead", dead), EchoProvider("live", healthy.url)]).send(sms())
    assert (receipt.provider, receipt.task_id) == ("live", "1")
    assert len(healthy.requests) == 1


def test_a_chunked_reply_without_end_over_the_cap_is_cut_and_uncertain(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer]
) -> None:
    """A chunked reply that never ends: reading stops at the cap; the connection is not reused."""
    done = threading.Event()

    def endless(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        if number > 1:
            return ok(server, conn, number, headers, body)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(OSError):
            while not done.is_set() and not server.stop.is_set():
                conn.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
        return False

    server = serve(endless)
    gw = gateway([EchoProvider("a", server.url, max_reply_bytes=2000)])
    error = raised(lambda: gw.send(sms()))
    done.set()
    assert isinstance(error, errors.MalformedReplyError)
    assert isinstance(error, errors.UncertainOutcomeError)
    assert not error.failover_safe
    assert gw.send(sms()).task_id == "2"
    assert server.connections == 2


def test_a_reply_arriving_after_the_read_timeout_never_reaches_another_send(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer]
) -> None:
    """The first reply comes only after the client gave up; it must not be taken for the second
    send's reply (the timed-out connection is closed, never pooled)."""
    timed_out = threading.Event()

    def late(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        if number == 1:
            timed_out.wait(10)
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nOK 999")
            return True
        return ok(server, conn, number, headers, body)

    server = serve(late)
    gw = gateway([EchoProvider("a", server.url, timeout=0.3)])
    error = raised(lambda: gw.send(sms()))
    timed_out.set()
    assert isinstance(error, errors.UncertainOutcomeError)
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert [gw.send(sms()).task_id for _ in range(3)] == ["2", "3", "4"]


@pytest.mark.parametrize("when", ["same-packet", "while-idle"])
def test_bytes_a_server_sends_past_its_reply_are_never_read_as_the_next_reply(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer], when: str
) -> None:
    """A second, unsolicited response after the first one's end (in the same packet, or later
    while the connection waits in the pool) is never the next send's reply."""
    stray = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nOK 999"
    go, sent = threading.Event(), threading.Event()

    def smuggle(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nOK %d" % (len(str(number)) + 3, number)
        if number == 1 and when == "same-packet":
            conn.sendall(reply + stray)
        elif number == 1:
            conn.sendall(reply)
            go.wait(10)  # the client has read its reply and pooled the connection
            conn.sendall(stray)
            sent.set()
        else:
            conn.sendall(reply)
        return True

    server = serve(smuggle)
    gw = gateway([EchoProvider("a", server.url)])
    assert gw.send(sms()).task_id == "1"
    if when == "while-idle":
        go.set()
        assert sent.wait(10)
        # Wait until the stray bytes are readable on the pooled socket.
        (pool,) = gw.client._transport._pools.values()  # type: ignore[attr-defined]
        for conn in list(pool._idle):
            assert conn._poll.poll(10_000)
    tasks = [gw.send(sms()).task_id for _ in range(3)]
    assert tasks == ["2", "3", "4"]
    assert len(server.requests) == 4


def test_a_server_closing_idle_connections_costs_neither_a_send_nor_a_duplicate(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer]
) -> None:
    """Each reply is followed by a close (FIN) while the connection sits in the pool."""

    def one_shot(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        ok(server, conn, number, headers, body)
        conn.shutdown(socket.SHUT_RDWR)
        return False

    server = serve(one_shot)
    gw = gateway([EchoProvider("a", server.url)])
    for expected in ("1", "2", "3", "4"):
        assert gw.send(sms()).task_id == expected
        (pool,) = gw.client._transport._pools.values()  # type: ignore[attr-defined]
        for conn in list(pool._idle):
            assert conn._poll.poll(10_000)  # the close has arrived before the next send
    assert len(server.requests) == 4
    assert server.connections == 4


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_elsewhere_is_never_followed_nor_its_location_repeated(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer], status: int
) -> None:
    """A 3xx naming another server (with a secret-looking query) is an error; the other server
    gets nothing, and the error names the host only."""
    thief = serve()
    location = thief.url + "steal?key=loc-secret-123"

    def redirect(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        conn.sendall(
            b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % (status, location.encode())
        )
        return True

    origin = serve(redirect)
    gw = gateway([EchoProvider("a", origin.url)], retry=smsgate.RetryPolicy(attempts=3))
    error = raised(lambda: gw.send(sms()))
    assert isinstance(error, errors.ProviderError)
    assert error.code == f"HTTP {status}"
    assert len(origin.requests) == 1
    assert thief.requests == []
    assert thief.connections == 0
    for text in (str(error), repr(error)):
        assert "loc-secret-123" not in text
        assert PASSWORD not in text
    assert frames_with_secrets(error, [PASSWORD]) == []


def test_threads_sharing_one_gateway_each_get_their_own_reply(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer]
) -> None:
    """The server answers with the recipient it read (after yielding the CPU, so replies
    overlap): every receipt must carry its own thread's number, and no connection ever
    carries bytes of two requests at once (the server would see garbage)."""

    server = serve(echo_recipient)
    gw = gateway([EchoProvider("a", server.url)])
    wrong: list[tuple[str, str]] = []
    failed: list[BaseException] = []

    def work(mobile: str) -> None:
        try:
            for _ in range(15):
                task = gw.send(sms(mobile)).task_id
                if task != mobile:
                    wrong.append((mobile, task))
        except BaseException as exc:  # reported below
            failed.append(exc)

    mobiles = [f"1380013{n:04d}" for n in range(8)]
    threads = [threading.Thread(target=work, args=(m,)) for m in mobiles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failed == []
    assert wrong == []
    assert server.garbage == []
    assert len(server.requests) == 8 * 15


@pytest.mark.parametrize(
    "header",
    [
        ("X-Account", "acct\r\nX-Injected: 1"),
        ("X-Account", "acct\nX-Injected: 1"),
        ("X-Account", "acct\rX-Injected: 1"),
        ("X-Account\r\nX-Injected", "1"),
    ],
)
def test_a_header_with_cr_or_lf_from_configuration_is_never_written(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer], header: tuple[str, str]
) -> None:
    """A configuration value with a line break put in a header: refused before a byte is
    written (an smsgate error, not sent), never a second header on the wire."""
    server = serve()
    gw = gateway([EchoProvider("a", server.url, header=header)], retry=smsgate.RetryPolicy(attempts=1))
    error = raised(lambda: gw.send(sms()))
    assert isinstance(error, errors.SmsGateError)
    refused_early = errors.NotSentError | errors.ValidationError | errors.ConfigurationError
    assert isinstance(error, refused_early), repr(error)
    assert server.requests == []
    assert server.garbage == []


def trickled(reply: Callable[[int], bytes]) -> Answer:
    """Writes ``reply(n)`` one byte per packet (Nagle off), keeping the connection."""

    def answer(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in reply(number):
            conn.sendall(bytes([byte]))
        return True

    return answer


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_reply_trickled_byte_by_byte_is_read_whole(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer], framing: str
) -> None:
    """Every boundary (status line, header, chunk size, chunk data) split across packets."""

    def reply(number: int) -> bytes:
        body = f"OK {number}".encode()
        if framing == "length":
            return b"HTTP/1.1 200 OK\r\nX-Pad: abc\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        if framing == "chunked":
            return (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n"
                % (
                    body[:2],
                    len(body) - 2,
                    body[2:],
                )
            )
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body

    answer = trickled(reply)
    if framing == "close":
        closing = answer

        def answer(
            server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
        ) -> bool:
            closing(server, conn, number, headers, body)
            return False

    server = serve(answer)
    gw = gateway([EchoProvider("a", server.url)])
    assert [gw.send(sms()).task_id for _ in range(3)] == ["1", "2", "3"]
    assert len(server.requests) == 3


def test_a_connection_the_server_said_it_closes_is_never_reused(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer]
) -> None:
    """``Connection: close`` (and an HTTP/1.0 reply without keep-alive), yet the server keeps
    the socket open and would answer a second request on it with a stale reply: the client
    must open a new connection for the next send."""

    def liar(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        if number % 2 == 1:
            reply = f"OK {number}".encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply)
            )
        else:
            conn.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\nOK %d" % (len(str(number)) + 3, number)
            )
        return True  # kept open: a reuse would be answered on it

    server = serve(liar)
    gw = gateway([EchoProvider("a", server.url)])
    assert [gw.send(sms()).task_id for _ in range(4)] == ["1", "2", "3", "4"]
    assert server.connections == 4


IPYY_OK = (
    '<?xml version="1.0" encoding="utf-8" ?><returnsms><returnstatus>Success</returnstatus>'
    "<message>ok</message><remainpoint>1</remainpoint><taskID>T{n}</taskID>"
    "<successCounts>1</successCounts></returnsms>"
)


def test_a_split_send_whose_second_request_is_dropped_is_never_resent_anywhere(
    gateway: Callable[..., smsgate.Gateway], serve: Callable[..., RawServer]
) -> None:
    """ipyy with one recipient per request: the first request is accepted, the second read and
    dropped. The send stops there: a partial send carrying the first receipt, the dropped
    request's recipient among the pending ones, not safe to resend; no retry, no third
    request, nothing to the second provider."""

    def second_dropped(
        server: RawServer, conn: socket.socket, number: int, headers: dict[str, str], body: bytes
    ) -> bool:
        if number == 2:
            return False
        reply = IPYY_OK.format(n=number).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply))
        return True

    first, second = serve(second_dropped), serve()

    def ipyy(name: str, url: str) -> smsgate.Provider:
        return smsgate.get_provider(
            "ipyy", name=name, account="x", password=PASSWORD, userid="1", base_url=url, max_recipients=1
        )

    gw = gateway([ipyy("a", first.url), ipyy("b", second.url)], retry=smsgate.RetryPolicy(attempts=3))
    mobiles = ["13800138000", "13900139000", "13700137000"]
    error = raised(lambda: gw.send(smsgate.Sms(to=mobiles, text="您的验证码：1439【腾飞】")))
    assert isinstance(error, errors.PartialSendError)
    assert isinstance(error.cause, errors.UncertainOutcomeError)
    assert not error.retry_safe
    assert not error.failover_safe
    assert [(r.provider, r.task_id, r.recipients) for r in error.receipts] == [("a", "T1", ("13800138000",))]
    assert [m for sms in error.pending for m in sms.to] == mobiles[1:]
    assert len(first.requests) == 2
    assert second.requests == []
    assert frames_with_secrets(error, [PASSWORD]) == []
