"""The only two pieces of code that do provider I/O: a sync and an async flow driver.

Both translate every httpx exception into the smsgate tree at this one boundary
(:func:`translate_transport_error`), the way httpx maps httpcore's exceptions; any other
exception the client's ``send`` or the reply's stream raises (a third-party transport's raw
``OSError`` …) is an uncertain outcome. They are
also the one place that names the provider and operation on an error leaving a flow: a
flow and the wire parsers it calls raise errors without that context, and the driver,
which knows which provider ran the flow, sets ``provider`` and ``operation`` on whatever
:class:`~smsgate.SmsGateError` comes out (and on the ``cause`` of a
:class:`~smsgate.exceptions.PartialSendError`).

A flow is always closed when its driver stops, the way httpx closes an auth flow: a task
cancelled while a request is in flight runs the flow's ``finally`` blocks at once.

Two rules hold whatever the caller's client is configured to do:

* **No redirect is followed.** Each request is sent with ``follow_redirects=False``: a
  request carries credentials (ipyy's password MD5 in the form), and following a 307/308
  would post them to whatever host the reply names. A 3xx reply with a ``Location`` is a
  :class:`~smsgate.exceptions.ProviderError` naming the location's *host* only (the URL may
  carry credentials), with code ``HTTP 3xx``: the request reached the provider, which did
  not act on it.
* **A reply is read up to a cap** (``max_reply_bytes``, :data:`DEFAULT_MAX_REPLY_BYTES`
  unless the provider sets its own). The body is streamed and reading stops past the cap,
  so a hostile or broken server cannot fill the memory; such a reply is a
  :class:`~smsgate.exceptions.MalformedReplyError` (the outcome is uncertain).

A request sent through a client already closed (httpx refuses it with a ``RuntimeError``
before any I/O) is a :class:`~smsgate.exceptions.ConfigurationError`: nothing was sent, where
any other exception of ``send`` would be an uncertain outcome.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import re
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

import httpx

from smsgate._provider import DEFAULT_MAX_REPLY_BYTES, Flow
from smsgate.exceptions import (
    ConfigurationError,
    MalformedReplyError,
    NotSentError,
    PartialSendError,
    ProviderError,
    SmsGateError,
    TransportError,
    UncertainOutcomeError,
)

__all__ = [
    "DEFAULT_MAX_REPLY_BYTES",
    "arun_flow",
    "parsing_reply",
    "run_flow",
    "translate_transport_error",
]

T = TypeVar("T")
log = logging.getLogger("smsgate.transport")

# Exceptions raised before a single byte of the request left this process, or while
# connecting: the provider cannot have seen the request. Order matters only in that
# lookup walks the exception's MRO, so the most specific class wins.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,  # DNS failure, refused, TLS handshake
    httpx.ConnectTimeout,
    httpx.PoolTimeout,  # never got a connection
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,  # request rejected by our own HTTP layer before sending
    httpx.ProxyError,  # the proxy refused to forward
    httpx.InvalidURL,
)
# Everything else may have happened after the provider received the request.
_UNCERTAIN: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.CloseError,
    httpx.RemoteProtocolError,  # e.g. dropped connection after the request was written
    httpx.DecodingError,
    httpx.TooManyRedirects,
    httpx.StreamError,
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.ProtocolError,
    httpx.TransportError,
    httpx.RequestError,
    httpx.HTTPError,
    httpx.CookieConflict,
)
# What the drivers catch while reading a reply: every httpx exception, including the few
# that do not derive from ``httpx.HTTPError`` (a consumed request stream raises
# ``StreamConsumed``, a RuntimeError), so none escapes untranslated. Around ``client.send``
# itself they catch any ``Exception`` (see :func:`_send_failure`).
_HTTPX_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.CookieConflict,
    httpx.StreamError,
)


def translate_transport_error(
    exc: Exception, *, provider: str | None = None, operation: str | None = None
) -> TransportError:
    """Map an httpx exception to :class:`NotSentError` or :class:`UncertainOutcomeError`.

    The original is kept as ``__cause__``. The message names the class only: httpx's own
    text may contain the request URL, and URLs carry credentials on GET-style APIs.
    """
    kind = type(exc).__name__
    for cls in type(exc).__mro__:
        if cls in _NOT_SENT:
            err: TransportError = NotSentError(
                f"request did not reach the provider ({kind})", provider=provider, operation=operation
            )
            break
        if cls in _UNCERTAIN:
            err = UncertainOutcomeError(
                f"no usable reply; the provider may have acted ({kind})",
                provider=provider,
                operation=operation,
            )
            break
    else:
        err = UncertainOutcomeError(
            f"unexpected transport failure ({kind})", provider=provider, operation=operation
        )
    err.__cause__ = exc
    return err


# Replies a flow read completely inside ``parsing_reply``: after that, an exception the flow
# raises is its own bug (building the next request, say), not a reply it could not read.
_parsed: weakref.WeakSet[httpx.Response] = weakref.WeakSet()


def _malformed(response: httpx.Response, exc: Exception) -> MalformedReplyError:
    err = MalformedReplyError(
        f"could not understand the reply ({type(exc).__name__})",
        status_code=response.status_code,
        body_excerpt=response.content,
    )
    err.__cause__ = exc
    return err


def parsing_reply(response: httpx.Response) -> AbstractContextManager[httpx.Response]:
    """Read a reply inside this block: a parser that crashes on it is a malformed reply.

    A flow wraps the parsing of each reply (and nothing else) in it::

        def balance(self) -> Flow[Balance]:
            response = yield build_balance_request(self.settings)
            with smsgate.parsing_reply(response):
                balance = parse_balance_reply(response.content)
            return balance

    Inside the block, an exception that is not an :class:`~smsgate.SmsGateError` (a
    ``KeyError``, an XML syntax error …) becomes a
    :class:`~smsgate.exceptions.MalformedReplyError` carrying the reply's status and the
    first bytes of its body, with the original as ``__cause__``: a reply came, so the
    provider may have acted. Smsgate errors the parser raises (a refusal it recognised)
    pass through unchanged; the driver names the provider and operation on them.

    A reply that repeats a credential of its request (a form field, URL parameter or XML
    element named like ``password``, ``secret``, ``token`` …, as an error page quoting the form
    or a SOAP fault quoting the envelope does) has it
    replaced by ``***`` in the error's args and attributes (the body excerpt, the vendor's
    message, ``raw`` …), and the tracebacks of the error and of what it chains are cut, since
    the parser's frames hold the reply.

    Once the block has read a reply, any other exception the flow raises before its next
    request is a bug in the flow (for example while building that request) and propagates
    as it is. A flow that does not use this block keeps the drivers' older safety net:
    whatever it raises after a reply is taken for a malformed reply.
    """
    return _ParsingReply(response)


class _ParsingReply:
    """:func:`parsing_reply`'s block: a plain context manager, no generator per reply."""

    __slots__ = ("response",)

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def __enter__(self) -> httpx.Response:
        return self.response

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            _parsed.add(self.response)
            return
        if not isinstance(exc, Exception):
            return
        error = exc if isinstance(exc, SmsGateError) else _malformed(self.response, exc)
        echoed = _echoed_secrets(self.response)
        if echoed:
            # The reply quotes a credential the request carried (an error page echoing the
            # form): it stays out of the error, and of the parser's frames (their locals hold
            # the reply), which are cut with the cause.
            _hide(error, echoed)
            _forget(exc, echoed)  # the context of the error raised here, and its own chain
            del echoed  # this frame's locals are the new traceback's
            raise error.with_traceback(None) from None
        if error is not exc:
            raise error from exc


#: Words that make a request parameter a credential (``password``, ``newpassword``, ``pwd`` …).
_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "api_key")


#: An XML element (a SOAP request's ``<ns0:password>`` …) and its text: name, value.
_XML_FIELD = re.compile(r"<(?:[\w.-]+:)?([\w.-]+)>([^<]+)</")


def _echoed_secrets(response: httpx.Response) -> tuple[bytes, ...]:
    """The credentials of ``response``'s request (see :func:`_credentials`) that its body
    repeats; ``()`` when it repeats none."""
    try:
        request = response.request
    except RuntimeError:
        return ()
    body = response.content
    return tuple(secret for secret in _credentials(request) if secret in body)


def _credentials(request: httpx.Request) -> list[bytes]:
    """The credentials ``request`` carries: form fields, URL parameters and XML elements named
    like one, four bytes or more, as sent and unescaped; empty for a body not yet read."""
    try:
        # latin-1 both ways: each field as the bytes it was sent as, whatever its charset.
        content = request.content.decode("latin-1")
        query = request.url.query.decode("latin-1")
    except (RuntimeError, httpx.RequestNotRead):
        return []
    fields = urllib.parse.parse_qsl(content + "&" + query, encoding="latin-1")
    fields += [(name, text) for name, text in _XML_FIELD.findall(content)]
    fields += [(name, html.unescape(text)) for name, text in fields if "&" in text]
    found = []
    for key, value in fields:
        secret = value.encode("latin-1", "replace")
        if len(secret) >= 4 and any(word in key.lower() for word in _SECRET_WORDS):
            found.append(secret)
    return found


def _refused_as_closed(exc: Exception, client: httpx.Client | httpx.AsyncClient) -> bool:
    """Whether ``exc`` is httpx's refusal to send on a closed client: raised by ``send``
    before any I/O (checked only once ``send`` failed, so a send costs nothing more)."""
    return (
        type(exc) is RuntimeError
        and client.is_closed
        and str(exc).startswith("Cannot send a request, as the client has been closed")
    )


def _closed_client() -> ConfigurationError:
    """The error for a request never sent because the client was closed before it: nothing
    left the process (httpx's own refusal, a RuntimeError from ``send``, would read as an
    uncertain outcome, and a message never sent would not be sent again)."""
    return ConfigurationError(
        "the HTTP client is closed, so the request was not sent: a client passed to a gateway "
        "stays the caller's to close, after the gateway's last call"
    )


def _send_failure(
    exc: Exception, request: httpx.Request, provider: str | None, operation: str | None
) -> TransportError:
    """What ``client.send`` raised, classified by :func:`translate_transport_error`.

    Anything but an httpx error (a raw ``OSError``, ``ValueError`` … from a third-party
    transport that does not wrap its failures) is uncertain: the request may have gone. Its
    text may quote the request, so the request's credentials (and its whole body) are masked
    in its args and those of what it chains, and their tracebacks cut: the transport's frames
    hold the request. ``BaseException`` alone (``KeyboardInterrupt``, a cancellation) is never
    caught.
    """
    if not isinstance(exc, _HTTPX_ERRORS):
        secrets = _credentials(request)
        with contextlib.suppress(RuntimeError, httpx.RequestNotRead):
            if len(request.content) >= 4:
                secrets.insert(0, request.content)  # the whole body first, then its fields
        _forget(exc, tuple(secrets))
    return translate_transport_error(exc, provider=provider, operation=operation)


def _forget(exc: BaseException, secrets: tuple[bytes, ...]) -> None:
    """Hide ``secrets`` in the args of ``exc`` and of every error it chains, and cut their
    tracebacks (the frames that read the reply hold it as a local)."""
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.args = _hidden(current.args, secrets)
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]


def _hide(error: SmsGateError, secrets: tuple[bytes, ...]) -> None:
    """Replace each of ``secrets`` by ``***`` in ``error``'s args and attributes."""
    error.args = tuple(_hidden(arg, secrets) for arg in error.args)
    for name, value in vars(error).items():
        setattr(error, name, _hidden(value, secrets))


def _hidden(value: Any, secrets: tuple[bytes, ...]) -> Any:
    if isinstance(value, bytes):
        for secret in secrets:
            value = value.replace(secret, b"***")
    elif isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret.decode("latin-1"), "***")
            with contextlib.suppress(UnicodeDecodeError):  # a UTF-8 value, read as text
                value = value.replace(secret.decode("utf-8"), "***")
    elif type(value) in (list, tuple):
        value = type(value)(_hidden(item, secrets) for item in value)
    elif isinstance(value, dict):
        value = {_hidden(key, secrets): _hidden(item, secrets) for key, item in value.items()}
    return value


def _redirect(response: httpx.Response) -> ProviderError | None:
    """The error for a redirect reply (3xx with a ``Location``), which is never followed."""
    if not 300 <= response.status_code < 400:
        return None
    location = response.headers.get("Location")
    if location is None:
        return None
    try:
        host = httpx.URL(location).host
    except (httpx.InvalidURL, ValueError, TypeError):
        host = "an unreadable location"
    # A relative Location points back at the same host.
    host = host or response.request.url.host
    status = response.status_code
    return ProviderError(
        f"the provider answered HTTP {status}, redirecting to {host[:100]}; smsgate never follows "
        "a redirect (the request carries credentials): check the provider's base URL",
        code=f"HTTP {status}",
    )


class _Framing:
    """What a reply's headers say about its body, read in one pass over them: the
    ``Content-Length`` (as ``headers.get`` gives it: several are joined with ", "), and
    whether a ``Content-Encoding`` or a ``Transfer-Encoding`` is named."""

    __slots__ = ("chunked", "encoded", "length")

    def __init__(self, response: httpx.Response) -> None:
        lengths: list[bytes] = []
        self.encoded = self.chunked = False
        for name, value in response.headers.raw:
            lowered = name.lower()
            if lowered == b"content-length":
                lengths.append(value)
            elif lowered == b"content-encoding":
                self.encoded = True
            elif lowered == b"transfer-encoding":
                self.chunked = True
        self.length = b", ".join(lengths).decode("latin-1") if lengths else None


def _declared_size(framing: _Framing) -> int | None:
    length = (framing.length or "").strip()
    return int(length) if length.isascii() and length.isdigit() and len(length) < 19 else None


def _too_large(response: httpx.Response, limit: int, head: bytes = b"") -> MalformedReplyError:
    return MalformedReplyError(
        f"the reply is larger than max_reply_bytes ({limit}); it was not read to the end",
        status_code=response.status_code,
        body_excerpt=head,
    )


def _refusal(response: httpx.Response, framing: _Framing, limit: int) -> SmsGateError | None:
    """What a reply means before its body is read: a redirect, or a declared size over the cap."""
    redirect = _redirect(response)
    if redirect is not None:
        return redirect
    size = _declared_size(framing)
    return _too_large(response, limit) if size is not None and size > limit else None


class _Body:
    """A reply's decoded body, collected chunk by chunk up to ``limit`` bytes."""

    def __init__(self, response: httpx.Response, framing: _Framing, limit: int) -> None:
        self.response = response
        self.framing = framing
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0

    def take(self, chunk: bytes) -> bool:
        """Keep ``chunk``; False once the body is over the cap (the chunk is dropped)."""
        self.size += len(chunk)
        if self.size > self.limit:
            return False
        self.chunks.append(chunk)
        return True

    def too_large(self) -> MalformedReplyError:
        """The error for a body over the cap, with its first bytes."""
        return _too_large(self.response, self.limit, b"".join(self.chunks)[:200])

    def reply(self) -> httpx.Response:
        """The reply as flows read it: status, headers and the whole (decoded) body."""
        original = self.response
        content = b"".join(self.chunks)
        if _describes(original, self.framing, content):
            # Its headers already say what a rebuilt reply's would: the transport's reply
            # itself, with the body in hand (building a second one cost a twentieth of a send).
            original._content = content
            original._num_bytes_downloaded = len(content)
            original.is_stream_consumed = True
            return original
        # The body is decoded already: its encoding and framing headers no longer apply.
        headers = [
            (name, value)
            for name, value in original.headers.raw
            if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
        ]
        if content:
            headers.append((b"Content-Length", str(len(content)).encode()))
        reply = httpx.Response(
            original.status_code,
            headers=headers,
            stream=httpx.ByteStream(content),
            request=original.request,
            extensions={k: v for k, v in original.extensions.items() if k in _KEPT_EXTENSIONS},
        )
        # The state ``Response(content=...)`` leaves, without running the bytes in hand through
        # httpx's decoder and chunkers a second time (that pass cost as much as parsing the reply).
        # httpx has no public way to hand a response bytes already read: ``content=`` (or a
        # ``ByteStream`` and ``read()``, on this reply or the transport's) runs that pass: a
        # reply's step cost ~100k-150k instructions that way against ~19k (the transport's reply
        # kept) or ~57k (rebuilt) this way (callgrind, httpx 0.28, a 210-byte ipyy reply).
        # tests/test_driver_replies.py pins what a flow can read of either reply.
        reply._content = content
        reply._num_bytes_downloaded = len(content)
        reply.is_stream_consumed = reply.is_closed = True
        return reply


_KEPT_EXTENSIONS = ("http_version", "reason_phrase")


def _describes(response: httpx.Response, framing: _Framing, content: bytes) -> bool:
    """Whether ``response`` (its body read as ``content``) is already what :meth:`_Body.reply`
    would rebuild: no encoding or framing header to drop, a ``Content-Length`` that is the
    body's, and no extension but those a rebuilt reply keeps."""
    return (
        bool(content)
        and framing.length == str(len(content))
        and not framing.encoded
        and not framing.chunked
        and all(name in _KEPT_EXTENSIONS for name in response.extensions)
    )


def _chunks(response: httpx.Response, framing: _Framing) -> Iterator[bytes]:
    """The sync twin of :func:`_achunks`: with no ``Content-Encoding``, the transport's own
    chunks, without httpx's identity decoder and chunkers in between."""
    if framing.encoded or not isinstance(response.stream, httpx.SyncByteStream):
        return response.iter_bytes()
    response.is_stream_consumed = True
    return iter(response.stream)


def _exchange(
    client: httpx.Client, request: httpx.Request, limit: int, provider: str | None, operation: str | None
) -> httpx.Response | SmsGateError:
    """Send one request (never following a redirect) and read its reply up to ``limit`` bytes."""
    try:
        response = client.send(request, stream=True, follow_redirects=False)
    except Exception as exc:
        if _refused_as_closed(exc, client):
            return _closed_client()
        return _send_failure(exc, request, provider, operation)
    try:
        try:
            framing = _Framing(response)
            refused = _refusal(response, framing, limit)
            if refused is not None:
                return refused
            body = _Body(response, framing, limit)
            for chunk in _chunks(response, framing):
                if not body.take(chunk):
                    return body.too_large()
            return body.reply()
        finally:
            response.close()
    except Exception as exc:  # the request went: whatever reading its reply raised is uncertain
        return _send_failure(exc, request, provider, operation)


def _achunks(response: httpx.Response, framing: _Framing) -> AsyncIterator[bytes]:
    """A reply's body as it arrives, decoded: with no ``Content-Encoding`` the transport's own
    chunks are the decoded body, so they are read as they come, without httpx's identity
    decoder and chunkers in between (each a generator step per chunk)."""
    if framing.encoded or not isinstance(response.stream, httpx.AsyncByteStream):
        return response.aiter_bytes()
    response.is_stream_consumed = True
    return response.stream.__aiter__()


async def _aexchange(
    client: httpx.AsyncClient, request: httpx.Request, limit: int, provider: str | None, operation: str | None
) -> httpx.Response | SmsGateError:
    """The async twin of :func:`_exchange`."""
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
    except Exception as exc:
        if _refused_as_closed(exc, client):
            return _closed_client()
        return _send_failure(exc, request, provider, operation)
    try:
        try:
            framing = _Framing(response)
            refused = _refusal(response, framing, limit)
            if refused is not None:
                return refused
            body = _Body(response, framing, limit)
            async for chunk in _achunks(response, framing):
                if not body.take(chunk):
                    return body.too_large()
            return body.reply()
        finally:
            await response.aclose()
    except Exception as exc:  # the request went: whatever reading its reply raised is uncertain
        return _send_failure(exc, request, provider, operation)


def _stamp(error: SmsGateError, provider: str | None, operation: str | None) -> None:
    """Name the provider and operation on an error leaving a flow (and on a partial send's cause)."""
    for err in (error, error.cause) if isinstance(error, PartialSendError) else (error,):
        if provider is not None:
            err.provider = provider
        if operation is not None:
            err.operation = operation


class _Driving:
    """Around one run of a flow: name provider and operation on the error that leaves it,
    and close the flow in any case (a no-op once it has finished). A class rather than a
    ``@contextmanager``: no generator to start and finish per run."""

    __slots__ = ("flow", "operation", "provider")

    def __init__(self, flow: Flow[Any], provider: str | None, operation: str | None) -> None:
        self.flow = flow
        self.provider = provider
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        try:
            if isinstance(error, SmsGateError):
                _stamp(error, self.provider, self.operation)
        finally:
            self.flow.close()


@functools.lru_cache(maxsize=32)
def _timeouts(seconds: float) -> dict[str, float | None]:
    """httpx's per-request ``timeout`` extension for ``seconds``: one dict per value, shared
    by every request (transports read it, none changes it)."""
    return httpx.Timeout(seconds).as_dict()


class _Done(Generic[T]):
    """What a flow returned. A plain class: an attrs class costs ~1 ms more of ``import
    smsgate`` (its generated methods are compiled), for a box no one compares or prints."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


def _advance(
    flow: Flow[T],
    outcome: httpx.Response | SmsGateError | None,
    timeout: float | None,
    provider: str | None,
) -> httpx.Request | _Done[T]:
    """Feed the last outcome into ``flow``; return its next request (prepared) or its result."""
    try:
        if outcome is None:
            request = next(flow)
        elif isinstance(outcome, SmsGateError):
            request = flow.throw(outcome)
        else:
            request = flow.send(outcome)
    except StopIteration as stop:
        return _Done(stop.value)
    except SmsGateError:
        raise
    except Exception as exc:
        # The fallback for flows that do not read replies inside ``parsing_reply``.
        if not isinstance(outcome, httpx.Response) or outcome in _parsed:
            raise
        raise _malformed(outcome, exc) from exc
    if timeout is not None and "timeout" not in request.extensions:
        request.extensions["timeout"] = _timeouts(timeout)
    if log.isEnabledFor(logging.DEBUG):
        # The path only: query strings of GET-style APIs can carry credentials.
        log.debug("%s %s %s", provider, request.method, request.url.path)
    return request


def run_flow(
    flow: Flow[T],
    client: httpx.Client,
    *,
    provider: str | None = None,
    operation: str | None = None,
    timeout: float | None = None,
    max_reply_bytes: int | None = None,
) -> T:
    """Drive ``flow`` to completion over a sync ``client``; return its result.

    Redirects are never followed, whatever the client's ``follow_redirects``, and a reply is
    read up to ``max_reply_bytes`` (see the module's docstring).

    :param provider: the name of the provider whose flow this is, set on any error leaving it.
    :param operation: the operation (``"send"``, ``"balance"`` …), set on any error leaving it.
    :param timeout: seconds allowed per request, unless a request sets its own.
    :param max_reply_bytes: the largest reply body read (decoded); ``None``:
        :data:`DEFAULT_MAX_REPLY_BYTES`.
    """
    limit = max_reply_bytes or DEFAULT_MAX_REPLY_BYTES
    with _Driving(flow, provider, operation):
        step = _advance(flow, None, timeout, provider)
        while not isinstance(step, _Done):
            outcome = _exchange(client, step, limit, provider, operation)
            step = _advance(flow, outcome, timeout, provider)
        return step.value


async def arun_flow(
    flow: Flow[T],
    client: httpx.AsyncClient,
    *,
    provider: str | None = None,
    operation: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - per-request HTTP timeout, not a deadline
    max_reply_bytes: int | None = None,
) -> T:
    """Drive ``flow`` to completion over an async ``client``; return its result.

    The arguments are those of :func:`run_flow`. A cancelled task closes the flow.
    """
    limit = max_reply_bytes or DEFAULT_MAX_REPLY_BYTES
    with _Driving(flow, provider, operation):
        step = _advance(flow, None, timeout, provider)
        while not isinstance(step, _Done):
            outcome = await _aexchange(client, step, limit, provider, operation)
            step = _advance(flow, outcome, timeout, provider)
        return step.value
