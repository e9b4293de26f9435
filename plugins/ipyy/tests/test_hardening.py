"""Client-side hardening of the ipyy plugin (issue 9): Retry-After, the loopback rule, and
secrets kept out of the frame locals of an error's traceback."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from smsgate import Sms
from smsgate.exceptions import ConfigurationError, MalformedReplyError, RateLimitedError
from smsgate_ipyy import IpyySettings, _codes, _parse

TEXT = "您的验证码：1439【腾飞】"


@pytest.fixture(params=["sync", "async"])
def drive(request: pytest.FixtureRequest, h: Any) -> Any:
    """Run a flow over scripted replies with the sync or the async driver."""

    async def run(flow: Any, *replies: Any, **options: Any) -> Any:
        if request.param == "sync":
            return h.run(flow, *replies, **options)
        return await h.arun(flow, *replies, **options)

    return run


@pytest.mark.parametrize(
    "value", ["²", "٣", "1.5", "-1", "+3", "3 s", "9" * 50, "Mon, 99 Foo 2015 07:28:00 GMT"]
)
def test_a_retry_after_that_is_not_ascii_digits_or_a_date_leaves_a_plain_rate_limit(value: str) -> None:
    """``Retry-After: ²`` (str.isdigit() says yes, float() says no) is a 429 without a delay,
    not a crash of the parser."""
    with pytest.raises(RateLimitedError) as info:
        _parse.check_http_status(httpx.Response(429, headers={"Retry-After": value.encode()}))
    assert info.value.retry_after is None


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert _codes.parse_retry_after(" 7 ") == 7.0
    past = _codes.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
    assert past == 0.0  # a date in the past: retry at once
    then = dt.datetime(2015, 10, 21, 7, 27, 30, tzinfo=dt.UTC)
    assert _codes.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=then) == 30.0


async def test_a_429_with_a_non_ascii_retry_after_is_a_rate_limit_through_the_driver(
    h: Any, drive: Any
) -> None:
    """Through the real driver: a rate limit (retry-safe, fail over), not an uncertain outcome."""
    reply = httpx.Response(429, headers={"Retry-After": "²".encode()})
    with pytest.raises(RateLimitedError) as info:
        await drive(h.provider().send(Sms(to="13800138000", text=TEXT)), reply)
    assert not isinstance(info.value, MalformedReplyError)
    assert info.value.retry_after is None


# --- the loopback rule (defect 7) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://foo.localhost/",
        "http://localhost.localdomain/",
        "http://LOCALHOST.localdomain:8080/",
        "http://a.b.localhost/",
    ],
)
def test_names_that_merely_look_local_need_https_or_allow_insecure_http(base_url: str) -> None:
    """``*.localhost`` and ``localhost.localdomain`` may resolve through DNS to another machine:
    plain http to them is refused like to any other host, unless explicitly allowed."""
    with pytest.raises(ConfigurationError, match="plain http"):
        IpyySettings(account="acct", password="pw", base_url=base_url)
    IpyySettings(account="acct", password="pw", base_url=base_url, allow_insecure_http=True)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://localhost/",
        "http://LocalHost:8080/",
        "http://127.0.0.1:1/",
        "http://127.8.9.10/",
        "http://[::1]:80/",
    ],
)
def test_localhost_and_literal_loopback_addresses_may_use_plain_http(base_url: str) -> None:
    IpyySettings(account="acct", password="pw", base_url=base_url)
