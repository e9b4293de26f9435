"""The builders and parsers against the sandbox over a real loopback socket: every operation,
refused signatures, vendor refusals, faults and pushes. The sandbox checks signatures with its
own verifier, so a passing send means client and sandbox agree on the V3 rules."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsgate import DeliveryStatus, Receipt
from smsgate.exceptions import (
    AuthenticationError,
    ContentError,
    InsufficientBalanceError,
    InvalidRecipientError,
    MalformedReplyError,
    MessageRejectedError,
    ProviderError,
    RateLimitedError,
    SignatureError,
)
from smsgate.receiver import ServerThread
from smsgate_aliyun._build import (
    BatchEntry,
    RequestContext,
    _rpc_request,
    build_query_send_details,
    build_send_batch_sms,
    build_send_sms,
)
from smsgate_aliyun._parse import CHINA, parse_query_reply, parse_send_reply
from smsgate_aliyun._signing import AccessKey
from smsgate_aliyun.sandbox import Sandbox

from .conftest import KEY_ID, NOTICE, SIGN, TEMPLATE, Receiver, context, default_account

pytestmark = pytest.mark.e2e
PHONE = "13800138000"


def send(client: httpx.Client, request: httpx.Request, recipients: list[str]) -> Receipt:
    response = client.send(request)
    return parse_send_reply(
        response.content, status_code=response.status_code, provider="aliyun", recipients=recipients
    )


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def test_send_sms_is_accepted_recorded_and_found_by_query(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    request = build_send_sms(
        context(served.url),
        phone_numbers=[PHONE],
        sign_name=SIGN,
        template_code=TEMPLATE,
        params={"code": "1439"},
        out_id="order-42",
    )
    receipt = send(client, request, [PHONE])
    (record,) = sandbox.state.records
    assert receipt.task_id == record.biz_id
    assert record.content == "【腾飞】您的验证码：1439，5分钟内有效。"
    assert record.out_id == "order-42"

    query = build_query_send_details(
        context(served.url), phone_number=PHONE, send_date=today(), biz_id=record.biz_id
    )
    response = client.send(query)
    page = parse_query_reply(
        response.content, status_code=response.status_code, provider="aliyun", biz_id=record.biz_id
    )
    (report,) = page.reports
    assert report.status is DeliveryStatus.DELIVERED
    assert report.vendor_code == "DELIVERED"
    assert report.task_id == record.biz_id
    assert report.raw["OutId"] == "order-42"


def test_send_sms_to_several_numbers_records_each(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    numbers = ["13800138000", "13900139000", "+8613700137000"]
    request = build_send_sms(
        context(served.url),
        phone_numbers=numbers,
        sign_name=SIGN,
        template_code=TEMPLATE,
        params={"code": "1"},
    )
    receipt = send(client, request, numbers)
    assert receipt.accepted == 3
    assert [r.phone for r in sandbox.state.records] == numbers


def test_send_batch_sms_personalises_each_number(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    entries = [
        BatchEntry("13800138000", SIGN, {"name": "张三"}),
        BatchEntry("13900139000", "阿里云", {"name": "李四"}, ext="12"),
    ]
    receipt = send(
        client,
        build_send_batch_sms(context(served.url), template_code=NOTICE, entries=entries),
        ["13800138000", "13900139000"],
    )
    contents = [r.content for r in sandbox.state.records]
    assert contents == ["【腾飞】张三，您的订单已发货。", "【阿里云】李四，您的订单已发货。"]
    assert {r.biz_id for r in sandbox.state.records} == {receipt.task_id}
    assert sandbox.state.records[1].ext == "12"


def test_a_pending_message_is_settled_then_reported_and_pushed(
    sandbox: Sandbox, receiver: tuple[Receiver, ServerThread], client: httpx.Client
) -> None:
    rec, rec_server = receiver
    sandbox.add_account(default_account(outcome="pending", callback_url=f"{rec_server.url}report"))
    with ServerThread(sandbox.app) as server:
        receipt = send(
            client,
            build_send_sms(
                context(server.url),
                phone_numbers=[PHONE],
                sign_name=SIGN,
                template_code=TEMPLATE,
                params={"code": "9"},
            ),
            [PHONE],
        )
        biz_id = receipt.task_id

        def query() -> httpx.Response:
            return client.send(
                build_query_send_details(
                    context(server.url), phone_number=PHONE, send_date=today(), biz_id=biz_id
                )
            )

        pending = parse_query_reply(query().content, status_code=200, provider="aliyun", biz_id=biz_id)
        assert [r.status for r in pending.reports] == [DeliveryStatus.PENDING]
        assert rec.reports == []

        settled = client.post(
            f"{server.url}admin/settle",
            json={"biz_id": biz_id, "phone_number": PHONE, "outcome": "failed", "err_code": "MK:0005"},
        )
        assert settled.status_code == 200
        failed = parse_query_reply(query().content, status_code=200, provider="aliyun", biz_id=biz_id)
        assert [(r.status, r.vendor_code) for r in failed.reports] == [(DeliveryStatus.FAILED, "MK:0005")]

        pushes = client.get(f"{server.url}admin/pushes").json()
    assert [p["acknowledged"] for p in pushes] == [True]
    (pushed,) = rec.reports
    assert (pushed.task_id, pushed.status, pushed.vendor_code) == (biz_id, DeliveryStatus.FAILED, "MK:0005")


def test_an_inbound_message_is_pushed_and_acknowledged(
    sandbox: Sandbox, receiver: tuple[Receiver, ServerThread], client: httpx.Client
) -> None:
    rec, rec_server = receiver
    sandbox.add_account(default_account(callback_url=f"{rec_server.url}inbound"))
    with ServerThread(sandbox.app) as server:
        answer = client.post(
            f"{server.url}admin/inbound",
            json={"key_id": "LTAI5tSandboxKey", "phone_number": PHONE, "content": "退订", "dest_code": "12"},
        )
        assert answer.status_code == 200
        pushes = client.get(f"{server.url}admin/pushes").json()
    assert pushes[0]["kind"] == "inbound"
    assert pushes[0]["acknowledged"] is True
    (message,) = rec.inbound
    assert (message.mobile, message.text, message.ext) == (PHONE, "退订", "12")


def test_inbound_messages_are_numbered_by_the_sandbox_unless_given_a_sequence_id(
    sandbox: Sandbox, receiver: tuple[Receiver, ServerThread], client: httpx.Client
) -> None:
    """The service numbers every inbound message (sequence_id); the sandbox gave each one 1, so
    two alike in every other field looked like one push delivered twice."""
    rec, rec_server = receiver
    sandbox.add_account(default_account(callback_url=f"{rec_server.url}inbound"))
    reply = {"key_id": KEY_ID, "phone_number": PHONE, "content": "好的"}
    with ServerThread(sandbox.app) as server:
        numbers = [client.post(f"{server.url}admin/inbound", json=reply).json()["sequence_id"] for _ in "ab"]
        given = client.post(f"{server.url}admin/inbound", json={**reply, "sequence_id": 77}).json()
        client.get(f"{server.url}admin/pushes")
    assert numbers[0] != numbers[1]
    assert given["sequence_id"] == 77
    assert sorted(m.task_id for m in rec.inbound) == sorted([str(numbers[0]), str(numbers[1]), "77"])


# --- refused signatures ---------------------------------------------------------------------


def _request(url: str, **ctx: object) -> httpx.Request:
    return build_send_sms(
        context(url, **ctx),
        phone_numbers=[PHONE],
        sign_name=SIGN,
        template_code=TEMPLATE,
        params={"code": "1"},
    )


def test_a_wrong_secret_is_refused_as_signature_does_not_match(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    response = client.send(_request(served.url, secret="not-the-secret"))
    assert response.status_code == 400
    with pytest.raises(AuthenticationError) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.code == "SignatureDoesNotMatch"
    assert sandbox.state.records == []


def test_an_unknown_key_id_is_refused(served: ServerThread, client: httpx.Client) -> None:
    response = client.send(_request(served.url, key_id="LTAI-unknown"))
    with pytest.raises(AuthenticationError) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.code == "InvalidAccessKeyId.NotFound"


def test_a_body_changed_after_signing_is_refused(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    signed = _request(served.url)
    tampered = httpx.Request(
        "POST",
        signed.url,
        headers=signed.headers,
        content=signed.content.replace(b"13800138000", b"13900139000"),
    )
    response = client.send(tampered)
    assert response.json()["Code"] == "SignatureDoesNotMatch"
    assert sandbox.state.records == []


def test_a_replayed_request_is_refused_as_nonce_used(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    request = _request(served.url, nonce="fixed-nonce-1")
    send(client, request, [PHONE])
    again = client.send(_request(served.url, nonce="fixed-nonce-1"))
    with pytest.raises(ProviderError) as info:
        parse_send_reply(again.content, status_code=again.status_code, provider="aliyun", recipients=[PHONE])
    assert info.value.code == "SignatureNonceUsed"
    assert not info.value.failover_safe
    assert len(sandbox.state.records) == 1


def test_a_stale_signing_time_is_refused(served: ServerThread, client: httpx.Client) -> None:
    stale = RequestContext(
        base_url=served.url,
        key=AccessKey("LTAI5tSandboxKey", "sandbox-secret-0123456789"),
        now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20),
        nonce="n-stale",
    )
    response = client.send(
        build_send_sms(stale, phone_numbers=[PHONE], sign_name=SIGN, template_code=TEMPLATE)
    )
    assert response.json()["Code"] == "InvalidTimeStamp.Expired"


# --- vendor refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "cls", "code"),
    [
        ({"sign_name": "没有的签名"}, SignatureError, "isv.SMS_SIGNATURE_ILLEGAL"),
        ({"template_code": "SMS_999"}, ContentError, "isv.SMS_TEMPLATE_ILLEGAL"),
        ({"params": {}}, ContentError, "isv.TEMPLATE_MISSING_PARAMETERS"),
        ({"params": {"code": "http://x.invalid"}}, ContentError, "isv.PARAM_NOT_SUPPORT_URL"),
        ({"phone_numbers": ["12345"]}, InvalidRecipientError, "isv.MOBILE_NUMBER_ILLEGAL"),
    ],
)
def test_vendor_refusals_come_back_classified(
    *,
    served: ServerThread,
    sandbox: Sandbox,
    client: httpx.Client,
    changes: dict[str, object],
    cls: type[ProviderError],
    code: str,
) -> None:
    args: dict[str, object] = {
        "phone_numbers": [PHONE],
        "sign_name": SIGN,
        "template_code": TEMPLATE,
        "params": {"code": "1"},
    }
    args.update(changes)
    response = client.send(build_send_sms(context(served.url), **args))  # type: ignore[arg-type]
    with pytest.raises(cls) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.code == code
    assert info.value.vendor_message
    assert sandbox.state.records == []


def test_a_missing_parameter_is_a_message_refusal(served: ServerThread, client: httpx.Client) -> None:
    """The builders never omit SignName; a request signed without it shows the service's answer."""
    unsigned = _rpc_request(context(served.url), "SendSms", {"PhoneNumbers": PHONE, "TemplateCode": TEMPLATE})
    response = client.send(unsigned)
    assert response.status_code == 400
    with pytest.raises(MessageRejectedError) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.code == "MissingSignName"


def test_an_empty_balance_is_insufficient_balance(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.add_account(default_account(balance=0))
    with ServerThread(sandbox.app) as server:
        response = client.send(_request(server.url))
    with pytest.raises(InsufficientBalanceError):
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )


def test_the_per_number_frequency_control_refuses_the_second_send(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_account(default_account(per_number_limit=1))
    with ServerThread(sandbox.app) as server:
        send(client, _request(server.url), [PHONE])
        response = client.send(_request(server.url))
    with pytest.raises(MessageRejectedError) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert not info.value.failover_safe
    assert len(sandbox.state.records) == 1


# --- faults ---------------------------------------------------------------------------------


def _fault(client: httpx.Client, url: str, **rule: object) -> None:
    assert client.post(f"{url}admin/faults", json=rule).status_code == 200


def test_a_5xx_fault_is_malformed_and_nothing_is_sent(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    _fault(client, served.url, kind="status", status=502, action="SendSms")
    response = client.send(_request(served.url))
    with pytest.raises(MalformedReplyError) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.status_code == 502
    assert sandbox.state.records == []
    send(client, _request(served.url), [PHONE])  # the rule was used once
    assert len(sandbox.state.records) == 1


def test_a_throttling_fault_is_a_rate_limit(served: ServerThread, client: httpx.Client) -> None:
    _fault(
        client,
        served.url,
        kind="code",
        code="Throttling.User",
        message="Request was denied due to user flow control.",
        status=400,
    )
    response = client.send(_request(served.url))
    with pytest.raises(RateLimitedError) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.vendor_message == "Request was denied due to user flow control."


def test_a_garbage_reply_is_malformed_although_the_send_was_made(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    _fault(client, served.url, kind="garbage")
    response = client.send(_request(served.url))
    with pytest.raises(MalformedReplyError):
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert len(sandbox.state.records) == 1


def test_a_dropped_connection_fails_the_exchange_after_the_send_was_made(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client
) -> None:
    _fault(client, served.url, kind="drop", action="SendSms")
    with pytest.raises(httpx.RemoteProtocolError):
        client.send(_request(served.url))
    assert len(sandbox.state.records) == 1


def test_latency_delays_the_reply(served: ServerThread, client: httpx.Client) -> None:
    _fault(client, served.url, kind="latency", seconds=0.3)
    started = time.monotonic()
    send(client, _request(served.url), [PHONE])
    assert time.monotonic() - started >= 0.3
    _fault(client, served.url, kind="latency", seconds=2)
    slow = _request(served.url)
    slow.extensions["timeout"] = {"connect": 1.0, "read": 0.2, "write": 1.0, "pool": 1.0}
    with pytest.raises(httpx.ReadTimeout):
        client.send(slow)


def test_a_latency_fault_serves_a_request_whose_client_gave_up_without_a_traceback(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The fault's docs: the reply comes late, "the request is then served normally". It waited
    before reading the body, so a client that timed out meanwhile was never acted on (no send
    recorded), and the server logged "Exception in ASGI application" with ClientDisconnect's
    traceback. A client that gives up must find its send made, as with the service itself."""
    caplog.set_level(logging.WARNING)
    _fault(client, served.url, kind="latency", seconds=0.5, action="SendSms")
    slow = _request(served.url)
    slow.extensions["timeout"] = {"connect": 1.0, "read": 0.1, "write": 1.0, "pool": 1.0}
    with pytest.raises(httpx.ReadTimeout):
        client.send(slow)
    deadline = time.monotonic() + 3
    while not sandbox.state.records and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # whatever the server logs once the late reply finds nobody
    (record,) = sandbox.state.records
    assert record.phone == PHONE
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in logged] == []
    assert all(r.exc_info is None for r in caplog.records)


def test_a_client_gone_before_its_body_arrived_is_not_served_and_logs_no_traceback(
    served: ServerThread, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Half a request, then the connection closed: nothing to act on, and no
    "Exception in ASGI application" (ClientDisconnect) in the server's log."""
    caplog.set_level(logging.WARNING)
    url = httpx.URL(served.url)
    with socket.create_connection((url.host, url.port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nx-acs-action: SendSms\r\n"
            b"content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\nPhone"
        )
        time.sleep(0.2)  # the app is waiting for the rest of the body
    time.sleep(0.3)  # whatever the server logs once the client is gone
    assert sandbox.state.records == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- admin API ------------------------------------------------------------------------------


def test_the_admin_api_shows_no_secret_and_manages_faults(served: ServerThread, client: httpx.Client) -> None:
    accounts = client.get(f"{served.url}admin/accounts").json()
    assert accounts[0]["key_id"] == "LTAI5tSandboxKey"
    assert "secret" not in json.dumps(accounts)
    assert "sandbox-secret" not in json.dumps(accounts)
    _fault(client, served.url, kind="code", times=None)
    assert len(client.get(f"{served.url}admin/faults").json()) == 1
    assert client.delete(f"{served.url}admin/faults").json() == []
    assert client.post(f"{served.url}admin/faults", json={"kind": "explode"}).status_code == 400
    assert (
        client.post(
            f"{served.url}admin/accounts",
            json={"key_id": "k", "secret": "s", "callback_url": "http://example.com/"},
        ).status_code
        == 400
    )


def test_reset_forgets_records(served: ServerThread, sandbox: Sandbox, client: httpx.Client) -> None:
    send(client, _request(served.url), [PHONE])
    assert client.post(f"{served.url}admin/reset").status_code == 200
    assert client.get(f"{served.url}admin/records").json() == []


# --- client and sandbox agree on signatures, whatever the text -------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    code=st.text(min_size=1, max_size=30).filter(
        lambda t: "://" not in t and t.strip() == t and t.isprintable()
    )
)
def test_any_template_parameter_is_signed_and_verified_alike(
    served: ServerThread, sandbox: Sandbox, client: httpx.Client, code: str
) -> None:
    """The sandbox's own verifier accepts every request the client signs (spaces, *, ~, +,
    Chinese, emoji …), and renders the parameter unchanged."""
    try:
        code.encode("utf-8")
    except UnicodeEncodeError:
        return
    request = build_send_sms(
        context(served.url),
        phone_numbers=[PHONE],
        sign_name=SIGN,
        template_code=TEMPLATE,
        params={"code": code},
    )
    receipt = send(client, request, [PHONE])
    record = sandbox.state.records[-1]
    assert record.biz_id == receipt.task_id
    assert record.content == f"【{SIGN}】您的验证码：{code}，5分钟内有效。"


# --- batch refusals and paging --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "cls", "code"),
    [
        (
            {"PhoneNumberJson": '["13800138000","13900139000"]', "SignNameJson": '["腾飞"]'},
            MessageRejectedError,
            "isv.INVALID_PARAMETERS",
        ),
        (
            {"PhoneNumberJson": "[13800138000", "SignNameJson": '["腾飞"]'},
            ContentError,
            "isv.INVALID_JSON_PARAM",
        ),
        (
            {
                "PhoneNumberJson": json.dumps(["13800138000"] * 101),
                "SignNameJson": json.dumps(["腾飞"] * 101),
            },
            MessageRejectedError,
            "isv.MOBILE_COUNT_OVER_LIMIT",
        ),
        ({"SignNameJson": '["腾飞"]'}, MessageRejectedError, "MissingPhoneNumberJson"),
    ],
)
def test_the_sandbox_refuses_malformed_batches(
    *, served: ServerThread, client: httpx.Client, fields: dict[str, str], cls: type[ProviderError], code: str
) -> None:
    """Requests the builders never make, signed by hand, get the service's refusals."""
    request = _rpc_request(
        context(served.url), "SendBatchSms", {"TemplateCode": NOTICE, "TemplateParamJson": "", **fields}
    )
    response = client.send(request)
    with pytest.raises(cls) as info:
        parse_send_reply(
            response.content, status_code=response.status_code, provider="aliyun", recipients=[PHONE]
        )
    assert info.value.code == code


def test_query_send_details_pages_through_the_records(served: ServerThread, client: httpx.Client) -> None:
    for code in "123":
        send(
            client,
            build_send_sms(
                context(served.url),
                phone_numbers=[PHONE],
                sign_name=SIGN,
                template_code=TEMPLATE,
                params={"code": code},
            ),
            [PHONE],
        )
    pages = []
    for page in (1, 2):
        request = build_query_send_details(
            context(served.url), phone_number=PHONE, send_date=today(), page_size=2, page=page
        )
        response = client.send(request)
        pages.append(parse_query_reply(response.content, status_code=response.status_code, provider="aliyun"))
    assert [len(p.reports) for p in pages] == [2, 1]
    assert {p.total for p in pages} == {3}
    contents = [r.raw["Content"] for p in pages for r in p.reports]
    assert contents == [f"【{SIGN}】您的验证码：{c}，5分钟内有效。" for c in "123"]
