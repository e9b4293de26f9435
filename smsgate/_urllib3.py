"""The synchronous gateway's default HTTP transport: httpx's interface over urllib3's pool.

``Gateway`` opens an ``httpx.Client(transport=Urllib3Transport())``: the flows and the driver
still see httpx requests and responses, but the bytes go through urllib3 (keep-alive pools on
:mod:`http.client`), about twice as fast as httpcore with h11 for one send at a time. A client
the application passes is used as it is.

What the driver relies on holds here as with httpx's own transport:

* **Failures are classified by what reached the socket**, not by the library's exception
  names. A connection class marks the moment the first byte of the request is handed to the
  socket; a failure before it (refused, DNS, TLS handshake, connect timeout, no pooled
  connection) is raised as ``httpx.ConnectError`` / ``ConnectTimeout`` / ``PoolTimeout``
  (smsgate: not sent), any failure after it as ``httpx.ReadTimeout`` /
  ``RemoteProtocolError`` (smsgate: uncertain).
* **Nothing is ever sent twice**: urllib3's retries are off (``retries=False``), so a
  dropped connection is raised, never retried.
* **Redirects are not followed** (``redirect=False``; the driver turns a 3xx into an error).
* **TLS is verified** with httpx's own context (certifi roots, host names checked).
* **The body is streamed** to the driver, which stops reading past ``max_reply_bytes``;
  the raw bytes are passed on and httpx decodes them (gzip …) as it does for its own transport.
* **Timeouts** come from the request's ``timeout`` extension (connect, read; urllib3 bounds
  writes by the connect timeout).
* **The request body stays out of reprs and frame locals**: urllib3 receives it wrapped in an
  object whose repr hides it, so a traceback of a failed send (which error reporters capture)
  does not show a form holding credentials.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import EmptyPoolError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import SKIP_HEADER

from smsgate._direct import RequestTimeouts, goes_direct, proxy_in_environment

if TYPE_CHECKING:
    from httpx._client import UseClientDefault
    from httpx._types import AuthTypes

__all__ = ["Urllib3Transport", "sync_client"]

_CHUNK = 64 * 1024
_TIMEOUTS = (Urllib3Timeout, socket.timeout)
# What a failing exchange can raise below the transport (urllib3, http.client, sockets, TLS).
_FAILURES = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError)


class _Written(threading.local):
    """Per thread: whether the current request's first byte has been handed to a socket."""

    flag = False


_written = _Written()


class _HTTPConnection(HTTPConnection):
    """urllib3's connection, marking when the request starts to be written and writing a
    body of known length in the same ``sendall`` as the head (http.client writes them apart:
    two wake-ups of the server and two packets for one small form)."""

    _tail: bytes | None = None

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **options: Any) -> None:
        if isinstance(body, _Hidden):
            # The head already says Content-Length; urllib3 sends no body of its own.
            self._tail, body = body.data, None
        try:
            super().request(method, url, body, headers, **options)
        finally:
            self._tail = None

    def send(self, data: Any) -> None:
        if self.sock is None:
            # http.client would connect inside send(); connecting here keeps a refused or
            # timed-out connect on the "nothing was written" side of the mark.
            self.connect()
        _written.flag = True
        if self._tail is not None:
            data, self._tail = data + self._tail, None
        super().send(data)


class _HTTPSConnection(_HTTPConnection, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Hidden(Iterable[bytes]):
    """A request body of known length, written with the request's head; its repr hides it.
    (Iterable only to satisfy urllib3's body type: the connection takes it out before.)"""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data

    def __repr__(self) -> str:
        return f"<request body, {len(self.data)} bytes>"


def _failure(exc: BaseException, written: bool, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for a failed exchange: not-sent classes only when no byte of the
    request reached a socket; every later failure is one the provider may have acted on."""
    kind = type(exc).__name__
    # urllib3 derives "could not connect" from its connect-timeout class: not a timeout here.
    timed_out = isinstance(exc, _TIMEOUTS) and not isinstance(exc, NewConnectionError)
    if not written:
        if isinstance(exc, EmptyPoolError):
            return httpx.PoolTimeout(f"no connection available ({kind})", request=request)
        if timed_out:
            return httpx.ConnectTimeout(f"connect timed out ({kind})", request=request)
        return httpx.ConnectError(f"could not connect ({kind})", request=request)
    if timed_out:
        return httpx.ReadTimeout(f"timed out after the request was written ({kind})", request=request)
    return httpx.RemoteProtocolError(f"failed after the request was written ({kind})", request=request)


class _Stream(httpx.SyncByteStream):
    """A reply body, read from urllib3 chunk by chunk as the driver asks for it."""

    def __init__(self, response: urllib3.BaseHTTPResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.stream(_CHUNK, decode_content=False)
        except _FAILURES as exc:
            error = _failure(exc, True, self._request)
        else:
            self._done = True
            return
        raise error

    def close(self) -> None:
        if not self._done:
            # Unread bytes would be taken for the next reply: the connection is dropped.
            self._response.close()
        self._response.release_conn()


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing: provider APIs are stateless, and the flows' requests
    are sent as built (``Client.send`` never adds stored cookies to them), so reading each
    reply's ``Set-Cookie`` into a jar was pure cost (~10 % of a send's CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep nothing."""


class _Client(httpx.Client):
    """The sync gateway's own ``httpx.Client``: no cookie jar, and over a
    :class:`Urllib3Transport` (unless ``transport`` is None: httpx's own, for proxies).

    A request sent with ``stream=True`` and neither redirects, authentication nor event hooks
    (how smsgate's drivers send) goes straight to the urllib3 transport: the client-level
    steps (auth flow, redirect loop, hooks, cookies, logging the URL, which may carry
    credentials) have nothing to do for it and cost about a fifth of a send. Any other use is
    httpx's own ``send``.
    """

    _no_cookies = _NoCookies()

    def __init__(self, transport: Urllib3Transport | None) -> None:
        self._urllib3 = transport
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
        direct = self._urllib3
        if direct is None or not goes_direct(
            self, request, stream=stream, auth=auth, follow_redirects=follow_redirects
        ):
            return super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        self._timeouts.stamp(request, self.timeout)
        return direct.handle_request(request)


def sync_client() -> httpx.Client:
    """The sync gateway's own client: TLS verified, redirects not followed, no cookie jar,
    over urllib3 — unless the environment names an HTTP proxy (``HTTPS_PROXY`` …), which
    httpx's own transport honours (with ``NO_PROXY``) and this one does not."""
    if proxy_in_environment():
        return _Client(None)
    return _Client(Urllib3Transport())


class Urllib3Transport(httpx.BaseTransport):
    """An ``httpx`` transport over urllib3 connection pools (one pool per origin).

    :param ssl_context: the TLS context; by default httpx's verifying one.
    :param maxsize: connections kept alive per origin (more are opened under load and closed
        after use).
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, maxsize: int = 20) -> None:
        self._ssl_context = ssl_context
        self._maxsize = maxsize
        self._pools: dict[tuple[str, str, int], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, url: httpx.URL) -> urllib3.HTTPConnectionPool:
        scheme = url.scheme
        port = url.port or (443 if scheme == "https" else 80)
        key = (scheme, url.host, port)
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._new_pool(scheme, url.host, port)
                self._pools[key] = pool
        return pool

    def _new_pool(self, scheme: str, host: str, port: int) -> urllib3.HTTPConnectionPool:
        options: dict[str, Any] = {"maxsize": self._maxsize, "block": False, "retries": False}
        if scheme == "http":
            return _HTTPPool(host, port, **options)
        if scheme != "https":
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return _HTTPSPool(host, port, ssl_context=self._ssl_context, **options)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once (no retry, no redirect) and return its streamed reply."""
        timeout = request.extensions.get("timeout", {})
        _written.flag = False
        try:
            pool = self._pool(request.url)
            headers, body = _outgoing(request)
            response = pool.urlopen(
                request.method,
                request.url.raw_path.decode("ascii"),
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                timeout=urllib3.Timeout(connect=timeout.get("connect"), read=timeout.get("read")),
                pool_timeout=timeout.get("pool"),
            )
        except _FAILURES as exc:
            error = _failure(exc, _written.flag, request)
        else:
            return httpx.Response(
                response.status,
                headers=list(response.headers.iteritems()),
                stream=_Stream(response, request),
                request=request,
                extensions={
                    "http_version": b"HTTP/1.1" if response.version == 11 else b"HTTP/1.0",
                    "reason_phrase": (response.reason or "").encode("ascii", "replace"),
                },
            )
        # Raised outside the except block: the urllib3 exception (and the frames of its
        # traceback) stay out of the error's context.
        raise error

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


def _outgoing(
    request: httpx.Request,
) -> tuple[dict[str, str] | urllib3.HTTPHeaderDict, _Hidden | bytes | None]:
    """The headers and body urllib3 is given for ``request``.

    Headers: the request's own, and nothing urllib3 or http.client would add (no
    ``User-Agent`` or ``Accept-Encoding: identity`` the request did not carry); a plain dict
    unless a name repeats. Body: one whose length the head declares goes out with the head
    (:class:`_Hidden`); any other is left to urllib3 (chunked …); none is ``None``.
    """
    headers: dict[str, str] | urllib3.HTTPHeaderDict = {}
    names: set[bytes] = set()
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower in names:
            headers = urllib3.HTTPHeaderDict(headers) if isinstance(headers, dict) else headers
            headers.add(name.decode("latin-1"), value.decode("latin-1"))
            continue
        names.add(lower)
        headers[name.decode("latin-1")] = value.decode("latin-1")
    for added, lower in (("User-Agent", b"user-agent"), ("Accept-Encoding", b"accept-encoding")):
        if lower not in names:
            headers[added] = SKIP_HEADER
    content = request.read()
    if not content:
        return headers, None
    if b"content-length" in names and b"transfer-encoding" not in names:
        return headers, _Hidden(content)
    return headers, content
