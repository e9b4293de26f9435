"""RedisState's password under attack, without a Redis server: a ``?password=`` query
parameter (which redis-py reads) is masked in the repr and in every error, and no frame of an
error raised by the constructor keeps the URL or the password as a local."""

from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path

import pytest

import smsgate
from smsgate.exceptions import ConfigurationError
from smsgate.scale import RedisState, SharedStateError, masked_url
from smsgate.testing import frames_with_secrets

PASSWORD = "RedPw-Adv-5e0b"
FORMS = [PASSWORD, urllib.parse.quote(PASSWORD, safe="")]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _library_frames(error: BaseException) -> BaseException:
    """``error`` with its first frame (this test's, which holds the URL it passed) dropped."""
    assert error.__traceback__ is not None
    return error.with_traceback(error.__traceback__.tb_next)


def _texts(error: BaseException) -> str:
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts += [repr(current), str(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.mark.parametrize("name", ["password", "PASSWORD", "pass%77ord"])
def test_a_password_query_parameter_is_masked(name: str) -> None:
    url = f"redis://127.0.0.1:6379/0?socket_keepalive=true&{name}={PASSWORD}"
    assert PASSWORD not in masked_url(url)
    assert f"{name}=***" in masked_url(url)
    assert "socket_keepalive=true" in masked_url(url)
    state = RedisState(url)
    try:
        assert PASSWORD not in repr(state)
    finally:
        state.close()


def test_a_refused_connection_names_the_store_without_the_query_password() -> None:
    url = f"redis://127.0.0.1:{_closed_port()}/0?password={PASSWORD}"
    with (
        RedisState(url, timeout=0.5) as state,
        smsgate.Gateway(smsgate.get_provider("memory"), shared_state=state) as gateway,
        pytest.raises(SharedStateError) as info,
    ):
        gateway.send(smsgate.Sms(to="13800138000", text="hi【shop】"))
    assert PASSWORD not in _texts(info.value)
    assert frames_with_secrets(_library_frames(info.value), FORMS) == []


@pytest.mark.parametrize(
    ("url", "password"),
    [
        (f"redis://:{PASSWORD}@127.0.0.1:6379/0", PASSWORD),  # given twice
        (f"http://:{PASSWORD}@127.0.0.1/", None),  # not a Redis scheme
        (f"redis://:{PASSWORD}@127.0.0.1:x/", None),  # a port that is no number
        (f"redis://:{PASSWORD}@[::1/0", None),  # not a URL
        ("redis://127.0.0.1:6379/0?socket_timeout=abc", PASSWORD),  # an option redis-py refuses
    ],
)
def test_no_frame_of_a_refused_configuration_holds_the_password(url: str, password: str | None) -> None:
    with pytest.raises(ConfigurationError) as info:
        RedisState(url, password=password)
    assert PASSWORD not in _texts(info.value)
    assert frames_with_secrets(_library_frames(info.value), FORMS) == []


@pytest.mark.parametrize(
    "query", [f"password={PASSWORD}", f"db=0&Password={PASSWORD}", f"pass%77ord={PASSWORD}"]
)
def test_a_password_query_parameter_in_the_config_file_is_refused(tmp_path: Path, query: str) -> None:
    """The file holds no secret: a password redis-py would read from the query is refused like
    one in the user part, and the URL is not echoed."""
    path = tmp_path / "smsgate.toml"
    path.write_text(
        f'[gateway]\nshared_state = "redis://127.0.0.1:6379/0?{query}"\n[providers.p]\ntype = "memory"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match="SMSGATE_SHARED_STATE_PASSWORD") as info:
        smsgate.load_config(path)
    assert PASSWORD not in _texts(info.value)
