"""The only two pieces of code that do provider I/O: a sync and an async flow driver.

Both translate every httpx exception into the smsgate tree at this one boundary
(:func:`translate_transport_error`), the way httpx maps httpcore's exceptions.
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

import attrs
import httpx

from smsgate._provider import Flow
from smsgate.exceptions import (
    MalformedReplyError,
    NotSentError,
    SmsGateError,
    TransportError,
    UncertainOutcomeError,
)

__all__ = ["arun_flow", "run_flow", "translate_transport_error"]

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
# What the drivers catch around ``client.send``: every httpx exception, including the few
# that do not derive from ``httpx.HTTPError`` (a consumed request stream raises
# ``StreamConsumed``, a RuntimeError), so none escapes untranslated.
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


def _prepare(request: httpx.Request, seconds: float | None, provider: str | None) -> None:
    if seconds is not None and "timeout" not in request.extensions:
        request.extensions["timeout"] = httpx.Timeout(seconds).as_dict()
    # The path only: query strings of GET-style APIs can carry credentials.
    log.debug("%s %s %s", provider, request.method, request.url.path)


@attrs.frozen
class _Done(Generic[T]):
    value: T


def _advance(
    flow: Flow[T],
    outcome: httpx.Response | TransportError | None,
    provider: str | None,
    operation: str | None,
) -> httpx.Request | _Done[T]:
    """Feed the last outcome into ``flow``; return its next request or its result.

    A parser that crashes on a reply (anything but an smsgate error) becomes a
    :class:`MalformedReplyError`: a reply came, so the provider may have acted.
    """
    try:
        if outcome is None:
            return next(flow)
        if isinstance(outcome, TransportError):
            return flow.throw(outcome)
        return flow.send(outcome)
    except StopIteration as stop:
        return _Done(stop.value)
    except SmsGateError:
        raise
    except Exception as exc:
        if not isinstance(outcome, httpx.Response):
            raise
        err = MalformedReplyError(
            f"could not understand the reply ({type(exc).__name__})",
            status_code=outcome.status_code,
            body_excerpt=outcome.content,
            provider=provider,
            operation=operation,
        )
        raise err from exc


def run_flow(
    flow: Flow[T],
    client: httpx.Client,
    *,
    provider: str | None = None,
    operation: str | None = None,
    timeout: float | None = None,
) -> T:
    """Drive ``flow`` to completion over a sync ``client``; return its result."""
    step = _advance(flow, None, provider, operation)
    while not isinstance(step, _Done):
        _prepare(step, timeout, provider)
        outcome: httpx.Response | TransportError
        try:
            outcome = client.send(step)
        except _HTTPX_ERRORS as exc:
            outcome = translate_transport_error(exc, provider=provider, operation=operation)
        step = _advance(flow, outcome, provider, operation)
    return step.value


async def arun_flow(
    flow: Flow[T],
    client: httpx.AsyncClient,
    *,
    provider: str | None = None,
    operation: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - per-request HTTP timeout, not a deadline
) -> T:
    """Drive ``flow`` to completion over an async ``client``; return its result."""
    step = _advance(flow, None, provider, operation)
    while not isinstance(step, _Done):
        _prepare(step, timeout, provider)
        outcome: httpx.Response | TransportError
        try:
            outcome = await client.send(step)
        except _HTTPX_ERRORS as exc:
            outcome = translate_transport_error(exc, provider=provider, operation=operation)
        step = _advance(flow, outcome, provider, operation)
    return step.value
