"""An httpx transport over aiohttp that keeps smsgate's "sent or not" classification exact.

httpx's own async transport spends most of a request in httpcore's connection-pool
bookkeeping (encode/httpcore#1035); aiohttp's connector is several times faster. This module
lets :class:`~smsgate.AsyncGateway` keep httpx's client (requests, replies, the drivers'
streaming cap) while aiohttp moves the bytes. It needs the ``smsgate[aiohttp]`` extra and is
imported only when aiohttp is installed.

What a failure means is decided by :func:`smsgate.translate_transport_error` from the httpx
class it gets, so the one rule of this module is that **only a failure where the request
surely never left is reported as a connect or pool error** (DNS, a refused or reset connect,
a TLS handshake, the connect or pool-acquire timeout). Everything that can happen once the
request may have been written — the server closing the connection without a reply, a read
timeout, a broken or truncated reply, a socket error on an open connection — becomes a
read, write or protocol error, which the drivers report as *uncertain* and never resend.
(``httpx-aiohttp`` 0.2.0 reports "the server read the request, then closed" as a connect
timeout, which would turn into a duplicate message.)

Besides that it keeps httpx's behaviour where it matters to smsgate:

* aiohttp never resends a request by itself: its silent retry of an idempotent request on
  a dropped keep-alive connection (a GET-style send) is stopped by a middleware;
* a URL no connection can be made to (a port outside 1-65535) is refused before connecting,
  as ``httpx.InvalidURL`` (not sent);
* redirects are never followed here (httpx decides, and the drivers ask it not to);
* TLS is verified with the context httpx would build (certifi, or ``SSL_CERT_FILE`` /
  ``SSL_CERT_DIR``);
* the per-request timeouts httpx puts on each request (``connect``, ``read``, ``pool``) are
  applied, the read timeout between any two reads as in httpx;
* no cookie is kept here (httpx's client keeps its own jar, as with its own transport), no
  header is added that httpx did not put on the request, the body is not decompressed here
  (httpx decodes it), and the reply is streamed as it arrives, so a reader that stops at a
  size cap stops the download there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.cookiejar
import ssl
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from yarl import URL

from smsgate._direct import RequestTimeouts, goes_direct, proxy_in_environment, verifying_context

if TYPE_CHECKING:
    from httpx._client import UseClientDefault
    from httpx._types import AuthTypes

__all__ = ["AiohttpClient", "AiohttpTransport", "async_client"]

# Failures before the request could have been written, most specific first.
_CONNECT_FAILURES: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # pool acquire or connect
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # DNS, refused, reset, TLS handshake
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidUrlClientError, httpx.UnsupportedProtocol),
)
# Failures once the request may have reached the server.
_AFTER_SEND: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientConnectionResetError, httpx.WriteError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # an unreadable status line or header
    (aiohttp.ClientOSError, httpx.ReadError),
    (TimeoutError, httpx.ReadTimeout),
    (OSError, httpx.ReadError),
    (aiohttp.ClientError, httpx.TransportError),
)
# A request body this small is handed to the socket without waiting (aiohttp's writer drains
# past 64 KiB, http_writer's LIMIT; half of it leaves room for the head).
_BUFFERED = 2**15
# Headers aiohttp would add when httpx left them out; the request goes out as httpx built it.
_NO_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
# A URL's port is below this (and above 0): a larger one is refused before connecting.
_PORTS = 65536


def _translated(exc: BaseException, request: httpx.Request | None = None) -> Exception:
    """The httpx error for an aiohttp failure (``exc`` itself: not a transport failure)."""
    for table in (_CONNECT_FAILURES, _AFTER_SEND):
        for source, target in table:
            if isinstance(exc, source):
                # The class only: aiohttp's messages name the URL, which may carry credentials.
                return target(f"{type(exc).__name__} (aiohttp)", request=request)
    return exc  # type: ignore[return-value]


async def _never_resend(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """aiohttp middleware: a failure after the connection was made leaves aiohttp as an httpx
    error, so its retry of idempotent requests on a dropped connection never runs."""
    try:
        return await handler(request)
    except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError):
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        error = _translated(exc)
    # Raised outside the except block, as every translated error here: the aiohttp exception
    # and its frames (whose locals hold the request body) stay out of the error's context.
    raise error


class _ReplyStream(httpx.AsyncByteStream):
    """An aiohttp reply body as httpx reads it: chunks as they arrive, errors translated;
    closing it sets the reply's ``elapsed`` (as httpx's client does)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request, started: float) -> None:
        self._response = response
        self._request = request
        self._started = started
        self.reply: httpx.Response | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        """The next chunk as it arrived (a class, not an async generator: one step less per chunk)."""
        try:
            chunk = await self._response.content.readany()
        except Exception as exc:
            error = _translated(exc, self._request)
        else:
            if chunk:
                return chunk
            raise StopAsyncIteration
        raise error

    async def aclose(self) -> None:
        if self.reply is not None:
            self.reply.elapsed = dt.timedelta(seconds=time.perf_counter() - self._started)
        # A body not read to its end closes the connection; a complete one goes back to the pool.
        if self._response.content.is_eof():
            self._response.release()
        else:
            self._response.close()


def _timeouts(extension: dict[str, float | None]) -> tuple[aiohttp.ClientTimeout, float | None]:
    """httpx's per-request timeouts as aiohttp's: ``connect`` bounds the socket connect,
    ``pool`` plus ``connect`` the wait for a connection, ``read`` each read once the request
    is written. aiohttp has no write timeout, so the wait for the reply's head as a whole is
    bounded by the four together (the second value): a server that stops reading the request
    cannot hold a send forever."""
    connect, pool, read = extension.get("connect"), extension.get("pool"), extension.get("read")
    acquire = None if connect is None or pool is None else connect + pool
    timeout = aiohttp.ClientTimeout(total=None, connect=acquire, sock_connect=connect, sock_read=read)
    parts = [extension.get(k) for k in ("connect", "read", "write", "pool")]
    return timeout, None if None in parts else sum(p for p in parts if p is not None)


def _stalled(request: httpx.Request) -> httpx.WriteTimeout:
    return httpx.WriteTimeout("no reply within the request's timeouts (aiohttp)", request=request)


class _Body(aiohttp.BytesPayload):
    """A request body for aiohttp; its repr hides it (a form may hold credentials, and error
    reporters capture the locals of the frames an error passes, aiohttp's among them)."""

    def __repr__(self) -> str:
        return f"<request body, {self.size} bytes>"


def _payload(request: httpx.Request) -> _Body | None:
    """The request's body as aiohttp sends it (``httpx.RequestNotRead``: it is still a stream)."""
    content = request.content
    return _Body(content) if content else None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that sends over an ``aiohttp.ClientSession``.

    Give it to ``httpx.AsyncClient(transport=...)``, or use :class:`AiohttpClient`. The
    session is opened on the first request, in the running event loop, and closed by
    :meth:`aclose` (which the client calls when it is closed). A transport serves one event
    loop at a time: once that loop is closed, the next request opens a new session.

    :param verify: ``True`` (verify with the context httpx builds by default), or an
        ``ssl.SSLContext``; never ``False``.
    :param limits: the connection limits (``max_connections``, ``keepalive_expiry``).
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None) -> None:
        if verify is False:
            raise ValueError("smsgate never sends without verifying TLS certificates")
        # httpx's verifying context is built on the first request (loading the CA bundle takes
        # tens of milliseconds; a gateway that never sends over HTTP never needs it).
        self._ssl: ssl.SSLContext | None = None if verify is True else verify
        self._limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[tuple[float | None, ...], tuple[aiohttp.ClientTimeout, float | None]] = {}
        self._last_extension: object = None
        self._last_timeout: tuple[aiohttp.ClientTimeout, float | None] = (aiohttp.ClientTimeout(), None)
        self._last_url: httpx.URL | None = None
        self._last_yarl = URL()

    async def _open(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        """A new session in ``loop`` (the first request, or the previous loop was closed)."""
        session = self._session
        if session is not None and self._loop is not None and loop is not self._loop:
            if not self._loop.is_closed():
                raise RuntimeError("this HTTP client is in use by another event loop")
            await session.close()  # its loop is gone: nothing left to wait for
        if self._ssl is None:
            self._ssl = verifying_context()
        connector = aiohttp.TCPConnector(
            ssl=self._ssl,
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_NO_AUTO_HEADERS,
            auto_decompress=False,
            trust_env=False,
            middlewares=(_never_resend,),
        )
        self._session, self._loop = session, loop
        return session

    def _timeout(self, request: httpx.Request) -> tuple[aiohttp.ClientTimeout, float | None]:
        extension = request.extensions.get("timeout") or {}
        if extension is self._last_extension:  # the drivers and the client reuse one dict
            return self._last_timeout
        key = tuple(extension.get(k) for k in ("connect", "read", "write", "pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            if len(self._timeouts) > 64:
                self._timeouts.clear()
            timeout = self._timeouts[key] = _timeouts(extension)
        self._last_extension, self._last_timeout = extension, timeout
        return timeout

    def _url(self, request: httpx.Request) -> URL:
        """The request's URL for aiohttp; one no connection can be made to (a port outside
        1-65535, which yarl refuses with a ValueError, or port 0) is an ``httpx.InvalidURL``:
        refused before connecting, so not sent."""
        url = request.url
        if url is not self._last_url:  # a provider reuses its URL objects
            port = url.port
            if port is not None and not 0 < port < _PORTS:
                raise httpx.InvalidURL(f"port {port} is out of range (1-{_PORTS - 1})")
            try:
                converted = URL(str(url), encoded=True)
            except ValueError:
                converted = None  # raised below, without yarl's message (it quotes the URL)
            if converted is None:
                raise httpx.InvalidURL("the URL cannot be used (yarl refused it)")
            self._last_url, self._last_yarl = url, converted
        return self._last_yarl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its reply with the body still to be read."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or loop is not self._loop or session.closed:
            session = await self._open(loop)
        # As pairs: aiohttp copies them into its own header dict anyway.
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        try:
            body = _payload(request)
        except httpx.RequestNotRead:  # a streamed body: read whole, sent with its length
            await request.aread()
            body = _payload(request)
            if "Transfer-Encoding" in request.headers:
                headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
                headers.append(("Content-Length", str(body.size if body is not None else 0)))
        timeout, deadline = self._timeout(request)
        sending = session.request(
            request.method,
            self._url(request),
            headers=headers,
            data=body,
            allow_redirects=False,
            timeout=timeout,
            server_hostname=request.extensions.get("sni_hostname"),
        )
        # A body aiohttp buffers whole is written at once and its read timeout starts at once:
        # only a larger one can stall, and only then is the deadline armed.
        small = body is None or (body.size or 0) <= _BUFFERED
        limit = None if deadline is None or small else asyncio.timeout(deadline)
        try:
            if limit is None:
                response = await sending
            else:
                async with limit:
                    response = await sending
        except httpx.TransportError:
            raise
        except Exception as exc:
            # Past the whole deadline the request may have been (partly) written: uncertain.
            error = _stalled(request) if limit is not None and limit.expired() else _translated(exc, request)
        else:
            return self._reply(response, request, started)
        raise error

    @staticmethod
    def _reply(response: aiohttp.ClientResponse, request: httpx.Request, started: float) -> httpx.Response:
        version = response.version or aiohttp.HttpVersion11
        extensions: dict[str, object] = {"http_version": b"HTTP/%d.%d" % (version.major, version.minor)}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        stream = _ReplyStream(response, request, started)
        stream.reply = httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=stream,
            request=request,
            extensions=extensions,
        )
        return stream.reply

    async def aclose(self) -> None:
        """Close the aiohttp session and its connections."""
        session, self._session = self._session, None
        if session is not None and self._loop is not None and not self._loop.is_closed():
            await session.close()


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A cookie policy that accepts none: each request stands alone (it carries its credentials)."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class AiohttpClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` over :class:`AiohttpTransport` that keeps no cookie.

    A request sent with ``stream=True`` and neither redirects, authentication nor event hooks
    (how smsgate's drivers send) goes straight to the transport: the client-level steps it
    would pass through (auth flow, redirect loop, hooks, cookie jar, logging the URL, which
    may carry credentials) have nothing to do for it and cost as much as the transport itself.
    Any other use is httpx's own ``send``.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
        timeout: httpx.Timeout | float | None = 5.0,
    ) -> None:
        self._aiohttp = AiohttpTransport(verify=verify, limits=limits)
        jar = http.cookiejar.CookieJar(policy=_NoCookies())
        super().__init__(
            transport=self._aiohttp, follow_redirects=False, cookies=jar, timeout=timeout, trust_env=False
        )
        self._timeouts = RequestTimeouts()

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Send ``request`` (see the class docstring for the direct path)."""
        if not goes_direct(self, request, stream=stream, auth=auth, follow_redirects=follow_redirects):
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        self._timeouts.stamp(request, self.timeout)
        return await self._aiohttp.handle_async_request(request)


def async_client() -> httpx.AsyncClient:
    """The async gateway's own client: TLS verified, redirects not followed, over aiohttp —
    unless the environment names an HTTP proxy (``HTTPS_PROXY`` …), which httpx's own
    transport honours (with ``NO_PROXY``) and this one does not."""
    if proxy_in_environment():
        return httpx.AsyncClient(verify=True, follow_redirects=False)
    return AiohttpClient()
