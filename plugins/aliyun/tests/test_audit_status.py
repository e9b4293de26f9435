"""Audit of the Aliyun status mapping and the core Retry-After reading: hostile or huge
``Retry-After`` values never raise, and never ask for a wait a scheduler cannot add to its
clock."""

from __future__ import annotations

import datetime as dt

import pytest

from smsgate.exceptions import (
    MalformedReplyError,
    RateLimitedError,
    ValidationError,
    error_for_http_status,
    parse_retry_after,
)
from smsgate_aliyun import _parse

NOW = dt.datetime(2026, 12, 2, 19, 0, tzinfo=dt.UTC)
#: The longest wait delay-seconds can ask (nine digits).
MOST = 999_999_999


@pytest.mark.parametrize(
    "value",
    [
        "Fri, 31 Dec 9999 23:59:59 GMT",  # 7973 years ahead
        "Fri, 31 Dec 9999 23:59:59 -2359",  # past the calendar's end once in UTC
        "Sat, 01 Jan 2100 00:00:00 GMT",  # 73 years: more than nine digits of seconds
    ],
)
def test_a_date_further_ahead_than_nine_digits_of_seconds_asks_no_delay(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None
    assert parse_retry_after(value) is None


def test_a_date_within_nine_digits_of_seconds_is_its_wait() -> None:
    assert parse_retry_after("Wed, 02 Dec 2026 19:01:00 GMT", now=NOW) == 60.0
    assert parse_retry_after("Mon, 01 Jan 0001 00:00:00 +2359", now=NOW) == 0.0


@pytest.mark.parametrize("value", [5, 5.0, object(), ["5"], True])
def test_a_value_that_is_no_text_is_ignored_not_raised(value: object) -> None:
    assert parse_retry_after(value) is None  # type: ignore[arg-type]


def test_header_bytes_are_read_as_their_text() -> None:
    assert parse_retry_after(b"120") == 120.0
    assert parse_retry_after(b"\xff\xfe") is None


@pytest.mark.parametrize(
    "retry_after",
    ["Fri, 31 Dec 9999 23:59:59 GMT", "Fri, 31 Dec 9999 23:59:59 -2359", "9" * 10_000, "\x00", ""],
)
def test_an_aliyun_429_with_a_hostile_retry_after_is_a_rate_limit_whose_wait_a_clock_can_take(
    retry_after: str,
) -> None:
    with pytest.raises(RateLimitedError) as info:
        _parse.parse_send_reply(
            b"<html>429</html>",
            status_code=429,
            provider="aliyun",
            recipients=["13800000000"],
            retry_after=retry_after,
        )
    wait = info.value.retry_after
    assert wait is None or wait <= MOST
    if wait is not None:  # what a scheduler does with it (celery's countdown, a cooldown)
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)


@pytest.mark.parametrize("code", ["123", '""', "null", "false", "[]", '{"Code": "OK"}'])
@pytest.mark.parametrize("status", [429, 503, 403, 404, 200, 500])
def test_a_json_code_that_is_no_code_stays_uncertain_whatever_the_status(code: str, status: int) -> None:
    """A JSON object with a ``Code`` is the service's answer: the status does not decide, and a
    Code that is no code leaves the send uncertain (never a failover: it may have been sent)."""
    body = f'{{"Code": {code}, "Message": "x", "RequestId": "R"}}'.encode()
    with pytest.raises(MalformedReplyError):
        _parse.parse_send_reply(body, status_code=status, provider="aliyun", recipients=["13800000000"])
    with pytest.raises(MalformedReplyError):
        _parse.parse_query_reply(body, status_code=status, provider="aliyun")


@pytest.mark.parametrize("status", [200, 201, 204, 299])
@pytest.mark.parametrize("body", [b"", b"<html>ok</html>", b"[]", b'{"Message": "no code"}', b"\xff\xfe"])
def test_a_2xx_reply_without_a_code_stays_uncertain(status: int, body: bytes) -> None:
    with pytest.raises(MalformedReplyError):
        _parse.parse_send_reply(body, status_code=status, provider="aliyun", recipients=["13800000000"])


@pytest.mark.parametrize("status", ["503", True, 503.0, None])
def test_a_status_that_is_no_whole_number_is_a_validation_error(status: object) -> None:
    with pytest.raises(ValidationError) as info:
        error_for_http_status(status)  # type: ignore[arg-type]
    assert info.value.field == "status_code"
