"""run_flow and arun_flow: the same flows, the same outcomes, over httpx.MockTransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import httpx
import pytest

from smsgate import Flow, Receipt, arun_flow, parsing_reply, run_flow, send_in_parts
from smsgate.exceptions import (
    MalformedReplyError,
    NotSentError,
    PartialSendError,
    ProviderOutageError,
    UncertainOutcomeError,
    ValidationError,
)

T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]

MODES = ["sync", "async"]


async def drive(
    mode: str, flow: Flow[T], handler: Handler, *, seconds: float | None = None, provider: str = "acme"
) -> T:
    """Run ``flow`` with the driver named by ``mode`` over a mock transport."""
    transport = httpx.MockTransport(handler)
    if mode == "sync":
        with httpx.Client(transport=transport) as client:
            return run_flow(flow, client, provider=provider, operation="send", timeout=seconds)
    async with httpx.AsyncClient(transport=transport) as aclient:
        return await arun_flow(flow, aclient, provider=provider, operation="send", timeout=seconds)


def never_called(request: httpx.Request) -> httpx.Response:
    """A transport that fails the test if the flow makes any request."""
    pytest.fail(f"unexpected request {request.method} {request.url}")


@pytest.mark.parametrize("mode", MODES)
async def test_multi_request_flow_feeds_each_reply_to_the_next_request(mode: str) -> None:
    """A flow can chain requests: the second one is built from the first reply."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(200, text="tok-42")
        return httpx.Response(200, text=f"sent with {request.headers['x-token']}")

    def flow() -> Flow[tuple[str, str]]:
        first = yield httpx.Request("POST", "http://provider.test/token")
        token = first.text
        second = yield httpx.Request("POST", "http://provider.test/send", headers={"x-token": token})
        return token, second.text

    assert await drive(mode, flow(), handler) == ("tok-42", "sent with tok-42")
    assert seen == ["/token", "/send"]


@pytest.mark.parametrize("mode", MODES)
async def test_transport_error_is_thrown_into_the_flow_which_may_catch_it(mode: str) -> None:
    """The flow sees a translated NotSentError (cause kept) and can carry on."""
    caught: list[NotSentError] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "primary.test":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, text="ok")

    def flow() -> Flow[str]:
        try:
            yield httpx.Request("POST", "http://primary.test/send")
        except NotSentError as exc:
            caught.append(exc)
            reply = yield httpx.Request("POST", "http://backup.test/send")
            return f"backup {reply.text}"
        return "primary"

    assert await drive(mode, flow(), handler) == "backup ok"
    [err] = caught
    assert isinstance(err.__cause__, httpx.ConnectError)
    assert err.provider == "acme"
    assert err.operation == "send"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ReadTimeout, UncertainOutcomeError),
        (httpx.RemoteProtocolError, UncertainOutcomeError),
        (httpx.ConnectTimeout, NotSentError),
        (httpx.ConnectError, NotSentError),
    ],
)
async def test_uncaught_transport_error_propagates_translated(
    mode: str, raised: type[httpx.TransportError], expected: type[Exception]
) -> None:
    """A flow that does not catch the error lets the translated one out, never the httpx one."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise raised("boom http://user:pw@provider.test/?password=pw", request=request)

    def flow() -> Flow[str]:
        yield httpx.Request("GET", "http://provider.test/send?password=pw")
        return "unreachable"

    with pytest.raises(expected) as info:
        await drive(mode, flow(), handler)
    assert isinstance(info.value.__cause__, raised)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "raised",
    [httpx.StreamConsumed(), httpx.InvalidURL("bad url http://u:pw@x/")],
    ids=["StreamConsumed", "InvalidURL"],
)
async def test_httpx_errors_outside_httperror_are_translated_too(mode: str, raised: Exception) -> None:
    """Even httpx exceptions that are not HTTPError subclasses never escape raw."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    def flow() -> Flow[None]:
        yield httpx.Request("POST", "http://provider.test/send")

    with pytest.raises((NotSentError, UncertainOutcomeError)) as info:
        await drive(mode, flow(), handler)
    assert info.value.__cause__ is raised


@pytest.mark.parametrize("mode", MODES)
async def test_parser_crash_after_a_reply_is_a_malformed_reply(mode: str) -> None:
    """A reply the flow cannot parse is an uncertain outcome with the status and a body excerpt."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, content=b"<html>Bad gateway</html>" + b"." * 500)

    def flow() -> Flow[int]:
        reply = yield httpx.Request("POST", "http://provider.test/send")
        return int(reply.text)

    with pytest.raises(MalformedReplyError) as info:
        await drive(mode, flow(), handler)
    err = info.value
    assert isinstance(err, UncertainOutcomeError)
    assert err.status_code == 502
    assert err.body_excerpt.startswith(b"<html>Bad gateway</html>")
    assert len(err.body_excerpt) == 200
    assert isinstance(err.__cause__, ValueError)
    assert err.provider == "acme"


@pytest.mark.parametrize("mode", MODES)
async def test_smsgate_errors_from_the_parser_pass_through_unchanged(mode: str) -> None:
    """A parser that recognises a refusal raises it; the driver does not rewrap it."""
    refusal = ProviderOutageError("busy", code="9", provider="acme")

    def flow() -> Flow[None]:
        yield httpx.Request("POST", "http://provider.test/send")
        raise refusal

    with pytest.raises(ProviderOutageError) as info:
        await drive(mode, flow(), lambda request: httpx.Response(200, text="9"))
    assert info.value is refusal


@pytest.mark.parametrize("mode", MODES)
async def test_validation_before_the_first_yield_makes_no_request(mode: str) -> None:
    """A flow that refuses its input raises before any I/O."""

    def flow() -> Flow[None]:
        yield from ()  # a generator that checks its input before its first request
        raise ValidationError("bad number", field="to")

    with pytest.raises(ValidationError):
        await drive(mode, flow(), never_called)


@pytest.mark.parametrize("mode", MODES)
async def test_per_request_timeout_extension_is_applied(mode: str) -> None:
    """The provider's timeout goes on each request; a request that set its own keeps it."""
    timeouts: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(200)

    own = httpx.Timeout(60.0).as_dict()

    def flow() -> Flow[None]:
        yield httpx.Request("POST", "http://provider.test/a")
        yield httpx.Request("POST", "http://provider.test/b", extensions={"timeout": own})

    await drive(mode, flow(), handler, seconds=3.5)
    assert timeouts == [httpx.Timeout(3.5).as_dict(), own]


@pytest.mark.parametrize("mode", MODES)
async def test_without_a_timeout_the_client_default_applies(mode: str) -> None:
    """timeout=None leaves the request to the client's own setting."""
    timeouts: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(200)

    def flow() -> Flow[None]:
        yield httpx.Request("POST", "http://provider.test/a")

    await drive(mode, flow(), handler, seconds=None)
    assert timeouts == [httpx.Timeout(5.0).as_dict()]  # httpx's client default


@pytest.mark.parametrize("mode", MODES)
async def test_flow_that_returns_without_a_request(mode: str) -> None:
    """A flow that needs no I/O (e.g. an answer from cache) returns its value, nothing sent."""

    def flow() -> Flow[str]:
        yield from ()  # a generator that never yields a request
        return "cached"

    assert await drive(mode, flow(), never_called) == "cached"


@pytest.mark.parametrize("mode", MODES)
async def test_http_error_status_is_given_to_the_flow(mode: str) -> None:
    """The driver does not judge status codes: a 500 reply is the flow's to interpret."""

    def flow() -> Flow[tuple[int, str]]:
        reply = yield httpx.Request("POST", "http://provider.test/send")
        return reply.status_code, reply.text

    result = await drive(mode, flow(), lambda request: httpx.Response(500, text="error"))
    assert result == (500, "error")


@pytest.mark.parametrize("mode", MODES)
async def test_the_driver_names_provider_and_operation_on_errors_leaving_the_flow(mode: str) -> None:
    """Parsers raise without context; the driver, which knows whose flow it ran, adds it."""

    def flow() -> Flow[None]:
        yield httpx.Request("POST", "http://provider.test/send")
        raise ProviderOutageError("busy", code="9")

    with pytest.raises(ProviderOutageError) as info:
        await drive(mode, flow(), lambda request: httpx.Response(200, text="9"), provider="acme-2")
    assert (info.value.provider, info.value.operation) == ("acme-2", "send")
    assert str(info.value) == "[acme-2] busy (code 9)"


@pytest.mark.parametrize("mode", MODES)
async def test_a_partial_send_and_its_cause_both_name_the_provider(mode: str) -> None:
    """A flow split into requests by send_in_parts: the error and its cause carry the context."""

    def part(number: int) -> Flow[Receipt]:
        reply = yield httpx.Request("POST", f"http://provider.test/send/{number}")
        if reply.status_code != 200:
            raise ProviderOutageError("busy")
        return Receipt(provider="acme", task_id=str(number), accepted=1)

    def flow() -> Flow[list[Receipt]]:
        return (yield from send_in_parts([1, 2], part, pending=list))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.url.path.endswith("/1") else 503)

    with pytest.raises(PartialSendError) as info:
        await drive(mode, flow(), handler)
    error = info.value
    assert (error.provider, error.operation) == ("acme", "send")
    assert (error.cause.provider, error.cause.operation) == ("acme", "send")
    assert [r.task_id for r in error.receipts] == ["1"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_parser_crash_inside_parsing_reply_is_a_malformed_reply(mode: str) -> None:
    """parsing_reply turns a crash while reading a reply into MalformedReplyError."""

    def flow() -> Flow[int]:
        reply = yield httpx.Request("POST", "http://provider.test/send")
        with parsing_reply(reply):
            return int(reply.text)

    with pytest.raises(MalformedReplyError) as info:
        await drive(mode, flow(), lambda request: httpx.Response(200, text="not a number"))
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.body_excerpt == b"not a number"
    assert (info.value.provider, info.value.operation) == ("acme", "send")


@pytest.mark.parametrize("mode", MODES)
async def test_a_crash_while_building_the_next_request_is_a_bug_not_a_malformed_reply(mode: str) -> None:
    """Once the reply was read inside parsing_reply, a later exception propagates as it is."""

    def flow() -> Flow[str]:
        reply = yield httpx.Request("POST", "http://provider.test/token")
        with parsing_reply(reply):
            token = reply.text
        known: dict[str, str] = {}  # the bug: a header looked up that was never stored
        second = yield httpx.Request("POST", "http://provider.test/send", headers={"x-token": known[token]})
        return second.text

    with pytest.raises(KeyError):
        await drive(mode, flow(), lambda request: httpx.Response(200, text="tok"))


@pytest.mark.parametrize("mode", MODES)
async def test_smsgate_errors_inside_parsing_reply_pass_through(mode: str) -> None:
    """A refusal the parser recognises is not turned into a malformed reply."""

    def flow() -> Flow[None]:
        reply = yield httpx.Request("POST", "http://provider.test/send")
        with parsing_reply(reply):
            raise ProviderOutageError(f"busy {reply.text}")

    with pytest.raises(ProviderOutageError):
        await drive(mode, flow(), lambda request: httpx.Response(200, text="9"))


async def test_a_cancelled_async_run_closes_the_flow() -> None:
    """Cancelling the task mid-request runs the flow's finally blocks at once."""
    started = asyncio.Event()
    closed: list[bool] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(60)
        return httpx.Response(200)

    def flow() -> Flow[None]:
        try:
            yield httpx.Request("POST", "http://provider.test/send")
        finally:
            closed.append(True)

    running = flow()  # held here, so only the driver can close it before the test ends
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        task = asyncio.create_task(arun_flow(running, client, provider="acme"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert closed == [True]
