"""Wrong arguments to the receiver's public constructors and functions: each is refused with a
ConfigurationError (setup) or a ValidationError (a call's argument) naming it, before anything
happens (no journal file created, nothing bound, nothing stored), never a bare TypeError /
ValueError / AttributeError, a value that fails at the first push or a "retry" reply."""

from __future__ import annotations

import io
import ipaddress
import json
import math
import os
import pathlib
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import attrs
import httpx
import pytest

import smsgate
from smsgate import DeliveryReport, DeliveryStatus
from smsgate.default_plugins.memory import ALL_CAPABILITIES, InMemoryProvider
from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.receiver import (
    PushGuard,
    PushRequest,
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


# --- a push's arguments --------------------------------------------------------------------------
# A wrong argument to a call is the caller's mistake: it is raised to the caller as a
# ValidationError (ConfigurationError: a receiver that cannot take pushes at all), never answered
# "retry", which the vendor would repeat until it gives up (ipyy: 3 tries, then the push is lost).


def _json_push(mobile: str = "13800138000") -> bytes:
    return json.dumps(
        {"reports": [{"mobile": mobile, "task_id": "T1", "status": "delivered", "vendor_code": "DELIVRD"}]}
    ).encode()


def _report(mobile: str = "13800138000") -> DeliveryReport:
    return DeliveryReport(provider="memory", mobile=mobile, task_id="T1", status=DeliveryStatus.DELIVERED)


_NOT_BYTES = [_json_push().decode(), None, 5, [1, 2]]


@pytest.mark.parametrize("body", _NOT_BYTES)
def test_a_push_body_that_is_no_bytes_is_raised_to_the_caller_and_nothing_stored(
    tmp_path: Path, body: Any
) -> None:
    seen: list[Any] = []
    with Receiver(InMemoryProvider(), seen.append, journal=tmp_path / "j.sqlite3") as receiver:
        for call in (
            receiver.handle,
            receiver.receive,
            receiver.handle_push,
            lambda b: receiver.handle_push(b, defer=False),
        ):
            with pytest.raises(ValidationError, match=f"raw bytes, not {type(body).__name__}") as caught:
                call(body)
            assert caught.value.field == "body"
            assert caught.value.provider == "memory"
        assert cast(SQLiteJournal, receiver.journal).entries() == []
        assert seen == []


@pytest.mark.parametrize("body", _NOT_BYTES)
async def test_the_async_push_methods_refuse_a_body_that_is_no_bytes(tmp_path: Path, body: Any) -> None:
    with Receiver(InMemoryProvider(), print, journal=tmp_path / "j.sqlite3") as receiver:
        for call in (receiver.ahandle, receiver.areceive, receiver.ahandle_push):
            with pytest.raises(ValidationError, match="raw bytes") as caught:
                await call(body)
            assert caught.value.field == "body"
        assert cast(SQLiteJournal, receiver.journal).entries() == []


def test_a_decoded_ipyy_push_is_refused_on_every_attempt_not_answered_retry(tmp_path: Path) -> None:
    """ipyy's gateway tries a push 3 times: a str body answered "error" each time was lost."""
    body = (
        '<?xml version="1.0" encoding="utf-8" ?><returnsms><statusbox><mobile>13800138000</mobile>'
        "<taskid>1</taskid><status>10</status><receivetime>2025-11-26 12:00:00</receivetime>"
        "<errorcode>DELIVRD</errorcode><extno></extno></statusbox></returnsms>"
    )
    with Receiver(provider(), print, journal=tmp_path / "j.sqlite3") as receiver:
        for _ in range(3):
            with pytest.raises(ValidationError, match="not str"):
                receiver.handle(body, "text/xml")  # type: ignore[arg-type]
        assert receiver.handle(body.encode(), "text/xml").body == b"1"


@pytest.mark.parametrize("kind", [bytearray, memoryview])
async def test_a_bytearray_or_memoryview_body_is_read_as_bytes(tmp_path: Path, kind: Any) -> None:
    seen: list[Any] = []
    with Receiver(InMemoryProvider(), seen.append, journal=tmp_path / "j.sqlite3") as receiver:
        assert receiver.handle(kind(_json_push("13800138000"))).body == b"ok"
        assert (await receiver.ahandle(kind(_json_push("13800138001")))).body == b"ok"
        assert receiver.handle(kind(_json_push("13800138000"))).body == b"ok"  # a re-delivery
    assert [event.mobile for event in seen] == ["13800138000", "13800138001"]


@pytest.mark.parametrize("content_type", [5, b"application/json", ["application/json"]])
async def test_a_content_type_that_is_no_text_is_refused(tmp_path: Path, content_type: Any) -> None:
    with Receiver(InMemoryProvider(), print, journal=tmp_path / "j.sqlite3") as receiver:
        with pytest.raises(ValidationError, match="content_type") as caught:
            receiver.handle(_json_push(), content_type)
        assert caught.value.field == "content_type"
        with pytest.raises(ValidationError, match="content_type"):
            await receiver.ahandle(_json_push(), content_type)
        assert cast(SQLiteJournal, receiver.journal).entries() == []
        assert receiver.handle(_json_push(), "application/json").body == b"ok"
        assert receiver.handle(_json_push(), None).body == b"ok"


async def test_a_pull_only_receiver_refuses_a_push_instead_of_answering_retry(tmp_path: Path) -> None:
    vendor = pull_only()
    with Receiver(vendor, print, journal=tmp_path / "j.sqlite3") as receiver:
        for call in (receiver.handle, receiver.receive, receiver.handle_push):
            with pytest.raises(ConfigurationError, match="callbacks") as caught:
                call(_json_push())
            assert caught.value.provider == "pullonly"
        for acall in (receiver.ahandle, receiver.areceive, receiver.ahandle_push):
            with pytest.raises(ConfigurationError, match="callbacks"):
                await acall(_json_push())
        with pytest.raises(ConfigurationError, match="callbacks"):
            receiver.admit(PushRequest(), _json_push())
        # its pulls still go through
        assert len(receiver.store_pulled([_report()])) == 1


# --- admit and PushRequest -----------------------------------------------------------------------


class _Signed(InMemoryProvider):
    """Records the bodies verify_push is given."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[Any] = []

    def verify_push(self, headers: Any, body: bytes, url: str) -> bool:
        self.verified.append(body)
        return True


@pytest.mark.parametrize("request_", [None, {"peer": "127.0.0.1"}, "127.0.0.1"])
def test_admit_refuses_what_is_no_push_request(tmp_path: Path, request_: Any) -> None:
    with Receiver(InMemoryProvider(), print, journal=tmp_path / "j.sqlite3") as receiver:
        with pytest.raises(ValidationError, match="PushRequest") as caught:
            receiver.admit(request_, b"")
        assert caught.value.field == "request"


def test_admit_refuses_a_body_that_is_no_bytes_and_reads_a_bytearray(tmp_path: Path) -> None:
    vendor = _Signed()
    with Receiver(vendor, print, journal=tmp_path / "j.sqlite3") as receiver:
        with pytest.raises(ValidationError, match="raw bytes, not str") as caught:
            receiver.admit(PushRequest(), "{}")  # type: ignore[arg-type]
        assert caught.value.field == "body"
        assert receiver.admit(PushRequest(), bytearray(b"{}")) is None
        assert receiver.admit(PushRequest(), b"{}") is None
    assert vendor.verified == [b"{}", b"{}"]
    assert [type(body) for body in vendor.verified] == [bytes, bytes]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("peer", 5),
        ("peer", b"127.0.0.1"),
        ("peer", ("127.0.0.1", 5000)),
        ("token", 12345),
        ("token", b"s3cret"),
        ("url", None),
        ("url", b"http://127.0.0.1/s3cret"),
        ("headers", None),
        ("headers", [("authorization", "Basic s3cret")]),
        ("headers", "authorization: Basic s3cret"),
    ],
)
def test_a_push_request_field_of_the_wrong_type_is_refused_without_its_value(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=f"PushRequest.{field}") as caught:
        PushRequest(**{field: value})
    assert caught.value.field == field
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)
    with pytest.raises(ValidationError, match=f"PushRequest.{field}"):
        attrs.evolve(PushRequest(), **{field: value})


@pytest.mark.parametrize(
    ("guard", "headers"),
    [
        (PushGuard(basic=("user", "s3cret")), {"authorization": b"Basic dXNlcjpzM2NyZXQ="}),
        (PushGuard(basic=("user", "s3cret")), MappingProxyType({"authorization": None})),
        (
            PushGuard(allow=["203.0.113.0/24"], trusted_proxies=["127.0.0.1"]),
            {"x-forwarded-for": ["203.0.113.5"]},
        ),
    ],
)
def test_a_header_the_guard_reads_that_is_no_text_is_refused(
    tmp_path: Path, guard: PushGuard, headers: Any
) -> None:
    """The headers are not walked when a request is built (once per push): the guard looks at
    each value it reads. It raised AttributeError on a bytes Authorization or a list."""
    request = PushRequest(peer="127.0.0.1", headers=headers)
    with pytest.raises(ValidationError, match=r"PushRequest\.headers") as caught:
        guard.check(request)
    assert caught.value.field == "headers"
    assert "s3cret" not in str(caught.value)
    assert "dXNlcjpzM2NyZXQ" not in str(caught.value)
    with Receiver(InMemoryProvider(), print, journal=tmp_path / "j.sqlite3", guard=guard) as receiver:
        with pytest.raises(ValidationError, match=r"PushRequest\.headers"):
            receiver.admit(request, b"{}")


def test_the_valid_push_requests_stay_accepted() -> None:
    PushRequest()
    PushRequest(peer="::1", headers={"host": "x"}, token="t", url="http://127.0.0.1/")
    request = PushRequest(headers=MappingProxyType({"authorization": "Basic eDp5"}))
    assert request.headers["authorization"] == "Basic eDp5"


# --- store_pulled and dispatch -------------------------------------------------------------------


@pytest.mark.parametrize("events", [None, 5, "13800138000", b"x", [5], [_report(), None]])
def test_store_pulled_refuses_what_is_no_events_and_stores_nothing(tmp_path: Path, events: Any) -> None:
    with Receiver(InMemoryProvider(), print, journal=tmp_path / "j.sqlite3") as receiver:
        with pytest.raises(ValidationError, match="store_pulled") as caught:
            receiver.store_pulled(events)
        assert caught.value.field == "events"
        assert "13800138000" not in str(caught.value)
        assert cast(SQLiteJournal, receiver.journal).entries() == []


def test_store_pulled_takes_any_iterable_of_events(tmp_path: Path) -> None:
    """A generator was stored, then len() raised TypeError: the caller was told the stored
    pull had failed."""
    pulled = [_report("13800138000"), _report("13800138001")]
    with Receiver(InMemoryProvider(), print, journal=tmp_path / "j.sqlite3") as receiver:
        assert receiver.store_pulled(event for event in pulled) == pulled
        assert receiver.store_pulled(tuple(pulled)) == []


@pytest.mark.parametrize("events", [None, 5, "x", [5], (_report(), "13800138000")])
async def test_dispatch_refuses_what_is_no_events_and_dispatches_none(tmp_path: Path, events: Any) -> None:
    seen: list[Any] = []
    with Receiver(InMemoryProvider(), seen.append, journal=tmp_path / "j.sqlite3") as receiver:
        with pytest.raises(ValidationError, match=r"dispatch takes") as caught:
            receiver.dispatch(events)
        assert caught.value.field == "events"
        with pytest.raises(ValidationError, match=r"adispatch takes"):
            await receiver.adispatch(events)
        assert seen == []
        assert receiver.dispatch(iter([_report()])) == 1
        assert seen == [_report()]


# --- the adapters hand the receiver bytes --------------------------------------------------------


class _BodyTypes(InMemoryProvider):
    """Records the type of every body it parses."""

    def __init__(self) -> None:
        super().__init__()
        self.types: list[type] = []

    def parse_callback(self, body: bytes, content_type: str | None = None) -> list[Any]:
        self.types.append(type(body))
        return super().parse_callback(body, content_type)


async def test_the_asgi_app_hands_the_receiver_bytes(tmp_path: Path) -> None:
    vendor = _BodyTypes()
    with Receiver(vendor, print, journal=tmp_path / "j.sqlite3") as receiver:
        transport = httpx.ASGITransport(app=receiver.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            chunks = [_json_push()[:10], _json_push()[10:]]

            async def body() -> Any:
                for chunk in chunks:
                    yield chunk

            assert (await client.post("/", content=_json_push("13800138001"))).content == b"ok"
            assert (await client.post("/", content=body())).content == b"ok"
    assert vendor.types == [bytes, bytes]


def test_the_wsgi_app_hands_the_receiver_bytes(tmp_path: Path) -> None:
    vendor = _BodyTypes()
    with Receiver(vendor, print, journal=tmp_path / "j.sqlite3") as receiver:
        app = receiver.wsgi_app()
        body = _json_push()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
        }
        out = app(environ, lambda status, headers: None)
        assert b"".join(out) == b"ok"
        getattr(out, "close", lambda: None)()
    assert vendor.types == [bytes]
