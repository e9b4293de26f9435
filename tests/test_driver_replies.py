"""The reply a flow receives from the drivers: the whole decoded body, headers that describe
it (no encoding or framing header of the wire, a Content-Length that is the body's), only the
``http_version`` / ``reason_phrase`` extensions, closed — whether the drivers hand over the
transport's reply itself (issue 11: when it already is all that) or rebuild one."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import smsgate

BODY = b"<returnsms><returnstatus>Success</returnstatus></returnsms>"


def _seen(handler: Callable[[httpx.Request], httpx.Response], mode: str) -> httpx.Response:
    """The reply a flow got for one request answered by ``handler``, over a sync or an async client."""
    replies: list[httpx.Response] = []

    def flow() -> smsgate.Flow[bytes]:
        reply = yield httpx.Request("POST", "http://provider.test/sms.aspx", content=b"x=1")
        replies.append(reply)
        return reply.content

    transport = httpx.MockTransport(handler)
    if mode == "sync":
        with httpx.Client(transport=transport) as client:
            content = smsgate.run_flow(flow(), client, provider="p", operation="send")
    else:

        async def run() -> bytes:
            async with httpx.AsyncClient(transport=transport) as client:
                return await smsgate.arun_flow(flow(), client, provider="p", operation="send")

        content = asyncio.run(run())
    (reply,) = replies
    assert content == reply.content
    assert reply.is_closed
    assert reply.is_stream_consumed
    return reply


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def _answer(**kwargs: Any) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, request=request, **kwargs)

    return handler


@MODES
def test_a_plain_reply_as_the_flow_reads_it(mode: str) -> None:
    reply = _seen(
        _answer(
            content=BODY,
            headers={"Content-Type": "text/xml"},
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": b"OK"},
        ),
        mode,
    )
    assert reply.status_code == 200
    assert reply.content == BODY
    assert reply.read() == BODY
    assert b"".join(reply.iter_bytes()) == BODY
    assert reply.headers["Content-Type"] == "text/xml"
    assert reply.headers["Content-Length"] == str(len(BODY))
    assert reply.extensions == {"http_version": b"HTTP/1.1", "reason_phrase": b"OK"}
    assert reply.request.url == "http://provider.test/sms.aspx"


@MODES
def test_a_compressed_reply_is_decoded_and_its_framing_dropped(mode: str) -> None:
    reply = _seen(_answer(content=gzip.compress(BODY), headers={"Content-Encoding": "gzip"}), mode)
    assert reply.content == BODY
    assert "Content-Encoding" not in reply.headers
    assert reply.headers.get_list("Content-Length") == [str(len(BODY))]


@MODES
def test_a_chunked_reply_gets_its_length(mode: str) -> None:
    stream: Any = httpx.ByteStream(BODY)
    reply = _seen(_answer(stream=stream, headers={"Transfer-Encoding": "chunked"}), mode)
    assert reply.content == BODY
    assert "Transfer-Encoding" not in reply.headers
    assert reply.headers["Content-Length"] == str(len(BODY))


@MODES
def test_a_wrong_declared_length_is_replaced_by_the_body_s(mode: str) -> None:
    stream: Any = httpx.ByteStream(BODY)
    reply = _seen(_answer(stream=stream, headers={"Content-Length": "3"}), mode)
    assert reply.content == BODY
    assert reply.headers.get_list("Content-Length") == [str(len(BODY))]


@MODES
def test_transport_extensions_other_than_version_and_reason_stay_behind(mode: str) -> None:
    reply = _seen(
        _answer(content=BODY, extensions={"http_version": b"HTTP/1.1", "network_stream": object()}), mode
    )
    assert reply.content == BODY
    assert set(reply.extensions) == {"http_version"}


@MODES
def test_a_declared_size_over_the_cap_is_refused_unread(mode: str) -> None:
    def flow() -> smsgate.Flow[bytes]:
        reply = yield httpx.Request("GET", "http://provider.test/big")
        return reply.content

    stream: Any = httpx.ByteStream(BODY)
    transport = httpx.MockTransport(_answer(stream=stream, headers={"content-LENGTH": "99999"}))

    def run() -> bytes:
        if mode == "sync":
            with httpx.Client(transport=transport) as client:
                return smsgate.run_flow(flow(), client, max_reply_bytes=100)

        async def arun() -> bytes:
            async with httpx.AsyncClient(transport=transport) as client:
                return await smsgate.arun_flow(flow(), client, max_reply_bytes=100)

        return asyncio.run(arun())

    with pytest.raises(smsgate.exceptions.MalformedReplyError, match="max_reply_bytes"):
        run()


@MODES
def test_two_declared_lengths_are_no_declared_size(mode: str) -> None:
    stream: Any = httpx.ByteStream(BODY)
    headers = [("Content-Length", str(len(BODY))), ("Content-Length", str(len(BODY)))]
    reply = _seen(_answer(stream=stream, headers=headers), mode)
    assert reply.content == BODY
    assert reply.headers.get_list("Content-Length") == [str(len(BODY))]


def test_parsing_reply_as_a_block_of_its_own() -> None:
    """The block's contract by itself (issue 11: a plain context manager, no generator): the
    reply as its target, a crash a MalformedReplyError caused by it, an smsgate error and a
    BaseException unchanged, a finished block remembered as read."""
    reply = httpx.Response(502, content=b"<oops")
    with smsgate.parsing_reply(reply) as target:
        assert target is reply
    assert reply in smsgate._drivers._parsed
    other = httpx.Response(200, content=b"<oops")
    with pytest.raises(smsgate.exceptions.MalformedReplyError) as caught:
        with smsgate.parsing_reply(other):
            raise KeyError("taskID")
    assert isinstance(caught.value.__cause__, KeyError)
    assert caught.value.status_code == 200
    assert other not in smsgate._drivers._parsed
    refusal = smsgate.exceptions.ProviderError("refused", code="1")
    with pytest.raises(smsgate.exceptions.ProviderError) as passed, smsgate.parsing_reply(other):
        raise refusal
    assert passed.value is refusal
    with pytest.raises(KeyboardInterrupt), smsgate.parsing_reply(other):
        raise KeyboardInterrupt
