"""The Redis idempotency store's password under attack: a Redis that refuses the login, or a
URL redis-py cannot read, leaves the password in no frame of the error's traceback (redis-py's
own frames hold it as a local: ``auth_args``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from smsgate.celery import IdempotencyStoreError
from smsgate.celery._idempotency import RedisIdempotencyStore
from smsgate.exceptions import ConfigurationError
from smsgate.testing import frames_with_secrets

pytest.importorskip("redis")

PASSWORD = "IdemPw-Adv-0d4c"


@pytest.fixture
def refusing_redis() -> Iterator[int]:
    """A loopback server answering every command with Redis's refusal of a wrong password."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(5)


def _library_frames(error: BaseException) -> BaseException:
    """``error`` with its first frame (this test's, which holds the URL it passed) dropped."""
    assert error.__traceback__ is not None
    return error.with_traceback(error.__traceback__.tb_next)


def test_a_refused_login_leaves_the_password_in_no_frame(refusing_redis: int) -> None:
    store = RedisIdempotencyStore(f"redis://:{PASSWORD}@127.0.0.1:{refusing_redis}/0", timeout=2)
    with pytest.raises(IdempotencyStoreError) as info:
        store.claim("k")
    assert PASSWORD not in str(info.value)
    assert frames_with_secrets(_library_frames(info.value), [PASSWORD]) == []


@pytest.mark.parametrize(
    "url",
    [f"http://:{PASSWORD}@127.0.0.1/", f"redis://:{PASSWORD}@127.0.0.1:x/0", f"redis://:{PASSWORD}@[::1/0"],
)
def test_a_url_redis_cannot_read_leaves_the_password_in_no_frame(url: str) -> None:
    with pytest.raises(ConfigurationError, match="not a valid Redis URL") as info:
        RedisIdempotencyStore(url)
    assert PASSWORD not in str(info.value)
    assert frames_with_secrets(_library_frames(info.value), [PASSWORD]) == []
