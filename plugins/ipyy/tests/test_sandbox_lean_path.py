"""The sandbox serves plain sends (sms.aspx, smsGBK.aspx, smsJson.aspx) straight from the ASGI
scope (issue 11). These tests drive the same requests through that lean path and through
Starlette's general path (the same app with a pass-through middleware added, which turns the
lean path off) and require byte-identical replies and identical state: the inspection log,
balances, task ids and the reports to pull, with and without faults."""

from __future__ import annotations

import datetime as dt
import gc
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.responses import Response
from starlette.routing import Route

from smsgate_ipyy._crypto import md5_upper
from smsgate_ipyy.sandbox import Account, SandboxConfig, SandboxState, create_app
from smsgate_ipyy.sandbox._app import fault_logger
from smsgate_ipyy.sandbox._codes import code
from smsgate_ipyy.sandbox._faults import FaultMiddleware, FaultSet
from smsgate_ipyy.sandbox._push import PushWorker
from smsgate_ipyy.sandbox._runner import _Lifespan
from smsgate_ipyy.sandbox._state import _DUE, _TASK_ID, CHINA, _task_id, _timestamp
from smsgate_ipyy.sandbox.endpoints._common import (
    _SIGNATURE,
    ReplyFormat,
    _merge_pairs,
    _unquote,
    check_mobiles,
    returnsms,
    send_reply,
    signed,
    valid_mobile,
)

SIGNED = "您的验证码 a+b=c&d%\\：1439【腾飞】"
NOW = dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC)
FORM = [(b"content-type", b"application/x-www-form-urlencoded")]

Message = dict[str, Any]
Request = tuple[str, str, bytes, list[tuple[bytes, bytes]], list[bytes], bool]


def _config() -> SandboxConfig:
    return SandboxConfig(
        accounts=[
            Account(account="demo", password="demo-pass", userid="1001", sms_balance=100, mms_balance=10),
            Account(account="poor", password="poor-pass", userid="1003", sms_balance=1, mms_balance=0),
            Account(
                account="later",
                password="later-pass",
                userid="1004",
                sms_balance=0,
                mms_balance=0,
                pay_mode="后付",
                require_signature=False,
                extno_allowed=False,
            ),
        ],
        report_delay=2.0,
        report_outcomes={"4": "MY:0001"},
    )


def _form(encoding: str = "utf-8", **overrides: str) -> bytes:
    fields = {
        "action": "send",
        "userid": "1001",
        "account": "demo",
        "password": md5_upper("demo-pass"),
        "mobile": "13800138000",
        "content": SIGNED,
        "sendTime": "",
        "extno": "",
    }
    fields.update(overrides)
    return urllib.parse.urlencode(fields, encoding=encoding).encode("ascii")


def _post(
    path: str, body: bytes, *, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> Request:
    return ("POST", path, query, FORM if headers is None else headers, [body], False)


def _requests() -> list[Request]:
    """Plain sends as clients make them, and as they get them wrong."""
    head = b"action=send&account=demo&password=demo-pass&mobile=13800138000&content="
    raw_gbk, raw_utf8 = head + SIGNED.encode("gbk"), head + SIGNED.encode()
    clean = "您的验证码：1439【腾飞】"
    raw_gbk_ok, raw_utf8_ok = head + clean.encode("gbk"), head + clean.encode()
    cased = b"ACTION=send&Account=demo&account=other&PASSWORD=demo-pass&mobile=13800138000&content=hi"
    in_query = b"content=" + urllib.parse.quote(SIGNED).encode()
    two_types = [(b"content-type", b"text/plain"), (b"content-type", b"multipart/x")]
    return [
        _post("/sms.aspx", _form()),
        _post("/smsGBK.aspx", _form("gbk")),
        _post("/smsJson.aspx", _form()),
        _post("/smsGBK.aspx", raw_gbk),
        _post("/sms.aspx", raw_utf8),
        _post("/smsGBK.aspx", raw_gbk_ok),
        _post("/smsJson.aspx", raw_utf8_ok),
        _post("/smsGBK.aspx", raw_utf8_ok),
        _post("/SMS.ASPX", _form(mobile="13800138000,13900139004,")),
        _post("//smsJson.aspx", _form(mobile="13900139004")),
        _post("/sms.aspx", _form(password="demo-pass", extno="12", sendTime="2026-04-15 08:00:00")),
        _post("/sms.aspx", _form(sendTime="tomorrow")),
        _post("/sms.aspx", _form(extno="123456")),
        _post("/sms.aspx", _form(password="wrong")),
        _post("/sms.aspx", _form(account="nobody")),
        _post("/sms.aspx", _form(account="")),
        _post("/smsJson.aspx", _form(password="")),
        _post("/sms.aspx", _form(mobile="")),
        _post("/sms.aspx", _form(mobile="1380013800x")),
        _post("/sms.aspx", _form(content="")),
        _post("/sms.aspx", _form(content="no signature")),
        _post("/sms.aspx", _form(content="x" * 1100)),
        _post("/sms.aspx", _form(account="poor", password="poor-pass", mobile="13800138000,13800138001")),
        _post("/sms.aspx", _form(account="later", password="later-pass", content="unsigned", extno="7")),
        _post("/sms.aspx", _form(account="later", password="later-pass", content="unsigned")),
        _post("/sms.aspx", _form(account="nobody", password=md5_upper("demo-pass"))),
        _post("/sms.aspx", _form(password=md5_upper("wrong"))),
        _post("/smsJson.aspx", _form(account="", password="")),
        _post("/sms.aspx", _form(account="", password=md5_upper("demo-pass"))),
        _post("/sms.aspx", head + b"a%5Cx41\\x41\\%41%E3%80%90%E8%85%BE%E9%A3%9E%E3%80%91"),
        _post("/sms.aspx", head + b"a%5c%4%E3%80%90%E8%85%BE%E9%A3%9E%E3%80%91"),
        _post("/sms.aspx", _form(action="overage")),
        _post("/smsGBK.aspx", _form("gbk", action="OVERAGE", password="wrong")),
        _post("/smsJson.aspx", _form(action="overage", account="later", password="later-pass")),
        _post("/sms.aspx", _form(action="dance")),
        _post("/sms.aspx", cased),
        _post("/sms.aspx", head + b"plain+words&Content=again&EXTNO=1"),
        _post("/sms.aspx", b"CONTENT=%E3%80%90%E8%85%BE%E9%A3%9E%E3%80%91hi&Mobile=13800138000&" + head[:-9]),
        _post("/sms.aspx", head + b"a%26b%3Dc%E3%80%90%E8%85%BE%E9%A3%9E%E3%80%91"),
        _post("/sms.aspx", _form(content="overridden"), query=in_query),
        _post("/sms.aspx", _form(), headers=[]),
        _post("/sms.aspx", _form(), headers=two_types),
        _post("/sms.aspx", b""),
        _post("/sms.aspx", b"&&=&%zz&%4=%&+=+"),
        ("POST", "/sms.aspx", b"", FORM, [_form()[:40], _form()[40:], b""], False),
        ("GET", "/sms.aspx", _form(), [], [b""], False),
        ("GET", "/smsJson.aspx", b"action=overage&account=demo&password=demo-pass", [], [b""], False),
        ("HEAD", "/sms.aspx", _form(), [], [b""], False),
        ("PUT", "/sms.aspx", b"", FORM, [_form()], False),
        _post("/sms.aspx", _multipart(), headers=[(b"content-type", b"multipart/form-data; boundary=XyZ")]),
        ("POST", "/sms.aspx", b"", FORM, [_form()[:40]], True),
    ]


def _multipart() -> bytes:
    parts = [(b"action", b"send"), (b"account", b"demo"), (b"password", b"demo-pass")]
    parts += [(b"mobile", b"13800138000"), (b"content", SIGNED.encode())]
    body = b"".join(
        b'--XyZ\r\nContent-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value + b"\r\n"
        for name, value in parts
    )
    return body + b"--XyZ--\r\n"


class _PassThrough:
    """A middleware that only passes requests on, noting their paths: with it added to the
    app, nothing takes the lean path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append(scope["path"])
        await self.app(scope, receive, send)


async def _drive(app: Any, request: Request) -> tuple[list[Message], str | None, dict[str, Any]]:
    """Call ``app`` with one request: the messages it sent, the exception it raised, its scope."""
    method, path, query, headers, chunks, disconnect = request
    incoming: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1 or disconnect}
        for index, chunk in enumerate(chunks)
    ]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8080"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    except Exception as exc:
        return sent, type(exc).__name__, scope
    return sent, None, scope


Wrap = Callable[[Any, SandboxState], Any]


def _apps(wrap: Wrap = lambda app, _: app) -> tuple[Any, SandboxState, Any, SandboxState]:
    """The lean app and the general one, each with its own state on the same fixed clock."""
    lean_state = SandboxState(_config(), clock=lambda: NOW)
    general_state = SandboxState(_config(), clock=lambda: NOW)
    general = create_app(state=general_state)
    general.add_middleware(_PassThrough)
    lean = wrap(create_app(state=lean_state), lean_state)
    return lean, lean_state, wrap(general, general_state), general_state


def _state_of(state: SandboxState) -> dict[str, Any]:
    state.flush_reports()
    return {
        "log": state.requests(),
        "accounts": state.accounts(),
        "reports": {name: state.pull_reports(name, 1000) for name in ("demo", "poor", "later")},
        "pending": state.pending_count(),
    }


async def _compare(wrap: Wrap = lambda app, _: app) -> int:
    """Every request through both apps: identical messages, errors and state. Returns how
    many went the lean way (the general app's Starlette router never saw them)."""
    lean, lean_state, general, general_state = _apps(wrap)
    lean_app = lean.inner if isinstance(lean, _Lifespan) else lean
    lean_app = lean_app.app if isinstance(lean_app, FaultMiddleware) else lean_app
    starlette = _PassThrough(lean_app.build_middleware_stack())
    lean_app.middleware_stack = starlette  # counts the requests that reach Starlette's layers
    for request in _requests():
        ours, ours_error, _ = await _drive(lean, request)
        theirs, theirs_error, _ = await _drive(general, request)
        assert (ours, ours_error) == (theirs, theirs_error), request
    assert _state_of(lean_state) == _state_of(general_state)
    assert len(lean_state.requests()) >= len(_requests()) - 2  # every gateway request was logged
    return len(_requests()) - len(starlette.seen)


async def test_the_lean_path_answers_and_records_as_starlette_does() -> None:
    lean_count = await _compare()
    # all but HEAD, PUT, the multipart form and the disconnect went the lean way
    assert lean_count == len(_requests()) - 4


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "latency", "seconds": 0},
        {"kind": "truncate"},
        {"kind": "drop"},
        {"kind": "vendor", "code": 1111},
        {"kind": "outage", "path": "/sms.aspx"},
        {"kind": "latency", "seconds": 0, "probability": 0.5},
    ],
)
async def test_faulted_requests_are_answered_and_logged_alike(rule: dict[str, Any]) -> None:
    def faulty(app: Any, state: SandboxState) -> Any:
        return FaultMiddleware(app, FaultSet([rule], seed=7), fault_logger(state))

    await _compare(faulty)


@pytest.mark.parametrize(
    "rules", [[], [{"kind": "vendor", "code": 1111}], [{"kind": "latency", "seconds": 0, "probability": 0.5}]]
)
async def test_the_served_sandbox_answers_plain_sends_as_its_layers_do(rules: list[dict[str, Any]]) -> None:
    # The runner's outermost layer serves a plain send itself while no fault rule is set.
    def served(app: Any, state: SandboxState) -> Any:
        faults = FaultMiddleware(app, FaultSet(rules, seed=7), fault_logger(state))
        return _Lifespan(faults, PushWorker(state))

    lean_count = await _compare(served)
    if not rules:  # as the app alone: all but HEAD, PUT, the multipart form and the disconnect
        assert lean_count == len(_requests()) - 4


async def test_a_plain_send_s_logged_fields_are_untracked_and_read_with_the_list() -> None:
    # Every send leaves its fields in the log: strings alone, which the collector never walks.
    state = SandboxState(_config(), clock=lambda: NOW)
    app = create_app(state=state)
    numbers = ["13800138000", " 13800138000,13900139004, ,", "", "1380013800x"]
    for mobile in numbers:
        await _drive(app, _post("/sms.aspx", _form(mobile=mobile)))
    assert not any(gc.is_tracked(raw[7]) for raw in state._log)
    logged = [entry["fields"]["mobiles"] for entry in state.requests()]
    assert logged == [["13800138000"], ["13800138000", "13900139004"], [], ["1380013800x"]]
    assert list(state.requests()[0]["fields"]) == ["userid", "mobiles", "content", "ext", "send_time"]


async def test_an_error_in_a_send_is_answered_500_and_raised_alike() -> None:
    lean, lean_state, general, general_state = _apps()

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the state broke")

    lean_state.submit = broken  # type: ignore[method-assign]
    general_state.submit = broken  # type: ignore[method-assign]
    request = _post("/sms.aspx", _form())
    ours, ours_error, _ = await _drive(lean, request)
    theirs, theirs_error, _ = await _drive(general, request)
    assert (ours, ours_error) == (theirs, theirs_error)
    assert ours_error == "RuntimeError"
    assert ours[0]["status"] == 500
    assert ours[1]["body"] == b"Internal Server Error"


async def test_a_middleware_added_to_the_app_sees_every_plain_send() -> None:
    app = create_app(state=SandboxState(_config(), clock=lambda: NOW))
    app.add_middleware(_PassThrough)
    for request in _requests():
        await _drive(app, request)
    assert isinstance(app.middleware_stack, ServerErrorMiddleware)
    added = app.middleware_stack.app
    assert isinstance(added, _PassThrough)
    assert len(added.seen) == len(_requests())


async def test_an_exception_handler_added_to_the_app_turns_the_lean_path_off() -> None:
    app = create_app(state=SandboxState(_config(), clock=lambda: NOW))
    app.add_exception_handler(KeyError, lambda *_: None)  # type: ignore[arg-type]
    _, error, scope = await _drive(app, _post("/sms.aspx", _form()))
    assert error is None
    assert scope["router"] is app.router


def _starlette_returnsms(fmt: str, fields: dict[str, str]) -> Response:
    """The ``<returnsms>`` reply as the sandbox made it with Starlette's Response."""
    if fmt == "json":
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(body, media_type="application/json; charset=utf-8")
    declaration = '<?xml version="1.0" encoding="{}" ?>'.format("gb2312" if fmt == "gbk" else "utf-8")
    rows = "".join(f"\t<{name}>{value}</{name}>\n" for name, value in fields.items())
    text = f"{declaration}\n<returnsms>\n{rows}</returnsms>\n"
    if fmt == "gbk":
        return Response(text.encode("gbk"), media_type="text/xml; charset=gb2312")
    return Response(text.encode(), media_type="text/xml; charset=utf-8")


@pytest.mark.parametrize("fmt", ["xml", "gbk", "json"])
@pytest.mark.parametrize(
    ("name", "remaining", "task_id", "count"),
    [
        ("OK", 99, "2604141747150001", 3),
        ("OK", -5, "1", 1),
        ("AmountNotEnough", 0, "", 0),
        ("ParamError", 0, "", 0),
    ],
)
async def test_send_replies_are_the_bytes_and_headers_starlette_made(
    fmt: ReplyFormat, name: str, remaining: int, task_id: str, count: int
) -> None:
    result = code(name)
    fields = {
        "returnstatus": "Success" if name == "OK" else "Faild",
        "message": result.message,
        "remainpoint": str(remaining),
        "taskID": task_id,
        "successCounts": str(count),
    }
    expected = _starlette_returnsms(fmt, fields)
    for made in (send_reply(fmt, result, remaining, task_id, count), returnsms(fmt, fields)):
        assert (made.status_code, made.raw_headers, made.body) == (200, expected.raw_headers, expected.body)
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)  # noqa: B023 - called before the next iteration

        await made({"type": "http"}, None, send)  # type: ignore[arg-type]
        assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
        assert sent[1]["body"] == expected.body


async def test_a_route_put_ahead_of_the_gateways_answers_a_plain_path() -> None:
    async def own(_: Any) -> Response:
        return Response(b"mine")

    app = create_app(state=SandboxState(_config(), clock=lambda: NOW))
    app.router.routes.insert(0, Route("/sms.aspx", own, methods=["POST"]))
    sent, error, _ = await _drive(app, _post("/sms.aspx", _form()))
    assert error is None
    assert sent[1]["body"] == b"mine"
    assert app.state.sandbox.requests() == []


_PIECES = st.sampled_from(
    [
        *("%", "%E6%82%A8", "%e6%82%a8", "%aB", "%4", "%zz", "+", "=", "&", "\\", "a", "A", "Z9"),
        *("%3D", "%3d", "%%", "%%41", "%0A", "%0D", "\r", "\n", "\r\n", "==", "_", " ", "\t", "%20"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=14).map("".join),
    st.sampled_from(["utf-8", "gbk"]),
)
def test_merged_pairs_are_parse_qsl_s_by_lower_cased_name_first_value_kept(text: str, encoding: str) -> None:
    # the body as bytes (UTF-8, read as GBK too): parse_qsl reads it decoded as the endpoint does
    raw = text.encode("utf-8")
    expected: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(
        raw.decode(encoding, "replace"), keep_blank_values=True, encoding=encoding, errors="replace"
    ):
        expected.setdefault(name.lower(), value)
    merged: dict[str, str] = {}
    _merge_pairs(merged, raw, encoding)
    assert merged == expected


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(_PIECES.filter(lambda piece: piece != "&"), st.text(max_size=3)), max_size=14).map(
        "".join
    ),
    st.sampled_from(["utf-8", "gbk"]),
)
def test_an_escaped_value_is_what_urllib_unquotes(text: str, encoding: str) -> None:
    """Every way _unquote reads a value (as it is, quoted-printable, escape_decode, urllib)
    gives what urllib's unquote gives: a "=", CR, LF or a final "%" in the text, or a "="
    in what a2b_qp made of it, each leave the quoted-printable reading."""
    assert _unquote(text, encoding) == urllib.parse.unquote(text, encoding, "replace")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["【", "】", "a", "签", " ", "\n", "】【"]), max_size=10).map("".join))
def test_a_signature_is_found_where_the_regular_expression_finds_it(text: str) -> None:
    stripped = text.strip()
    assert signed(stripped) == bool(_SIGNATURE.search(stripped))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789１a ", max_size=12))
def test_one_number_is_checked_as_valid_mobile_checks_it(mobile: str) -> None:
    """check_mobiles reads a single number inline: the same verdict as for a list of two."""
    state = SandboxState(_config())
    one = check_mobiles(state, [mobile])
    assert one == (None if valid_mobile(mobile) else "MsisdnError")
    assert one == check_mobiles(state, [mobile, mobile])


async def test_a_clock_in_china_time_gives_what_the_same_instant_in_utc_gives() -> None:
    """The state reads a clock already in China time as it is (astimezone would give the
    same object): the same replies, log, task ids and reports as the UTC clock's."""
    china = NOW.astimezone(dt.timezone(dt.timedelta(hours=8), "CST"))
    china_clock = SandboxState(_config(), clock=lambda: china.astimezone(CHINA))
    utc_clock = SandboxState(_config(), clock=lambda: NOW)
    assert china_clock.now() == utc_clock.now()
    assert china_clock.now().tzinfo is CHINA
    ours, theirs = create_app(state=china_clock), create_app(state=utc_clock)
    for request in _requests():
        assert (await _drive(ours, request))[:2] == (await _drive(theirs, request))[:2], request
    assert _state_of(china_clock) == _state_of(utc_clock)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.sampled_from([CHINA, dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
)
def test_due_times_are_the_timestamps_python_gives(moment: dt.datetime, zone: dt.tzinfo) -> None:
    aware = moment.replace(tzinfo=zone)
    assert _timestamp(aware) == aware.timestamp()
    assert _timestamp(aware.astimezone(CHINA)) == aware.timestamp()


_MOMENTS = st.datetimes(min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2098, 12, 30))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(_MOMENTS, st.sampled_from([dt.datetime(2026, 4, 15, 8, 0, 0, 999_999)])),
            st.sampled_from([CHINA, dt.UTC]),
            st.one_of(st.none(), _MOMENTS),
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([0.0, 5.0, 0.3, 86_400.5]),
)
def test_task_ids_and_due_times_are_worked_out_from_each_moment(
    sends: list[tuple[dt.datetime, dt.tzinfo, dt.datetime | None]], delay: float
) -> None:
    readings = iter(moment.replace(tzinfo=zone) for moment, zone, _ in sends)
    state = SandboxState(attrs.evolve(_config(), report_delay=delay), clock=lambda: next(readings))
    last = 0
    for number, (moment, zone, later) in enumerate(sends, 1):
        send_at = None if later is None else later.replace(tzinfo=CHINA)
        submitted = state.submit("demo", "sms", ["13800138000"], "", send_at)
        now = moment.replace(tzinfo=zone).astimezone(CHINA)
        last = max(_task_id(now, number % 10_000), last + 1)
        assert submitted.task_id == str(last)
        start = send_at if send_at is not None and send_at > now else now
        due = start + dt.timedelta(seconds=delay)
        mine = [(entry[0], entry[_DUE]) for entry in state._pending if entry[_TASK_ID] == str(last)]
        assert mine == [(due.timestamp(), due)]
