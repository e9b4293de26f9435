"""``smsgate.exceptions.error_for_http_status`` and ``parse_retry_after``: what an HTTP status
says of a request whose reply carries no answer of the vendor's own, for every provider."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate import exceptions as errors
from smsgate.exceptions import error_for_http_status, parse_retry_after


@given(st.integers(min_value=100, max_value=599))
def test_every_status_has_one_meaning(status: int) -> None:
    error = error_for_http_status(status)
    if 200 <= status < 300:
        assert error is None
    elif status == 429:
        assert type(error) is errors.RateLimitedError
    elif status == 503:
        assert type(error) is errors.ProviderOutageError
    elif status >= 500:
        assert type(error) is errors.UncertainOutcomeError
        assert error.request_sent is True
    else:
        assert type(error) is errors.ProviderError
        assert error.code == f"HTTP {status}"


@pytest.mark.parametrize(
    ("status", "retry", "failover", "sent_maybe"),
    [
        (429, True, True, False),
        (503, True, True, False),
        (404, False, False, False),
        (500, False, False, True),
    ],
)
def test_what_each_kind_allows(status: int, retry: bool, failover: bool, sent_maybe: bool) -> None:
    error = error_for_http_status(status, service="Aliyun")
    assert error is not None
    assert (error.retry_safe, error.failover_safe) == (retry, failover)
    assert isinstance(error, errors.UncertainOutcomeError) == sent_maybe
    assert str(error).startswith("Aliyun ")


def test_a_429_keeps_the_wait_it_asks_for() -> None:
    error = error_for_http_status(429, retry_after=" 7 ")
    assert isinstance(error, errors.RateLimitedError)
    assert error.retry_after == 7.0
    assert error.code == "HTTP 429"
    assert str(error) == "the gateway asks to slow down (HTTP 429) (code HTTP 429)"
    unusable = error_for_http_status(429, retry_after="soon")
    assert isinstance(unusable, errors.RateLimitedError)
    assert unusable.retry_after is None


NOW = dt.datetime(2015, 10, 21, 7, 27, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("0", 0.0),
        ("120", 120.0),
        ("999999999", 999999999.0),
        ("1000000000", None),  # more than nine digits: no delay to honour
        ("²", None),  # a digit to str.isdigit(), not to RFC 9110
        ("٣", None),
        ("-5", None),
        ("1.5", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 30.0),  # RFC 5322's "UTC, source unknown"
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # in the past: no wait
        ("Wed, 21 Oct 2015 07:28:00 GMT" + " " * 60, 30.0),
        ("x" * 65, None),
        ("Thu, 99 Foo 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_reads_seconds_and_dates_only(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@given(st.text(max_size=80))
def test_retry_after_never_raises_and_never_waits_a_negative_time(value: str) -> None:
    seconds = parse_retry_after(value, now=NOW)
    assert seconds is None or seconds >= 0
