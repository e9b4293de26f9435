"""The synchronous gateway's default HTTP transport: httpx's interface over the standard
library's :mod:`http.client` and llhttp (``httptools``), with a small keep-alive pool per origin.

``Gateway`` opens an ``httpx.Client`` over :class:`HTTPClientTransport`: the flows and the driver
still see httpx requests and responses, but the bytes go through ``http.client`` (the request
line and headers written) and llhttp, the parser uvicorn and Node.js use (the status line and
headers parsed, chunked and length-delimited bodies framed); nothing here reads or writes HTTP
by hand. The reply used to be read by http.client too, whose header parsing through
:mod:`email.parser` was the largest single cost of a send (~200k of ~670k instructions; llhttp
through httptools does the same in a few microseconds). Earlier this module drove urllib3's
pools; a send through urllib3's ``urlopen`` cost about twice the instructions of the same
exchange on ``http.client`` alone (its retry, timeout and header-dict objects, pool queue and
response decoder per request). A client the application passes is used as it is.

What the driver relies on:

* **Failures are classified by what reached the socket**, not by exception names. The
  connection marks the moment the first byte of the request is handed to the socket; a failure
  before it (refused, DNS, TLS handshake, connect timeout) is raised as ``httpx.ConnectError`` /
  ``ConnectTimeout`` (smsgate: not sent), any failure after it as ``httpx.ReadTimeout`` /
  ``RemoteProtocolError`` (smsgate: uncertain). A reply shorter than its ``Content-Length`` is
  a ``RemoteProtocolError`` too.
* **Nothing is ever sent twice**: there are no retries. A pooled connection is checked before
  it is reused (a peer that closed or reset it while it was idle leaves it readable); a dead
  one is dropped and the request goes on a new connection, which is safe because nothing of it
  was written. A connection that dies after that check, once a byte is written, makes the send
  uncertain, never resent.
* **A URL no connection can be made to is refused before connecting**: an unsupported
  scheme, or a port outside 1-65535 (the resolver would connect to the port modulo 65536),
  is an ``httpx.UnsupportedProtocol`` / ``InvalidURL`` (smsgate: not sent).
* **Redirects are not followed** (http.client never follows; the driver turns a 3xx into an
  error).
* **TLS is verified** with httpx's own context (certifi roots, host names checked).
* **The body is streamed** to the driver, which stops reading past ``max_reply_bytes``; the
  raw bytes are passed on and httpx decodes them (gzip …) as it does for its own transport.
  A reply's head is capped at 64 KiB and 100 headers.
* **A connection is reused only when it is in a known state**: its reply read to the end,
  llhttp saying it may be kept alive (not HTTP/1.0 without keep-alive, no ``Connection:
  close``, no body ended by the connection's end), and no byte after the reply (such bytes
  are never taken for the next request's reply).
* **Timeouts** come from the request's ``timeout`` extension (connect, write, read).
* **The request body stays out of reprs and frame locals** of the frames a failed send's
  traceback holds (which error reporters capture): it is handed to the connection, not kept
  in a local of the frame that raises.
* **Threads**: a connection serves one request at a time; the idle ones wait in a deque
  (whose ``append`` and ``pop`` are atomic), so threads share a pool without a lock per send.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httptools
import httpx

from smsgate._direct import RequestTimeouts, goes_direct, proxy_in_environment, verifying_context

if TYPE_CHECKING:
    import ssl

    from httpx._client import UseClientDefault
    from httpx._types import AuthTypes

__all__ = ["HTTPClientTransport", "sync_client"]

# Bytes asked of http.client per read of a reply body; smaller when the body is compressed,
# so that one read cannot inflate into more than a few MB in httpx's decoder.
_CHUNK = 64 * 1024
_ENCODED_CHUNK = 8 * 1024
# What a failing exchange can raise below the transport (http.client, llhttp, sockets, TLS).
_FAILURES = (
    http.client.HTTPException,
    httptools.HttpParserError,
    httptools.HttpParserUpgrade,  # a switch of protocols never asked for (not an HttpParserError)
    OSError,
    ValueError,
)
_NO_TIMEOUTS: Mapping[str, float | None] = {}
# A reply's head (status line and headers) is refused past this size or this many headers
# (http.client's caps were 64 KiB a line and 100 headers).
_MAX_HEAD = 64 * 1024
_MAX_HEADERS = 100
# A URL's port is below this (and above 0): a larger one is refused before connecting.
_PORTS = 65536


class _Response:
    """A reply read off a connection's socket, parsed by llhttp (through ``httptools``, the
    parser uvicorn uses) instead of http.client's ``HTTPResponse``, whose header parsing
    through :mod:`email.parser` was the largest single cost of a send. http.client still
    writes the request and hands this class the socket (its ``response_class``).

    The status line, the headers and the body's framing (``Content-Length``, chunked, a body
    ended by the connection's end) are llhttp's; this class only feeds it what the socket
    gives and keeps what it reports. A reply is complete when llhttp says so; the socket
    closing before that is an :class:`http.client.IncompleteRead`, unless the body has no
    length of any kind (it then ends with the connection, as HTTP/1.0 replies may).
    Interim ``1xx`` replies are skipped. The connection is reused only when llhttp says it
    may be kept alive and nothing followed the reply.
    """

    __slots__ = (
        "_body",
        "_extra",
        "_fed",
        "_head_only",
        "_head_size",
        "_interim",
        "_parser",
        "_sock",
        "done",
        "encoded",
        "framed",
        "has_head",
        "headers",
        "keep_alive",
        "reason",
        "status",
        "version",
    )

    # http.client's getresponse() closes the connection when this is true; the transport
    # closes it itself (when the reply is done) if ``keep_alive`` is false.
    will_close = False

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None) -> None:
        self._sock: socket.socket | None = sock
        self._head_only = method == "HEAD"
        # The parser holds this object's methods: the reference cycle is broken in close().
        parser = httptools.HttpResponseParser(self)
        # Lone LF line ends are read, as http.client read them.
        parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        self._parser: httptools.HttpResponseParser | None = parser
        self._body: list[bytes] = []
        self._fed = self._head_size = 0
        self._interim = self._extra = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.status = 0
        self.version = b"HTTP/1.1"
        self.has_head = self.done = self.keep_alive = False
        self.encoded = self.framed = False

    # --- llhttp's callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.done:
            # Bytes after the reply: not parsed (they are no reply to this request), and the
            # connection, in no known state, is not reused.
            self.keep_alive = False
            self._extra = True
            raise http.client.HTTPException("bytes after the reply")

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value)
        if len(self.headers) >= _MAX_HEADERS or self._head_size > _MAX_HEAD:
            raise http.client.HTTPException(
                f"the reply's head is over {_MAX_HEADERS} headers or {_MAX_HEAD} bytes"
            )
        self.headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-encoding":
            self.encoded = True
        elif lowered in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        parser = self._parser
        if parser is None:
            return
        status = parser.get_status_code()
        if status < 200 and status != 101:  # an interim reply (100 Continue …): the next one counts
            self._interim = True
            self.headers, self.reason = [], b""
            self.encoded = self.framed = False
            self._head_size = 0
            return
        self.status = status
        self.has_head = True
        self.keep_alive = parser.should_keep_alive() and not self._head_only
        if parser.get_http_version() != "1.1":
            self.version = b"HTTP/1.0"
        if self._head_only:  # a reply to HEAD has no body, whatever its headers say
            self.done = True

    def on_body(self, body: bytes) -> None:
        if not self._head_only:  # a body wrongly sent after a reply to HEAD is not read
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
        else:
            self.done = True

    # --- what http.client and the transport call ------------------------------------------

    def begin(self) -> None:
        """Read until the reply's head is parsed."""
        while not self.has_head:
            self._feed(_CHUNK)
            # Bounds what llhttp gathers of a head that does not end (a header without end).
            if not self.has_head and self._fed >= _MAX_HEAD:
                raise http.client.HTTPException(f"the reply's head is longer than {_MAX_HEAD} bytes")

    def _feed(self, size: int) -> None:
        sock, parser = self._sock, self._parser
        if sock is None or parser is None:
            raise http.client.ResponseNotReady("the reply is closed")
        data = sock.recv(size)
        if not data:
            self._sock = None
            self._ended()
            return
        if not self.has_head:
            self._fed += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if not self._extra:
                raise

    def _ended(self) -> None:
        """The peer closed the connection: the end of a body that has no length, else a cut."""
        self.keep_alive = False
        if not self.has_head:
            raise http.client.RemoteDisconnected("the connection closed without a reply")
        if not self.framed and not self.done:
            self.done = True
        if not self.done:
            raise http.client.IncompleteRead(b"")

    def read(self, size: int) -> bytes:
        """The next part of the body (about ``size`` bytes at most per socket read; b"" at its end)."""
        while not self._body and not self.done:
            self._feed(size)
        body = self._body
        if not body:
            return b""
        self._body = []
        return body[0] if len(body) == 1 else b"".join(body)

    def isclosed(self) -> bool:
        """Whether the reply was read to its end (http.client asks before the next request)."""
        return self.done and not self._body

    def close(self) -> None:
        """Forget the socket (the connection owns it) and the parser."""
        self._sock = self._parser = None


class _Connection(http.client.HTTPConnection):
    """http.client's connection, marking when the request starts to be written, writing a
    body of known length in the same ``sendall`` as the head (http.client writes them apart:
    two wake-ups of the server and two packets for one small form), and telling whether it is
    still usable after waiting in the pool."""

    response_class = _Response  # type: ignore[assignment]
    written = False
    _tail: bytes | None = None
    _poll: select.poll
    _write_timeout: float | None = None
    _sock_timeout: float | None = None  # the socket's timeout as last set (a call per change only)

    def connect(self) -> None:
        super().connect()
        self._sock_timeout = self.timeout
        poll = select.poll()
        poll.register(self.sock, select.POLLIN)
        self._poll = poll

    def reusable(self) -> bool:
        """Whether this idle connection may carry a request: still connected, and nothing to
        read (an idle HTTP/1.1 connection is readable only once the peer closed or reset it)."""
        return self.sock is not None and not self._poll.poll(0)

    def exchange(self, request: httpx.Request, timeout: Mapping[str, float | None]) -> _Response:
        """Write ``request`` (connecting first if need be) and read the head of its reply."""
        self.written = False
        self.timeout = timeout.get("connect")
        self._write_timeout = timeout.get("write")
        self.putrequest(
            request.method, request.url.raw_path.decode("ascii"), skip_host=True, skip_accept_encoding=True
        )
        chunked = False
        for name, value in request.headers.raw:
            self.putheader(name, value)
            chunked = chunked or name.lower() == b"transfer-encoding"
        body = request.read()
        if not body:
            self.endheaders()
        elif chunked:
            self.endheaders(body, encode_chunked=True)
        else:
            self._tail = body
            self.endheaders()
        self._set_timeout(timeout.get("read"))
        return self.getresponse()  # type: ignore[return-value]

    def _set_timeout(self, seconds: float | None) -> None:
        if seconds != self._sock_timeout:
            self.sock.settimeout(seconds)
            self._sock_timeout = seconds

    def send(self, data: Any) -> None:
        if not self.written:
            if self.sock is None:
                # http.client would connect inside its send(); connecting here keeps a refused
                # or timed-out connect on the "nothing was written" side of the mark.
                self.connect()
            self._set_timeout(self._write_timeout)
            self.written = True
        if self._tail is not None:
            data, self._tail = data + self._tail, None
        super().send(data)

    def close(self) -> None:
        self._tail = None
        super().close()


class _HTTPSConnection(_Connection, http.client.HTTPSConnection):
    pass


class _Pool:
    """The idle keep-alive connections to one origin (at most ``maxsize`` are kept; more are
    opened under load and closed after use)."""

    __slots__ = ("_closed", "_idle", "_maxsize", "_new")

    def __init__(self, new: Callable[[], _Connection], maxsize: int) -> None:
        self._new = new
        self._maxsize = maxsize
        self._idle: deque[_Connection] = deque()
        self._closed = False

    def take(self) -> _Connection:
        """An idle connection that is still usable, or a new (unconnected) one."""
        idle = self._idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:  # another thread took the last one
                break
            if conn.reusable():
                return conn
            conn.close()
        return self._new()

    def give_back(self, conn: _Connection) -> None:
        """Keep ``conn`` (its last reply read to the end) for the next request."""
        if self._closed or len(self._idle) >= self._maxsize:
            conn.close()
            return
        self._idle.append(conn)

    def close(self) -> None:
        """Close the idle connections; those in use are closed when their reply is done."""
        self._closed = True
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:
                break


def _failure(exc: BaseException, written: bool, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for a failed exchange: not-sent classes only when no byte of the
    request reached a socket; every later failure is one the provider may have acted on."""
    kind = type(exc).__name__
    timed_out = isinstance(exc, TimeoutError)
    if not written:
        if timed_out:
            return httpx.ConnectTimeout(f"connect timed out ({kind})", request=request)
        return httpx.ConnectError(f"could not connect ({kind})", request=request)
    if timed_out:
        return httpx.ReadTimeout(f"timed out after the request was written ({kind})", request=request)
    return httpx.RemoteProtocolError(f"failed after the request was written ({kind})", request=request)


class _Stream(httpx.SyncByteStream):
    """A reply body, read off the socket chunk by chunk as the driver asks for it; closing it
    hands a connection whose reply was read to the end back to its pool."""

    __slots__ = ("_conn", "_pool", "_request", "_response")

    def __init__(self, response: _Response, conn: _Connection, pool: _Pool, request: httpx.Request) -> None:
        self._response = response
        self._conn: _Connection | None = conn
        self._pool = pool
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        # A compressed body is read in smaller pieces: one read cannot inflate into more than
        # a few MB in httpx's decoder.
        size = _ENCODED_CHUNK if response.encoded else _CHUNK
        try:
            while chunk := response.read(size):
                yield chunk
        except _FAILURES as exc:
            error = _failure(exc, True, self._request)
        else:
            return
        raise error

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        response = self._response
        reusable = response.keep_alive and response.isclosed()
        response.close()
        if reusable and conn.sock is not None:
            self._pool.give_back(conn)
            return
        # Unread bytes would be taken for the next reply (or the server said it closes).
        conn.close()


class _Reply(httpx.Response):
    """httpx's response to a request, closed without httpx's ``request_context`` around the
    stream's close (a context manager per send, there to attach the request to an httpx error
    the close raises: :class:`_Stream`'s close raises none)."""

    def close(self) -> None:
        """Close the stream: the connection goes back to its pool or is closed."""
        if not self.is_closed:
            self.is_closed = True
            self.stream.close()  # type: ignore[union-attr]


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing: provider APIs are stateless, and the flows' requests
    are sent as built (``Client.send`` never adds stored cookies to them), so reading each
    reply's ``Set-Cookie`` into a jar was pure cost (~10 % of a send's CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep nothing."""


class _Client(httpx.Client):
    """The sync gateway's own ``httpx.Client``: no cookie jar, and over an
    :class:`HTTPClientTransport` (unless ``transport`` is None: httpx's own, for proxies).

    A request sent with ``stream=True`` and neither redirects, authentication nor event hooks
    (how smsgate's drivers send) goes straight to the transport: the client-level steps (auth
    flow, redirect loop, hooks, cookies, logging the URL, which may carry credentials) have
    nothing to do for it and cost about a fifth of a send. Any other use is httpx's own ``send``.
    """

    _no_cookies = _NoCookies()

    def __init__(self, transport: HTTPClientTransport | None) -> None:
        self._direct = transport
        super().__init__(verify=True, follow_redirects=False, transport=transport)
        self._timeouts = RequestTimeouts()

    @property
    def cookies(self) -> httpx.Cookies:
        """An empty store that stays empty."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        """Cookies are not kept: the requests the flows build never carry stored ones."""

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Send ``request`` (see the class docstring for the direct path)."""
        direct = self._direct
        if direct is None or not goes_direct(
            self, request, stream=stream, auth=auth, follow_redirects=follow_redirects
        ):
            return super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        self._timeouts.stamp(request, self.timeout)
        return direct.handle_request(request)


def sync_client() -> httpx.Client:
    """The sync gateway's own client: TLS verified, redirects not followed, no cookie jar,
    over http.client — unless the environment names an HTTP proxy (``HTTPS_PROXY`` …), which
    httpx's own transport honours (with ``NO_PROXY``) and this one does not."""
    if proxy_in_environment():
        return _Client(None)
    return _Client(HTTPClientTransport())


class HTTPClientTransport(httpx.BaseTransport):
    """An ``httpx`` transport over :mod:`http.client` connections kept alive per origin.

    :param ssl_context: the TLS context; by default httpx's verifying one.
    :param maxsize: idle connections kept per origin (more are opened under load and closed
        after use).
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, maxsize: int = 20) -> None:
        self._ssl_context = ssl_context
        self._maxsize = maxsize
        self._pools: dict[tuple[bytes, bytes, int | None], _Pool] = {}
        self._lock = threading.Lock()

    def _pool(self, url: httpx.URL) -> _Pool:
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                # The host as sent (IDNA-encoded, like httpx's own transport): the name resolved
                # and checked against the certificate is the Host header's.
                pool = self._new_pool(url.scheme, url.raw_host.decode("ascii"), url.port)
                self._pools[key] = pool
        return pool

    def _new_pool(self, scheme: str, host: str, port: int | None) -> _Pool:
        # Checked once per origin (a pool is made once): the resolver would take the port
        # modulo 65536, and http.client would take port 0 for the default one.
        if port is not None and not 0 < port < _PORTS:
            raise httpx.InvalidURL(f"port {port} is out of range (1-{_PORTS - 1})")
        if scheme == "http":
            return _Pool(lambda: _Connection(host, port or 80), self._maxsize)
        if scheme != "https":
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        if self._ssl_context is None:
            self._ssl_context = verifying_context()
        context = self._ssl_context
        return _Pool(lambda: _HTTPSConnection(host, port or 443, context=context), self._maxsize)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once (no retry, no redirect) and return its streamed reply."""
        pool = self._pool(request.url)
        conn = pool.take()
        try:
            response = conn.exchange(request, request.extensions.get("timeout", _NO_TIMEOUTS))
        except _FAILURES as exc:
            conn.close()
            error = _failure(exc, conn.written, request)
        except BaseException:  # a consumed request stream, an interrupt: the connection goes too
            conn.close()
            raise
        else:
            return _Reply(
                response.status,
                headers=response.headers,
                stream=_Stream(response, conn, pool, request),
                request=request,
                extensions={"http_version": response.version, "reason_phrase": response.reason},
            )
        # Raised outside the except block: the http.client exception (and the frames of its
        # traceback, holding the request body) stay out of the error's context.
        raise error

    def close(self) -> None:
        """Close every idle connection; those in use close when their reply is done."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()
