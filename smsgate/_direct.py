"""What the gateways' own HTTP clients (``_httpclient`` for :class:`~smsgate.Gateway`, ``_aiohttp``
for :class:`~smsgate.AsyncGateway`) share: whether a send may skip httpx's client-level steps
and go straight to the transport, the timeout each such request carries, whether the
environment names a proxy (which only httpx's own transport honours), and the verifying TLS
context they use by default."""

from __future__ import annotations

import ssl
import threading
import urllib.request

import httpx

__all__ = ["RequestTimeouts", "goes_direct", "proxy_in_environment", "verifying_context"]

_default_context: ssl.SSLContext | None = None
_default_context_lock = threading.Lock()


def verifying_context() -> ssl.SSLContext:
    """httpx's verifying TLS context (``httpx.create_ssl_context()``: certificates and host
    names checked against its CA bundle), built on first use and then shared by every client
    of this process that is given none: loading the CA bundle costs tens of milliseconds of
    CPU, which each new gateway (a Celery task's, a test's) paid again. A context is safe to
    share between threads and clients; one built from ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``
    reads them when first built."""
    global _default_context  # noqa: PLW0603 - one per process, built once
    context = _default_context
    if context is None:
        with _default_context_lock:
            context = _default_context
            if context is None:
                context = _default_context = httpx.create_ssl_context()
    return context


def goes_direct(
    client: httpx.Client | httpx.AsyncClient,
    request: httpx.Request,
    *,
    stream: bool,
    auth: object,
    follow_redirects: object,
) -> bool:
    """Whether httpx's ``client.send`` would do nothing but pass ``request`` to the transport:
    a streamed send with no redirects, no authentication (nor credentials in the URL, from
    which httpx would add basic auth) and no event hooks, on an open client."""
    redirects = client.follow_redirects if follow_redirects is httpx.USE_CLIENT_DEFAULT else follow_redirects
    hooks = client.event_hooks
    return (
        stream
        and not client.is_closed
        and not redirects
        and (auth is None or (auth is httpx.USE_CLIENT_DEFAULT and client.auth is None))
        and not hooks["request"]
        and not hooks["response"]
        and not request.url.userinfo
    )


class RequestTimeouts:
    """Gives a direct request the client's timeout, as httpx's own ``send`` would; the
    extension dict is built once per timeout value, not per request."""

    __slots__ = ("_dict", "_seen")

    def __init__(self) -> None:
        self._seen: httpx.Timeout | None = None
        self._dict: dict[str, float | None] = {}

    def stamp(self, request: httpx.Request, timeout: httpx.Timeout) -> None:
        """Set ``request``'s timeout extension to ``timeout`` unless it has one already."""
        if "timeout" in request.extensions:
            return
        if timeout is not self._seen:
            self._seen, self._dict = timeout, timeout.as_dict()
        request.extensions["timeout"] = self._dict


def proxy_in_environment() -> bool:
    """Whether the environment names an HTTP proxy (``HTTPS_PROXY`` …): httpx's own transport
    honours it (with ``NO_PROXY``); the direct transports do not, so the gateways then keep
    httpx's."""
    proxies = urllib.request.getproxies()
    return any(scheme in proxies for scheme in ("http", "https", "all"))
