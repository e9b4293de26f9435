"""A transport the application passes that raises something other than an httpx error while a
request is in flight (a raw ``OSError``, ``ValueError`` …, as a third-party transport may): the
request may have gone, so the outcome is uncertain, never resent nor failed over unless the
caller opted in, the original kept as the cause and the credential in no frame, message or
args. ``KeyboardInterrupt`` and a cancellation pass through as they are.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.testing import frames_with_secrets
from tests.loopback_support import araised, raised
from tests.test_sync_transport import PASSWORD, SMS, FormProvider

RAISED = [OSError, ValueError, RuntimeError]


class Transport:
    """Raises ``error`` for provider ``a``'s requests, holding the body (and so the credential)
    as a local and in the error's message; answers ``OK 1`` to any other. Counts calls per path."""

    def __init__(self, error: type[BaseException]) -> None:
        self.error = error
        self.calls: list[str] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        body = request.content
        if request.url.path.startswith("/a/"):
            raise self.error(f"could not write {body!r}")
        return httpx.Response(200, content=b"OK 1")


class SyncTransport(Transport, httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.answer(request)


class AsyncTransport(Transport, httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.answer(request)


def check_uncertain(error: Exception, raised_type: type[BaseException]) -> None:
    assert isinstance(error, errors.UncertainOutcomeError), repr(error)
    assert error.provider == "a"
    assert type(error.__cause__) is raised_type
    assert PASSWORD not in str(error)
    assert PASSWORD not in repr(error.args)
    assert PASSWORD not in str(error.__cause__)
    assert frames_with_secrets(error, [PASSWORD]) == []


def sync_gateway(transport: httpx.BaseTransport, **options: Any) -> smsgate.Gateway:
    providers = [FormProvider(name, f"http://127.0.0.1:9/{name}/") for name in "ab"]
    options.setdefault("retry", smsgate.RetryPolicy(attempts=3))
    return smsgate.Gateway(
        providers, client=httpx.Client(transport=transport), sleep=lambda _s: None, **options
    )


def async_gateway(transport: httpx.AsyncBaseTransport, **options: Any) -> smsgate.AsyncGateway:
    async def no_sleep(_seconds: float) -> None:
        await asyncio.sleep(0)

    providers = [FormProvider(name, f"http://127.0.0.1:9/{name}/") for name in "ab"]
    options.setdefault("retry", smsgate.RetryPolicy(attempts=3))
    return smsgate.AsyncGateway(
        providers, client=httpx.AsyncClient(transport=transport), sleep=no_sleep, **options
    )


@pytest.mark.parametrize("where", ["send", "reply"])  # the client's send, or the reply's stream
@pytest.mark.parametrize("raised_type", RAISED)
def test_sync_a_raw_transport_error_is_uncertain_and_never_resent(
    raised_type: type[Exception], where: str
) -> None:
    transport = BrokenReplies(raised_type) if where == "reply" else SyncTransport(raised_type)
    with sync_gateway(transport) as gw:
        error = raised(lambda: gw.send(SMS))
    check_uncertain(error, raised_type)
    assert transport.calls == ["/a/send"]


@pytest.mark.parametrize("where", ["send", "reply"])
@pytest.mark.parametrize("raised_type", RAISED)
async def test_async_a_raw_transport_error_is_uncertain_and_never_resent(
    raised_type: type[Exception], where: str
) -> None:
    transport = BrokenReplies(raised_type) if where == "reply" else AsyncTransport(raised_type)
    async with async_gateway(transport) as gw:
        error = await araised(lambda: gw.send(SMS))
    check_uncertain(error, raised_type)
    assert transport.calls == ["/a/send"]


def test_sync_failover_on_uncertain_covers_a_raw_transport_error() -> None:
    """The documented opt-in fails over on it as on any uncertain outcome."""
    transport = SyncTransport(OSError)
    with sync_gateway(transport, failover_on_uncertain=True) as gw:
        receipt = gw.send(SMS)
    assert receipt.provider == "b"
    assert transport.calls == ["/a/send", "/b/send"]


async def test_async_failover_on_uncertain_covers_a_raw_transport_error() -> None:
    transport = AsyncTransport(OSError)
    async with async_gateway(transport, failover_on_uncertain=True) as gw:
        receipt = await gw.send(SMS)
    assert receipt.provider == "b"
    assert transport.calls == ["/a/send", "/b/send"]


def test_sync_keyboard_interrupt_passes_through() -> None:
    transport = SyncTransport(KeyboardInterrupt)
    with sync_gateway(transport) as gw, pytest.raises(KeyboardInterrupt) as info:
        gw.send(SMS)
    assert info.value.__cause__ is None
    assert transport.calls == ["/a/send"]


async def test_async_cancellation_and_keyboard_interrupt_pass_through() -> None:
    for error in (asyncio.CancelledError, KeyboardInterrupt):
        transport = AsyncTransport(error)
        async with async_gateway(transport) as gw:
            with pytest.raises(error) as info:
                await gw.send(SMS)
        assert type(info.value) is error
        assert info.value.__cause__ is None
        assert transport.calls == ["/a/send"]


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A reply body whose transport fails after its first bytes with a raw error quoting the
    request (as a third-party transport's stream may)."""

    def __init__(self, error: type[Exception], body: bytes) -> None:
        self.error = error
        self.body = body

    def __iter__(self) -> Any:
        yield b"OK"
        raise self.error(f"connection lost after {self.body!r}")

    async def __aiter__(self) -> Any:
        yield b"OK"
        raise self.error(f"connection lost after {self.body!r}")


class BrokenReplies(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers provider ``a`` with a reply whose body breaks off; ``OK 1`` to any other."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error
        self.calls: list[str] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if request.url.path.startswith("/a/"):
            return httpx.Response(200, stream=BrokenStream(self.error, request.content))
        return httpx.Response(200, content=b"OK 1")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.answer(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.answer(request)
