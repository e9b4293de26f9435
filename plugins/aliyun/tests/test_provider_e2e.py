"""AliyunProvider end to end over loopback sockets: every operation through smsgate's Gateway
(and AsyncGateway) against the sandbox served by ServerThread, and both pushes into a real
smsgate Receiver, answered with Aliyun's JSON acknowledgement. The sandbox checks every
signature with its own verifier."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import DeliveryStatus
from smsgate.exceptions import (
    AuthenticationError,
    MessageRejectedError,
    PartialSendError,
    RateLimitedError,
    UncertainOutcomeError,
    ValidationError,
)
from smsgate.receiver import Receiver, ServerThread, SQLiteJournal
from smsgate_aliyun.sandbox import FaultRule, Sandbox, demo_account

pytest_plugins = ["smsgate_aliyun.pytest_plugin"]

pytestmark = pytest.mark.e2e

VERIFY = {"code": "1439"}


def aliyun(credentials: dict[str, Any], **changes: Any) -> smsgate.Provider:
    return smsgate.get_provider("aliyun", **{**credentials, "timeout": 5.0, **changes})


def verify(to: str | list[str] = "13800138000", **fields: Any) -> smsgate.Sms:
    return smsgate.Sms(to=to, template="verify", params=VERIFY, **fields)


# --- SendSms ---------------------------------------------------------------------------------


def test_send_renders_the_template_code_sign_and_params_and_carries_the_reference(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    with smsgate.Gateway(aliyun(aliyun_credentials)) as gateway:
        receipt = gateway.send(verify(["13800138000", "13900139000"], reference="order-42"))
    records = aliyun_sandbox_clean.state.records
    assert [r.phone for r in records] == ["13800138000", "13900139000"]
    assert {(r.biz_id, r.template_code, r.sign_name, r.out_id) for r in records} == {
        (receipt.task_id, "SMS_100001", "腾飞", "order-42")
    }
    assert records[0].content == "【腾飞】您的验证码：1439，5分钟内有效。"
    assert (receipt.provider, receipt.accepted, receipt.reference) == ("aliyun", 2, "order-42")
    assert receipt.accepted_at is not None


def test_a_template_with_its_own_sign_name_is_sent_with_it(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    templates = {"verify": {"code": "SMS_100001", "sign_name": "阿里云", "params": ["code"]}}
    with smsgate.Gateway(aliyun(aliyun_credentials, templates=templates)) as gateway:
        gateway.send(verify())
    [record] = aliyun_sandbox_clean.state.records
    assert record.content.startswith("【阿里云】")


def test_more_numbers_than_max_recipients_go_out_in_several_requests(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    numbers = [f"1380013800{i}" for i in range(5)]
    with smsgate.Gateway(aliyun(aliyun_credentials, max_recipients=2)) as gateway:
        receipt = gateway.send(verify(numbers))
    biz_ids = [r.biz_id for r in aliyun_sandbox_clean.state.records]
    assert len(set(biz_ids)) == 3
    assert [p.accepted for p in receipt.parts] == [2, 2, 1]
    assert receipt.task_ids == tuple(dict.fromkeys(biz_ids))


def test_a_refused_second_request_is_a_partial_send_with_the_rest_pending(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    aliyun_sandbox_clean.add_account(demo_account(balance=2))  # room for the first request only
    provider = aliyun(aliyun_credentials, max_recipients=2)
    numbers = ["13800138000", "13900139000", "13700137000"]
    with smsgate.Gateway(provider) as gateway:
        with pytest.raises(PartialSendError) as info:
            gateway.send(verify(numbers))
    error = info.value
    assert [r.accepted for r in error.receipts] == [2]
    assert [list(m.to) for m in error.pending] == [["13700137000"]]
    assert error.pending[0].template == "verify"


def test_wrong_credentials_are_an_authentication_error(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    with smsgate.Gateway(aliyun(aliyun_credentials, access_key_secret="not-the-secret")) as gateway:
        with pytest.raises(AuthenticationError) as info:
            gateway.send(verify())
    assert info.value.code == "SignatureDoesNotMatch"
    assert "not-the-secret" not in str(info.value) + repr(info.value)
    assert aliyun_sandbox_clean.state.records == []


def test_the_per_number_frequency_control_is_a_message_refusal(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    aliyun_sandbox_clean.add_account(demo_account(per_number_limit=1))
    with smsgate.Gateway(aliyun(aliyun_credentials)) as gateway:
        gateway.send(verify())
        with pytest.raises(MessageRejectedError) as info:
            gateway.send(verify())
    assert info.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert not info.value.failover_safe
    assert not info.value.retry_safe


def test_throttling_is_a_rate_limit_and_a_dropped_reply_is_uncertain(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    provider = aliyun(aliyun_credentials)
    aliyun_sandbox_clean.faults.add(FaultRule(kind="code", code="Throttling.User", times=5))
    with smsgate.Gateway(provider, retry=smsgate.RetryPolicy(attempts=1)) as gateway:
        with pytest.raises(RateLimitedError):
            gateway.send(verify())
    aliyun_sandbox_clean.faults.clear()
    aliyun_sandbox_clean.faults.add(FaultRule(kind="drop", action="SendSms"))
    with smsgate.Gateway(provider) as gateway:
        with pytest.raises(UncertainOutcomeError):
            gateway.send(verify())
    assert len(aliyun_sandbox_clean.state.records) == 1  # acted on, then dropped


def test_what_aliyun_cannot_render_is_refused_before_any_request(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    provider = aliyun(aliyun_credentials)
    cases = [
        (smsgate.Sms(to="13800138000", text="hello【腾飞】"), "only registered templates"),
        (smsgate.Sms(to="13800138000", template="nope"), "no template named 'nope'"),
        (smsgate.Sms(to="13800138000", template="verify"), "needs parameter(s) code"),
    ]
    with httpx.Client() as client:
        for sms, why in cases:
            assert why in (provider.cannot_render(sms) or "")
            with pytest.raises(ValidationError, match=why.replace("(", r"\(").replace(")", r"\)")):
                smsgate.run_flow(provider.send(sms), client)
    assert aliyun_sandbox_clean.state.records == []


# --- SendBatchSms ----------------------------------------------------------------------------


def test_send_batch_personalises_each_number_and_groups_by_template(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    messages = [
        smsgate.Sms(to="13800138000", template="shipped", params={"name": "张三"}, ext="12"),
        smsgate.Sms(to=["13900139000", "13700137000"], template="shipped", params={"name": "李四"}),
        smsgate.Sms(to="13600136000", template="verify", params={"code": "7"}),
    ]
    with smsgate.Gateway(aliyun(aliyun_credentials)) as gateway:
        receipts = gateway.send_batch(messages)
    assert [r.accepted for r in receipts] == [3, 1]
    records = aliyun_sandbox_clean.state.records
    assert [(r.phone, r.template_code, r.content) for r in records] == [
        ("13800138000", "SMS_100002", "【腾飞】张三，您的订单已发货。"),
        ("13900139000", "SMS_100002", "【腾飞】李四，您的订单已发货。"),
        ("13700137000", "SMS_100002", "【腾飞】李四，您的订单已发货。"),
        ("13600136000", "SMS_100001", "【腾飞】您的验证码：7，5分钟内有效。"),
    ]
    assert records[0].ext == "12"
    assert [r.biz_id for r in records] == [receipts[0].task_id] * 3 + [receipts[1].task_id]


def test_send_batch_splits_by_max_batch_and_by_reference(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    messages = [verify(f"1380013800{i}", reference="r-1") for i in range(3)] + [
        verify("13900139000", reference="r-2")
    ]
    gateway = smsgate.AsyncGateway(aliyun(aliyun_credentials, max_batch=2))
    receipts = asyncio.run(_abatch(gateway, messages))
    assert [(r.accepted, r.reference) for r in receipts] == [(2, "r-1"), (1, "r-1"), (1, "r-2")]
    assert [r.out_id for r in aliyun_sandbox_clean.state.records] == ["r-1", "r-1", "r-1", "r-2"]


async def _abatch(gateway: smsgate.AsyncGateway, messages: list[smsgate.Sms]) -> list[smsgate.Receipt]:
    async with gateway:
        return await gateway.send_batch(messages)


# --- QuerySendDetails ------------------------------------------------------------------------


def test_query_status_follows_a_message_from_pending_to_delivered(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    aliyun_sandbox_clean.add_account(demo_account(outcome="pending"))
    with smsgate.Gateway(aliyun(aliyun_credentials)) as gateway:
        receipt = gateway.send(verify(["13800138000", "13900139000"], reference="order-7"))
        pending = gateway.query_status(receipt)
        aliyun_sandbox_clean.state.settle(receipt.task_id, "13800138000", "delivered")
        aliyun_sandbox_clean.state.settle(receipt.task_id, "13900139000", "failed", "MK:0005")
        settled = gateway.query_status(receipt)
    assert [(r.mobile, r.status) for r in pending] == [
        ("13800138000", DeliveryStatus.PENDING),
        ("13900139000", DeliveryStatus.PENDING),
    ]
    assert [(r.status, r.vendor_code, r.task_id, r.reference) for r in settled] == [
        (DeliveryStatus.DELIVERED, "DELIVERED", receipt.task_id, "order-7"),
        (DeliveryStatus.FAILED, "MK:0005", receipt.task_id, "order-7"),
    ]
    assert all(r.received_at is not None and r.received_at.utcoffset() is not None for r in settled)


def test_query_status_of_a_split_send_asks_for_every_part(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    numbers = ["13800138000", "13900139000", "13700137000"]
    with smsgate.Gateway(aliyun(aliyun_credentials, max_recipients=2)) as gateway:
        receipt = gateway.send(verify(numbers))
        reports = gateway.query_status(receipt)
    assert [(r.mobile, r.task_id) for r in reports] == [
        (numbers[0], receipt.parts[0].task_id),
        (numbers[1], receipt.parts[0].task_id),
        (numbers[2], receipt.parts[1].task_id),
    ]
    assert {r.status for r in reports} == {DeliveryStatus.DELIVERED}


def test_query_status_reads_every_page() -> None:
    """QuerySendDetails pages by 50: the provider asks for page 2 until TotalCount is reached
    (over a mock transport: one send yields a single record per number in the sandbox)."""
    pages: list[str] = []

    def service(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        pages.append(form["CurrentPage"])
        count = 50 if form["CurrentPage"] == "1" else 10
        details = [{"PhoneNum": "13800138000", "SendStatus": 3, "ErrCode": "DELIVERED"}] * count
        return httpx.Response(
            200, json={"Code": "OK", "TotalCount": 60, "SmsSendDetailDTOs": {"SmsSendDetailDTO": details}}
        )

    provider = smsgate.get_provider(
        "aliyun", access_key_id="LTAI5tTest", access_key_secret="secret-0", sign_name="腾飞"
    )
    receipt = smsgate.Receipt(provider="aliyun", task_id="1^0", accepted=1, recipients=["13800138000"])
    with httpx.Client(transport=httpx.MockTransport(service)) as client:
        reports = smsgate.run_flow(provider.query_status(receipt), client)
    assert (len(reports), pages) == (60, ["1", "2"])


# --- pushes into a real Receiver -------------------------------------------------------------


def _wait_for(events: list[Any], count: int) -> None:
    deadline = time.monotonic() + 5
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_report_and_inbound_pushes_reach_a_receiver_and_get_the_json_ack(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any], tmp_path: Path
) -> None:
    provider = aliyun(aliyun_credentials)
    events: list[smsgate.DeliveryReport | smsgate.InboundMessage] = []
    lock = threading.Lock()

    def handler(event: smsgate.DeliveryReport | smsgate.InboundMessage) -> None:
        with lock:
            events.append(event)

    with (
        Receiver(provider, handler, journal=tmp_path / "journal.sqlite3") as receiver,
        ServerThread(receiver.asgi_app()) as server,
    ):
        aliyun_sandbox_clean.add_account(demo_account(outcome="pending", callback_url=server.url))
        with smsgate.Gateway(provider) as gateway:
            receipt = gateway.send(verify(reference="order-9"))
        admin = aliyun_sandbox_clean.base_url + "admin/"
        with httpx.Client(trust_env=False) as client:
            settle = {"biz_id": receipt.task_id, "phone_number": "13800138000", "outcome": "delivered"}
            assert client.post(admin + "settle", json=settle).status_code == 200
            inbound = {
                "key_id": aliyun_credentials["access_key_id"],
                "phone_number": "13800138000",
                "content": "好的",
            }
            assert client.post(admin + "inbound", json=inbound).status_code == 200
            pushes = client.get(admin + "pushes").json()
        _wait_for(events, 2)
    assert [(p["kind"], p["status_code"], p["acknowledged"]) for p in pushes] == [
        ("report", 200, True),
        ("inbound", 200, True),
    ]
    report, message = sorted(events, key=lambda e: isinstance(e, smsgate.InboundMessage))
    assert isinstance(report, smsgate.DeliveryReport)
    assert (report.task_id, report.status, report.reference) == (
        receipt.task_id,
        DeliveryStatus.DELIVERED,
        "order-9",
    )
    assert isinstance(message, smsgate.InboundMessage)
    assert (message.provider, message.text) == ("aliyun", "好的")


def test_two_inbound_pushes_alike_but_for_the_sequence_id_are_two_messages_handled_once_each(
    aliyun_sandbox_clean: Sandbox,
    aliyun_credentials: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One number replies "好的" twice in one second; the service pushes each reply on its own,
    numbered by sequence_id. Both pushes were acknowledged and the handler saw one (the
    de-duplication key did not read sequence_id). A push delivered again is still handled once."""
    now = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    monkeypatch.setattr(aliyun_sandbox_clean.state, "clock", lambda: now)  # one second for both
    provider = aliyun(aliyun_credentials)
    events: list[smsgate.DeliveryReport | smsgate.InboundMessage] = []
    lock = threading.Lock()

    def handler(event: smsgate.DeliveryReport | smsgate.InboundMessage) -> None:
        with lock:
            events.append(event)

    journal = SQLiteJournal(tmp_path / "journal.sqlite3")
    with (
        Receiver(provider, handler, journal=journal) as receiver,
        ServerThread(receiver.asgi_app()) as server,
        httpx.Client(trust_env=False) as client,
    ):
        aliyun_sandbox_clean.add_account(demo_account(callback_url=server.url))
        admin = aliyun_sandbox_clean.base_url + "admin/"
        key_id = aliyun_credentials["access_key_id"]
        items = []
        for sequence_id in (1, 2):
            reply = {"key_id": key_id, "phone_number": "13800138000", "content": "好的"}
            answer = client.post(admin + "inbound", json={**reply, "sequence_id": sequence_id})
            assert answer.status_code == 200
            items.append(answer.json())
        pushes = client.get(admin + "pushes").json()
        _wait_for(events, 2)
        # The service pushes a batch again when it missed the acknowledgement.
        again = client.post(server.url, json=[items[1]])
        assert again.content == provider.callback_reply(True).body
        time.sleep(0.1)  # a wrongly dispatched re-delivery would land by now
    assert [(p["kind"], p["acknowledged"]) for p in pushes] == [("inbound", True)] * 2
    assert items[0]["send_time"] == items[1]["send_time"]
    assert sorted((e.mobile, e.text, e.task_id) for e in events) == [
        ("13800138000", "好的", "1"),
        ("13800138000", "好的", "2"),
    ]
    assert len(journal.entries()) == 2
    journal.close()


def test_the_acknowledgement_is_aliyun_s_json() -> None:
    provider = smsgate.get_provider(
        "aliyun", access_key_id="LTAI5tTest", access_key_secret="s-0", sign_name="腾飞"
    )
    ack = provider.callback_reply(True)
    assert (ack.status_code, ack.body.decode(), ack.media_type) == (
        200,
        '{"code":0,"msg":"成功"}',
        "application/json; charset=utf-8",
    )
    assert provider.callback_reply(False).status_code == 500
    with pytest.raises(ValidationError) as info:
        provider.parse_callback(b'{"not": "an array"}')
    assert info.value.provider == "aliyun"
    assert provider.parse_callback(b"[]") == []


def test_an_uncertain_send_is_settled_by_its_reference(
    aliyun_sandbox_clean: Sandbox, aliyun_credentials: dict[str, Any]
) -> None:
    """The connection drops after Aliyun acted on the send: no BizId came back, but the
    reference (OutId) finds the message, so the application knows not to send it again."""
    provider = aliyun(aliyun_credentials)
    aliyun_sandbox_clean.faults.add(FaultRule(kind="drop", action="SendSms"))
    with smsgate.Gateway(provider) as gateway:
        with pytest.raises(UncertainOutcomeError):
            gateway.send(verify(reference="order-77"))
        gateway.send(verify(reference="order-78"))
    with httpx.Client(trust_env=False) as client:
        found = smsgate.run_flow(provider.find_reference("13800138000", "order-77"), client)
        missing = smsgate.run_flow(provider.find_reference("13800138000", "order-99"), client)
    [report] = found
    assert (report.reference, report.status) == ("order-77", DeliveryStatus.DELIVERED)
    assert missing == []
    with pytest.raises(ValidationError):
        next(provider.find_reference("13800138000", "order-77", sent_on="today"))  # type: ignore[arg-type]
