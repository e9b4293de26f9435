"""The gateways' own HTTP clients verify TLS with httpx's context, built once per process."""

from __future__ import annotations

import asyncio
import ssl

from smsgate._aiohttp import AiohttpTransport
from smsgate._direct import verifying_context
from smsgate._httpclient import HTTPClientTransport


def test_the_default_context_verifies_and_is_built_once() -> None:
    """httpx's verifying context (certificates and host names checked), the same object each
    time: loading the CA bundle cost every new client tens of milliseconds of CPU."""
    context = verifying_context()
    assert context is verifying_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs() or context.cert_store_stats()["x509_ca"] > 0


def test_every_sync_client_given_no_context_shares_it() -> None:
    """Two sync transports' https pools take the shared context; one given a context keeps it."""
    first, second = HTTPClientTransport(), HTTPClientTransport()
    own = ssl.create_default_context()
    given = HTTPClientTransport(ssl_context=own)
    try:
        for transport in (first, second, given):
            transport._new_pool("https", "127.0.0.1", 9)
        assert first._ssl_context is verifying_context()
        assert second._ssl_context is verifying_context()
        assert given._ssl_context is own
    finally:
        for transport in (first, second, given):
            transport.close()


def test_every_async_client_given_no_context_shares_it() -> None:
    """Two aiohttp transports' sessions take the shared context; one given a context keeps it."""
    own = ssl.create_default_context()

    async def contexts() -> list[ssl.SSLContext | None]:
        transports = [AiohttpTransport(), AiohttpTransport(), AiohttpTransport(verify=own)]
        loop = asyncio.get_running_loop()
        try:
            for transport in transports:
                await transport._open(loop)
            return [transport._ssl for transport in transports]
        finally:
            for transport in transports:
                await transport.aclose()

    assert asyncio.run(contexts()) == [verifying_context(), verifying_context(), own]
