"""A Redis URL whose database is no whole number is refused when the object is built.

redis-py ignores a path that is no number (``redis://host:6379/abc``) and connects to
database 0, perhaps another deployment's; it takes ``/-1`` and ``/1/2`` (database 12) too.
RedisState and the Celery idempotency store refuse them with a ConfigurationError that shows
the URL with its password masked, and no frame of which holds the password. No Redis server
is needed: nothing connects before the first use.
"""

from __future__ import annotations

import urllib.parse

import pytest

from smsgate.exceptions import ConfigurationError
from smsgate.scale import RedisState
from smsgate.testing import frames_with_secrets
from tests.test_adversarial_redis_secrets import _library_frames, _texts  # the same reading of an error

PASSWORD = "RedPw-Db-7c41"
FORMS = [PASSWORD, urllib.parse.quote(PASSWORD, safe="")]

BAD = [
    "redis://{auth}127.0.0.1:6379/abc",
    "redis://{auth}127.0.0.1:6379/-1",
    "redis://{auth}127.0.0.1:6379/1/2",
    "redis://{auth}127.0.0.1:6379/%201",
    "redis://{auth}127.0.0.1:6379/+1",
    "redis://{auth}127.0.0.1:6379/%D9%A1",  # an Arabic-Indic one, which int() reads
    "rediss://{auth}127.0.0.1:6379/0?db=-2",
    "unix://{auth}/tmp/redis.sock?db=%2B1",
]
GOOD = [
    ("redis://127.0.0.1:6379/3", 3),
    ("redis://127.0.0.1:6379/", None),
    ("redis://127.0.0.1:6379", None),
    ("redis://127.0.0.1:6379/%31", 1),
    ("redis://127.0.0.1:6379/abc?db=4", 4),  # ?db= wins over the path, as redis-py reads it
    ("rediss://127.0.0.1:6379/15?db=", 15),
    ("unix:///tmp/redis.sock?db=2", 2),
    ("unix:///tmp/redis.sock", None),
]


@pytest.mark.parametrize("template", BAD)
def test_the_shared_state_refuses_a_database_that_is_no_whole_number(template: str) -> None:
    url = template.format(auth="")
    with pytest.raises(ConfigurationError, match="names no database") as info:
        RedisState(url)
    assert "shared state URL" in str(info.value)


@pytest.mark.parametrize("template", BAD)
def test_the_refusal_keeps_the_password_out_of_messages_and_frames(template: str) -> None:
    url = template.format(auth=f":{PASSWORD}@")
    with pytest.raises(ConfigurationError, match="names no database") as info:
        RedisState(url)
    assert PASSWORD not in _texts(info.value)
    assert "***" in str(info.value)
    assert frames_with_secrets(_library_frames(info.value), FORMS) == []


@pytest.mark.parametrize(("url", "db"), GOOD)
def test_a_whole_database_number_or_none_is_accepted(url: str, db: int | None) -> None:
    with RedisState(url) as state:
        assert state._client.connection_pool.connection_kwargs.get("db") == db


@pytest.mark.parametrize("template", BAD)
def test_the_celery_idempotency_store_refuses_it_too(template: str) -> None:
    pytest.importorskip("celery")
    from smsgate.celery import RedisIdempotencyStore

    url = template.format(auth=f":{PASSWORD}@")
    with pytest.raises(ConfigurationError, match=r"idempotency store URL .* names no database") as info:
        RedisIdempotencyStore(url)
    assert PASSWORD not in _texts(info.value)
    assert frames_with_secrets(_library_frames(info.value), FORMS) == []
