"""Wrong arguments to the receiver's public constructors and functions: each is refused with a
ConfigurationError naming it, before anything happens (no journal file created, nothing bound),
never a bare TypeError / ValueError / AttributeError or a value that fails at the first push."""

from __future__ import annotations

import ipaddress
import math
import os
import pathlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import pytest

import smsgate
from smsgate.default_plugins.memory import ALL_CAPABILITIES, InMemoryProvider
from smsgate.exceptions import ConfigurationError
from smsgate.receiver import (
    PushGuard,
    RateLimitFilter,
    Receiver,
    ServerLimits,
    ServerThread,
    SQLiteJournal,
)
from smsgate.receiver.asgi import asgi_app
from smsgate.receiver.wsgi import wsgi_app


def provider() -> smsgate.Provider:
    return smsgate.get_provider("ipyy", account="a", password="p", userid="1")


def pull_only() -> InMemoryProvider:
    return InMemoryProvider("pullonly", capabilities=attrs.evolve(ALL_CAPABILITIES, callbacks=False))


# --- Receiver ----------------------------------------------------------------------------------


def test_a_provider_name_is_refused_before_the_journal_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    with pytest.raises(ConfigurationError, match=r"get_provider\('ipyy'"):
        Receiver("ipyy", print, journal=str(path))  # type: ignore[arg-type]
    assert not path.exists()


@pytest.mark.parametrize("journal", [5, 2.5, b"j.sqlite3", object(), ["j.sqlite3"]])
def test_a_journal_that_is_no_path_nor_journal_is_refused(journal: Any) -> None:
    with pytest.raises(ConfigurationError, match="journal") as caught:
        Receiver(provider(), print, journal=journal)
    assert caught.value.provider == "ipyy"


def test_an_empty_journal_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="non-empty"):
        Receiver(provider(), print, journal="")
    assert list(tmp_path.iterdir()) == []


def test_a_postgres_url_as_a_path_is_refused_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PostgresJournal") as caught:
        Receiver(provider(), print, journal="postgresql://app:s3cret-pw@db.internal/app")
    assert "s3cret-pw" not in str(caught.value)


@pytest.mark.parametrize("handler", [5, "print", object()])
def test_a_handler_that_cannot_be_called_is_refused(tmp_path: Path, handler: Any) -> None:
    path = tmp_path / "j.sqlite3"
    with pytest.raises(ConfigurationError, match="handler"):
        Receiver(provider(), handler, journal=path)
    assert not path.exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [("ack_before_dispatch", "no"), ("ack_before_dispatch", None), ("guard", {"token": "t"})],
)
def test_a_wrong_option_is_refused(tmp_path: Path, option: str, value: Any) -> None:
    path = tmp_path / "j.sqlite3"
    with pytest.raises(ConfigurationError, match=option):
        Receiver(provider(), print, journal=path, **{option: value})
    assert not path.exists()


class _PathLike(os.PathLike[str]):
    """An os.PathLike that is no pathlib.Path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


class _DuckJournal:
    """A journal object of its own (the Journal protocol), no SQLiteJournal."""

    def record(self, events: Any) -> list[Any]:
        return list(events)

    def mark_done(self, event: Any) -> None:
        pass

    def mark_failed(self, event: Any, error: str) -> None:
        pass

    def state(self, event: Any) -> None:
        return None

    def pending(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass


def test_the_valid_journals_stay_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given: list[Any] = [
        None,
        "a.sqlite3",
        tmp_path / "b.sqlite3",
        pathlib.PurePath(tmp_path / "c.sqlite3"),
        _PathLike(str(tmp_path / "d.sqlite3")),
        ":memory:",
    ]
    for journal in given:
        with Receiver(provider(), print, journal=journal) as receiver:
            assert isinstance(receiver.journal, SQLiteJournal)
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == [
        "a.sqlite3",
        "b.sqlite3",
        "c.sqlite3",
        "d.sqlite3",
        "smsgate-journal.sqlite3",
    ]
    duck = _DuckJournal()
    with SQLiteJournal(tmp_path / "e.sqlite3") as journal:
        assert Receiver(provider(), None, journal=journal).journal is journal
    assert Receiver(provider(), journal=duck, ack_before_dispatch=False).journal is duck


def test_a_provider_without_callbacks_may_store_pulls_but_gets_no_app(tmp_path: Path) -> None:
    vendor = pull_only()
    seen: list[Any] = []
    with Receiver(vendor, seen.append, journal=tmp_path / "j.sqlite3") as receiver:
        vendor.queue_inbound("13800138000", "hi")
        with smsgate.Gateway(vendor) as gateway:
            new = receiver.store_pulled(gateway.fetch_inbound())
        assert receiver.dispatch(new) == 1
        assert len(seen) == 1
        for build in (receiver.asgi_app, receiver.wsgi_app):
            with pytest.raises(ConfigurationError, match="callbacks") as caught:
                build()
            assert caught.value.provider == "pullonly"


# --- the apps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_body", [0, -1, 1.5, "1000", True])
def test_a_wrong_max_body_is_refused_by_both_apps(tmp_path: Path, max_body: Any) -> None:
    with Receiver(provider(), journal=tmp_path / "j.sqlite3") as receiver:
        for build in (receiver.asgi_app, receiver.wsgi_app):
            with pytest.raises(ConfigurationError, match="max_body"):
                build(max_body=max_body)


def test_the_apps_refuse_what_is_no_receiver_or_no_limits(tmp_path: Path) -> None:
    for build in (asgi_app, wsgi_app):
        with pytest.raises(ConfigurationError, match="Receiver"):
            build(provider())  # type: ignore[arg-type]
    with Receiver(provider(), journal=tmp_path / "j.sqlite3") as receiver:
        with pytest.raises(ConfigurationError, match="limits"):
            receiver.asgi_app(limits={"max_body": 10})  # type: ignore[arg-type]
        receiver.asgi_app(max_body=10, limits=ServerLimits(max_body=20))
        receiver.wsgi_app(max_body=10)


# --- PushGuard -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["allow", "trusted_proxies"])
def test_an_entry_that_is_no_network_names_itself(field: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{field}.*'not-a-net'") as caught:
        PushGuard(**{field: ["10.0.0.0/8", "not-a-net"]})
    assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize("value", ["10.0.0.0/8", 5, [5], [b"\x7f\x00\x00\x01"], [None]])
def test_an_allow_list_of_the_wrong_kind_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="allow"):
        PushGuard(allow=value)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("token", ""),
        ("token", 12345),
        ("token", b"s3cret"),
        ("basic", ("user",)),
        ("basic", ("user", None)),
        ("basic", "user:s3cret"),
        ("basic", ("user", "")),
        ("public_url", 5),
        ("public_url", ""),
    ],
)
def test_a_wrong_secret_or_url_is_refused_without_its_value(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=option) as caught:
        PushGuard(**{option: value})
    assert "s3cret" not in str(caught.value)


def test_the_valid_guards_stay_accepted() -> None:
    guard = PushGuard(
        token="t0k",
        allow=("203.0.113.0/24", ipaddress.ip_network("2001:db8::/32"), ipaddress.ip_address("10.0.0.1")),
        trusted_proxies=iter(["127.0.0.1"]),
        basic=["user", "pass"],  # type: ignore[arg-type]
        public_url="https://example.com/callbacks/ipyy/",
    )
    assert [str(n) for n in guard.allow] == ["203.0.113.0/24", "2001:db8::/32", "10.0.0.1/32"]
    assert PushGuard().allow == ()


# --- ServerLimits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_connections", -1),
        ("max_connections", 0),
        ("max_connections", 1.5),
        ("max_connections", "100"),
        ("max_connections", True),
        ("max_connections", None),
        ("backlog", 0),
        ("backlog", 2.0),
        ("max_body", 0),
        ("max_body", "1MiB"),
        ("head_timeout", 0),
        ("head_timeout", -1.0),
        ("body_timeout", "x"),
        ("body_timeout", math.nan),
        ("body_timeout", math.inf),
        ("body_timeout", None),
        ("keep_alive", False),
        ("keep_alive", math.inf),
    ],
)
def test_each_wrong_limit_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field):
        ServerLimits(**{field: value})
    with pytest.raises(ConfigurationError, match=field):
        attrs.evolve(ServerLimits(), **{field: value})


def test_the_audited_limits_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="max_connections"):
        ServerLimits(max_connections=-1, body_timeout="x")  # type: ignore[arg-type]


def test_the_valid_limits_stay_accepted() -> None:
    ServerLimits()
    ServerLimits(max_connections=1, backlog=1, max_body=1, head_timeout=0.5, body_timeout=1, keep_alive=0.1)
    ServerLimits(body_timeout=Fraction(1, 2))  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", ["x", 0, -1.0, math.nan, math.inf, None, True])
def test_a_wrong_log_interval_is_refused(interval: Any) -> None:
    with pytest.raises(ConfigurationError, match="interval"):
        RateLimitFilter(interval=interval)


def test_the_valid_log_intervals_stay_accepted() -> None:
    assert RateLimitFilter().limiter.interval == 10.0
    assert RateLimitFilter(interval=1).limiter.interval == 1
    assert RateLimitFilter(0.25).limiter.interval == 0.25


# --- ServerThread --------------------------------------------------------------------------------


async def _app(scope: Any, receive: Any, send: Any) -> None:  # never called: nothing starts
    raise AssertionError("not served")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("host", ""),
        ("host", 127),
        ("port", -1),
        ("port", 65536),
        ("port", "8080"),
        ("port", 80.0),
        ("port", True),
        ("lifespan", "yes"),
        ("start_timeout", 0),
        ("start_timeout", math.nan),
        ("graceful_shutdown", -1),
        ("graceful_shutdown", "3"),
        ("name", 5),
        ("limits", {"max_connections": 5}),
    ],
)
def test_a_wrong_server_option_is_refused(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=option):
        ServerThread(_app, **{option: value})


def test_an_app_that_is_no_callable_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="app"):
        ServerThread("myapp:app")


def test_the_valid_server_options_stay_accepted() -> None:
    ServerThread(_app, host="::1", port=65535, lifespan="off", start_timeout=1, graceful_shutdown=0)
    ServerThread(_app, name="x", limits=ServerLimits())
