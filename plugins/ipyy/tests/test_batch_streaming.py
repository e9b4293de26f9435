"""The batch is built request by request (issue 11): every message is checked before the first
request, then each request's lines are made only when it is sent, compressed as they are made."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import tracemalloc
import urllib.parse
import zlib
from typing import Any

import httpx
import pytest

from smsgate import Sms
from smsgate.exceptions import ValidationError
from smsgate_ipyy import _build

SEND_OK = (
    b'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    b"<message>ok</message>\n<remainpoint>1</remainpoint>\n<taskID>1</taskID>\n"
    b"<successCounts>1</successCounts>\n</returnsms>"
)


def _messages(count: int) -> list[Sms]:
    return [Sms(to=f"138{i:08d}", text=f"尊敬的客户{i}，您的订单已发货【腾飞】") for i in range(count)]


def _drive(flow: Any, on_request: Any = None) -> Any:
    try:
        request = next(flow)
        while True:
            if on_request is not None:
                on_request(request)
            request = flow.send(httpx.Response(200, content=SEND_OK, request=request))
    except StopIteration as done:
        return done.value


def _lines_of(request: httpx.Request) -> bytes:
    content = dict(urllib.parse.parse_qsl(request.content.decode("ascii")))["content"]
    return gzip.decompress(base64.b64decode(content))


@pytest.mark.parametrize("method", ["gzip", "zlib", "zip"])
def test_content_compressed_line_by_line_is_the_one_shot_compression(method: Any) -> None:
    lines = [(f"138{i:08d}", f"第{i}条，逗号,也在【签名】") for i in range(1000)]
    streamed = base64.b64decode(_build.batch_content(iter(lines), method))
    assert streamed == _build.compress(_build.batch_lines(lines), method)
    if method == "gzip":
        assert streamed == gzip.compress(_build.batch_lines(lines), mtime=0)
    if method == "zlib":
        assert zlib.decompress(streamed) == _build.batch_lines(lines)


def test_streamed_content_still_refuses_a_line_break() -> None:
    with pytest.raises(ValidationError, match="CR or LF"):
        _build.batch_content(iter([("13800138000", "a\nb【x】")]), "gzip")


def test_a_large_batch_holds_about_one_request_of_lines_at_a_time(h: Any) -> None:
    """Working memory beyond the input list, the receipts and zlib's own state stays within
    twice one request's lines (it held every line of the batch before: ~100x that here)."""
    messages = _messages(20_000)
    provider = h.provider()
    largest = [0]

    def seen(request: httpx.Request) -> None:
        largest[0] = max(largest[0], len(_lines_of(request)))

    _drive(provider.send_batch(messages), seen)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        receipts = _drive(provider.send_batch(messages))
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    compressor_state = 400_000  # zlib's level-9 window and hash tables (~300 kB), with room
    assert len(receipts) == 20
    assert peak - current - compressor_state <= 2 * largest[0], (peak, current, largest[0])


def test_an_invalid_last_message_is_refused_before_the_first_request(h: Any) -> None:
    messages = [*_messages(2_500), Sms(to="12345", text="bad number【腾飞】")]
    flow = h.provider().send_batch(messages)
    with pytest.raises(ValidationError, match="message 2501 of the batch"):
        next(flow)


def test_a_send_time_checked_once_is_not_checked_again_per_request(h: Any) -> None:
    """send_at is checked against the clock before the first request; a later request of the
    same batch carries it even if the clock has moved past it meanwhile."""
    later = h.NOW + dt.timedelta(minutes=1)
    ticks = iter([h.NOW] * 3 + [h.NOW + dt.timedelta(hours=1)] * 10)  # 3 checks, then later
    provider = h.provider(clock=lambda: next(ticks), batch_max_messages=1)
    sent: list[httpx.Request] = []
    receipts = _drive(
        provider.send_batch([Sms(to=f"1380013800{i}", text="t【x】", send_at=later) for i in range(3)]),
        sent.append,
    )
    assert len(receipts) == 3
    assert [h.form(r)["sendTime"] for r in sent] == ["2026-04-14 17:48:15"] * 3
