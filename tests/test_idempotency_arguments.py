"""The Redis idempotency store's arguments (``smsgate.celery.RedisIdempotencyStore``): each
wrong one is a ``ConfigurationError`` (a URL redis-py cannot read, or none, was a bare
ValueError), and a URL's password is in none of its message, args or frames."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest

from smsgate.exceptions import ConfigurationError
from smsgate.testing import frames_with_secrets

pytest.importorskip("redis")

PASSWORD = "Idem-Args-Pw-7c1e"
HUGE = 10**400  # an int no float holds


def _store(url: str | None = None, **options: Any) -> Any:
    from smsgate.celery._idempotency import RedisIdempotencyStore

    try:
        return RedisIdempotencyStore(url, **options)
    finally:
        del url  # the error's frames below are the library's


@pytest.mark.parametrize(
    "url",
    [
        f"http://:{PASSWORD}@127.0.0.1/",
        f"redis://:{PASSWORD}@127.0.0.1:x/0",
        f"redis://:{PASSWORD}@[::1/0",
        f"redis://user:{PASSWORD}@127.0.0.1:x/0?password={PASSWORD}",
    ],
)
def test_an_idempotency_url_redis_cannot_read_is_a_configuration_error(url: str) -> None:
    """It was a bare ValueError; the password stays out of the message, args and frames."""
    with pytest.raises(
        ConfigurationError, match=r"^idempotency store URL .* is not a valid Redis URL"
    ) as info:
        _store(url)
    assert PASSWORD not in str(info.value)
    assert all(PASSWORD not in str(arg) for arg in info.value.args)
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    assert info.value.__traceback__ is not None
    library = info.value.with_traceback(info.value.__traceback__.tb_next)  # the test's own frame
    assert frames_with_secrets(library, [PASSWORD]) == []


def test_an_idempotency_url_is_shown_masked() -> None:
    with pytest.raises(ConfigurationError) as info:
        _store(f"redis://:{PASSWORD}@127.0.0.1:x/0")
    assert "redis://:***@127.0.0.1:x/0" in str(info.value)


def test_an_idempotency_store_needs_a_url_or_a_client() -> None:
    """It was a bare ValueError."""
    with pytest.raises(ConfigurationError, match="needs a url or a client"):
        _store()
    with pytest.raises(ConfigurationError, match="URL must be a string, not int"):
        _store(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", [0, -1, 2.5, True, HUGE, math.inf, "60"], ids=repr)
def test_an_idempotency_ttl_is_a_whole_number_of_seconds(ttl: object) -> None:
    """It was taken as int(ttl): 2.5 became 2, 0 failed at the first claim, inf raised
    OverflowError."""
    with pytest.raises(
        ConfigurationError, match=r"^RedisIdempotencyStore ttl must be a whole number, at least 1"
    ):
        _store("redis://127.0.0.1:9/0", ttl=ttl)


@pytest.mark.parametrize("timeout", [0, -1, math.inf, math.nan, HUGE, True, "5"], ids=repr)
def test_an_idempotency_timeout_is_a_positive_finite_number(timeout: object) -> None:
    """It reached redis-py unchecked (a string failed at the first claim)."""
    with pytest.raises(ConfigurationError, match=r"^RedisIdempotencyStore timeout must be a positive number"):
        _store("redis://127.0.0.1:9/0", timeout=timeout)


def test_an_idempotency_store_takes_what_it_did() -> None:
    store = _store("redis://127.0.0.1:9/0", ttl=60, timeout=Fraction(1, 2))
    try:
        assert store.ttl == 60
    finally:
        store.close()
