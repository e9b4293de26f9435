"""The sandbox's parts on their own: its signature verifier against the client's signer (pure,
no socket), its refusal rules, fault counting, and its independence from the client's code."""

from __future__ import annotations

import ast
import datetime as dt
import logging
import pathlib
from collections.abc import Mapping

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smsgate_aliyun.sandbox
from smsgate_aliyun._build import build_send_sms
from smsgate_aliyun._signing import AccessKey, canonical_query, sign_headers
from smsgate_aliyun.sandbox import Account, FaultRule, FaultSet, SandboxState
from smsgate_aliyun.sandbox._state import CHINA, Message, VendorError
from smsgate_aliyun.sandbox._verify import verify_request

from .conftest import KEY_ID, SIGN, SK, TEMPLATE, context, default_account

NOW = dt.datetime(2026, 4, 14, 9, 47, 15, tzinfo=dt.UTC)


def verify(request: httpx.Request, *, now: dt.datetime = NOW, state: SandboxState | None = None) -> Account:
    state = state or SandboxState([default_account()])
    headers: Mapping[str, str] = {k.lower(): v for k, v in request.headers.items()}
    return verify_request(
        method=request.method,
        path=request.url.path,
        raw_query=request.url.query.decode("ascii"),
        headers=headers,
        body=request.content,
        find_account=state.account,
        nonce_seen=state.nonce_seen,
        now=now,
    )


def signed_get(params: list[tuple[str, str]], *, secret: str = SK) -> httpx.Request:
    """A request with its parameters in the query string, signed by the client's signer."""
    query = canonical_query(params)
    headers = sign_headers(
        AccessKey(KEY_ID, secret),
        method="GET",
        host="127.0.0.1:9",
        path="/",
        query=query,
        action="QuerySendDetails",
        version="2017-05-25",
        body=b"",
        now=NOW,
        nonce="nonce-" + str(abs(hash(query))),
    )
    return httpx.Request("GET", f"http://127.0.0.1:9/?{query}", headers=headers)


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(params=st.lists(st.tuples(TEXT.filter(bool), TEXT), max_size=5, unique_by=lambda p: p[0]))
def test_the_sandbox_accepts_every_query_the_client_signs(params: list[tuple[str, str]]) -> None:
    """Two independent encoders (the client's byte table, the sandbox's urllib.quote) agree on
    every name and value: spaces, +, *, ~, quotes, CJK, emoji, control characters."""
    assert verify(signed_get(params)).key_id == KEY_ID


@settings(max_examples=100, deadline=None)
@given(
    params=st.lists(st.tuples(TEXT.filter(bool), TEXT), min_size=1, max_size=5, unique_by=lambda p: p[0]),
    extra=TEXT,
)
def test_the_sandbox_refuses_a_query_changed_after_signing(params: list[tuple[str, str]], extra: str) -> None:
    request = signed_get(params)
    changed = [*params[:-1], (params[-1][0], params[-1][1] + extra + "x")]
    tampered = httpx.Request(
        "GET", f"http://127.0.0.1:9/?{canonical_query(changed)}", headers=request.headers
    )
    with pytest.raises(VendorError) as info:
        verify(tampered)
    assert info.value.code == "SignatureDoesNotMatch"


def test_the_sandbox_accepts_the_builders_requests_and_refuses_another_secret() -> None:
    request = build_send_sms(
        context("http://127.0.0.1:9"), phone_numbers=["13800138000"], sign_name=SIGN, template_code=TEMPLATE
    )
    assert verify(request, now=dt.datetime.now(dt.UTC)).key_id == KEY_ID
    other = build_send_sms(
        context("http://127.0.0.1:9", secret="another-secret"),
        phone_numbers=["13800138000"],
        sign_name=SIGN,
        template_code=TEMPLATE,
    )
    with pytest.raises(VendorError) as info:
        verify(other, now=dt.datetime.now(dt.UTC))
    assert (info.value.code, info.value.http_status) == ("SignatureDoesNotMatch", 400)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: h.pop("authorization"), "IncompleteSignature"),
        (
            lambda h: h.__setitem__(
                "authorization",
                h["authorization"].replace("Credential=LTAI5tSandboxKey", "Credential=nobody"),
            ),
            "InvalidAccessKeyId.NotFound",
        ),
        (lambda h: h.__setitem__("x-acs-date", "2026-04-14T10:47:15Z"), "InvalidTimeStamp.Expired"),
        (lambda h: h.__setitem__("x-acs-date", "yesterday"), "InvalidTimeStamp.Format"),
        (lambda h: h.__setitem__("x-acs-content-sha256", "0" * 64), "SignatureDoesNotMatch"),
        (lambda h: h.__setitem__("x-acs-extra", "unsigned"), "IncompleteSignature"),
        (lambda h: h.__setitem__("x-acs-action", "SendBatchSms"), "SignatureDoesNotMatch"),
    ],
)
def test_each_signature_check_refuses_with_the_service_s_code(mutate: object, code: str) -> None:
    request = signed_get([("PhoneNumber", "13800138000")])
    headers = {k.lower(): v for k, v in request.headers.items()}
    mutate(headers)  # type: ignore[operator]
    state = SandboxState([default_account()])
    with pytest.raises(VendorError) as info:
        verify_request(
            method="GET",
            path="/",
            raw_query=request.url.query.decode(),
            headers=headers,
            body=b"",
            find_account=state.account,
            nonce_seen=state.nonce_seen,
            now=NOW,
        )
    assert info.value.code == code


def test_a_nonce_is_accepted_once_per_key() -> None:
    state = SandboxState([default_account()])
    request = signed_get([("PhoneNumber", "13800138000")])
    verify(request, state=state)
    with pytest.raises(VendorError) as info:
        verify(request, state=state)
    assert info.value.code == "SignatureNonceUsed"


def test_the_sandbox_does_not_import_the_client_s_wire_code() -> None:
    """Client and sandbox check each other only if they share no implementation."""
    folder = pathlib.Path(smsgate_aliyun.sandbox.__file__).parent
    client_modules = {"_signing", "_build", "_parse", "_push", "_codes", "_provider", "_settings"}
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = set(node.module.split("."))
                assert not (node.level == 0 and "smsgate_aliyun" in parts and parts & client_modules), path
                assert not (node.level >= 2 and parts & client_modules), path


# --- state rules ----------------------------------------------------------------------------


def state_at(when: dt.datetime, **changes: object) -> tuple[SandboxState, Account]:
    account = default_account(**changes)
    clock = [when]
    state = SandboxState([account], clock=lambda: clock[0])
    state.clock_box = clock  # type: ignore[attr-defined]
    return state, account


def test_a_long_text_costs_several_parts_of_the_balance() -> None:
    state, account = state_at(
        dt.datetime(2026, 4, 14, 17, 0, tzinfo=CHINA), balance=3, templates={"SMS_1": "${t}"}
    )
    with pytest.raises(VendorError) as info:
        state.send(account, [Message("13800138000", SIGN, {"t": "字" * 200})], "SMS_1")
    assert info.value.code == "isv.AMOUNT_NOT_ENOUGH"
    assert state.records == []
    state.send(account, [Message("13800138000", SIGN, {"t": "字" * 100})], "SMS_1")
    assert account.balance == 1  # 【腾飞】 + 100 characters = 2 parts of 67


def test_the_frequency_control_counts_per_number_and_sign_within_a_minute() -> None:
    start = dt.datetime(2026, 4, 14, 17, 0, tzinfo=CHINA)
    state, account = state_at(start, per_number_limit=1)
    one = [Message("13800138000", SIGN, {"code": "1"})]
    state.send(account, one, TEMPLATE)
    state.send(account, [Message("13900139000", SIGN, {"code": "1"})], TEMPLATE)  # another number
    state.send(account, [Message("13800138000", "阿里云", {"code": "1"})], TEMPLATE)  # another sign
    with pytest.raises(VendorError) as info:
        state.send(account, one, TEMPLATE)
    assert info.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    state.clock_box[0] = start + dt.timedelta(seconds=61)  # type: ignore[attr-defined]
    state.send(account, one, TEMPLATE)


def test_query_filters_by_account_number_china_date_and_biz_id() -> None:
    late = dt.datetime(2026, 4, 14, 23, 30, tzinfo=CHINA)  # 15:30 UTC: the China date is the 14th
    state, account = state_at(late)
    biz, _ = state.send(account, [Message("13800138000", SIGN, {"code": "1"})], TEMPLATE)
    state.send(account, [Message("13800138000", SIGN, {"code": "2"})], TEMPLATE)
    assert len(state.query(KEY_ID, "13800138000", dt.date(2026, 4, 14), None)) == 2
    assert [r.biz_id for r in state.query(KEY_ID, "13800138000", dt.date(2026, 4, 14), biz)] == [biz]
    assert state.query(KEY_ID, "13800138000", dt.date(2026, 4, 15), None) == []
    assert state.query("other-key", "13800138000", dt.date(2026, 4, 14), None) == []


def test_settling_an_unknown_message_is_a_key_error() -> None:
    state, _ = state_at(NOW.astimezone(CHINA))
    with pytest.raises(KeyError):
        state.settle("nope", "13800138000", "delivered")


def test_a_fault_rule_is_used_its_number_of_times_and_only_for_its_action() -> None:
    faults = FaultSet()
    faults.add(FaultRule(kind="status", action="SendSms", times=2))
    assert faults.take("QuerySendDetails") is None
    assert faults.take("SendSms") is not None
    assert faults.take("SendSms") is not None
    assert faults.take("SendSms") is None
    faults.add(FaultRule(kind="latency", times=None))
    assert all(faults.take("SendSms") is not None for _ in range(5))
    with pytest.raises(ValueError, match="fault kind"):
        FaultRule(kind="explode")  # type: ignore[arg-type]


def test_pushes_go_only_to_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Account("k", "s", callback_url="http://example.com/report")
    assert Account("k", "s", callback_url="http://[::1]:8080/report").callback_url


def test_the_account_secret_is_in_no_repr_and_no_admin_view() -> None:
    account = default_account()
    assert SK not in repr(account)
    assert "secret" not in account.public()


def test_a_send_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"Code": "OK", "BizId": "1"}))
    with httpx.Client(transport=transport) as client:
        client.send(
            build_send_sms(
                context("https://dysmsapi.aliyuncs.com"),
                phone_numbers=["13800138000"],
                sign_name=SIGN,
                template_code=TEMPLATE,
            )
        )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "dysmsapi.aliyuncs.com" in logged  # httpx did log the request line
    assert SK not in logged
    assert "13800138000" not in logged
    assert KEY_ID not in logged
