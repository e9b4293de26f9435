"""Wrong arguments to the receiver's public constructors and functions: each is refused with a
ConfigurationError naming it, before anything happens (no journal file created, nothing bound),
never a bare TypeError / ValueError / AttributeError or a value that fails at the first push."""

from __future__ import annotations

import ipaddress
import math
from fractions import Fraction
from typing import Any

import attrs
import pytest

from smsgate.exceptions import ConfigurationError
from smsgate.receiver import PushGuard, ServerLimits, ServerThread

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
