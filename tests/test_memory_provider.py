"""InMemoryProvider: a real Provider whose flows do no I/O, driven here by both drivers."""

from __future__ import annotations

import datetime as dt
import inspect
import json
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Capabilities, Operation
from smsgate.testing import InMemoryProvider

SMS = smsgate.Sms(to=["13800138000", "13900139000"], text="hello【shop】")


def _refuse_io(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the in-memory provider made a request: {request.url}")


@pytest.fixture
def client() -> Any:
    with httpx.Client(transport=httpx.MockTransport(_refuse_io)) as c:
        yield c


def run(flow: Any, client: httpx.Client, provider: str = "memory") -> Any:
    return smsgate.run_flow(flow, client, provider=provider)


def test_send_records_outbox_charges_balance_and_returns_unique_task_ids(client: httpx.Client) -> None:
    provider = InMemoryProvider(balance=10)
    first = run(provider.send(SMS), client)
    second = run(provider.send(SMS), client)
    assert (first.provider, first.accepted, first.recipients) == ("memory", 2, SMS.to)
    assert first.task_id != second.task_id
    assert [e.message for e in provider.outbox] == [SMS, SMS]
    assert [e.receipt for e in provider.outbox] == [first, second]
    assert provider.balances["sms"] == Decimal(6)
    assert second.balance == Decimal(6)
    assert provider.calls["send"] == 2


async def test_async_driver_runs_the_same_flows_without_io() -> None:
    provider = InMemoryProvider()
    async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse_io)) as aclient:
        receipt = await smsgate.arun_flow(provider.send(SMS), aclient)
        balance = await smsgate.arun_flow(provider.balance(), aclient)
    assert receipt.accepted == 2
    assert balance.remaining == Decimal(998)


def test_calls_count_attempts_run_not_flows_built(client: httpx.Client) -> None:
    provider = InMemoryProvider()
    provider.send(SMS)  # built, never run
    assert provider.calls["send"] == 0
    run(provider.send(SMS), client)
    assert provider.calls["send"] == 1


def test_insufficient_balance_refuses_without_charging(client: httpx.Client) -> None:
    provider = InMemoryProvider(balance=1)
    with pytest.raises(errors.InsufficientBalanceError):
        run(provider.send(SMS), client)
    assert provider.balances["sms"] == Decimal(1)
    assert provider.outbox == []


def test_max_recipients_splits_a_send_into_one_combined_receipt(client: httpx.Client) -> None:
    provider = InMemoryProvider(capabilities=Capabilities(max_recipients=1))
    receipt = run(provider.send(SMS), client)
    assert receipt.accepted == 2
    assert len(receipt.parts) == 2
    assert receipt.task_ids == tuple(e.receipt.task_id for e in provider.outbox)


def test_max_batch_gives_one_receipt_per_request(client: httpx.Client) -> None:
    provider = InMemoryProvider(capabilities=Capabilities(batch=True, max_batch=2))
    batch = [smsgate.Sms(to=f"1380013800{i}", text=f"code {i}") for i in range(5)]
    receipts = run(provider.send_batch(batch), client)
    assert [r.accepted for r in receipts] == [2, 2, 1]
    assert [e.message for e in provider.outbox] == [tuple(batch[0:2]), tuple(batch[2:4]), (batch[4],)]


def test_failure_in_a_later_batch_request_is_a_partial_batch_error(client: httpx.Client) -> None:
    provider = InMemoryProvider(capabilities=Capabilities(batch=True, max_batch=2))
    provider.script(None, errors.NotSentError, operation="send_batch")
    batch = [smsgate.Sms(to=f"1380013800{i}", text=f"code {i}") for i in range(5)]
    with pytest.raises(errors.PartialBatchError) as info:
        run(provider.send_batch(batch), client)
    assert len(info.value.receipts) == 1
    assert info.value.pending == tuple(batch[2:])
    assert isinstance(info.value.cause, errors.NotSentError)
    assert info.value.retry_safe
    assert info.value.failover_safe


def test_failure_in_a_later_part_of_a_split_send_is_a_partial_send_error(client: httpx.Client) -> None:
    provider = InMemoryProvider(capabilities=Capabilities(max_recipients=1))
    provider.script(None, errors.NotSentError, operation="send")
    with pytest.raises(errors.PartialSendError) as info:
        run(provider.send(SMS), client)
    [accepted] = info.value.receipts
    assert accepted.recipients == SMS.to[:1]
    assert info.value.pending == (attrs.evolve(SMS, to=SMS.to[1:]),)
    assert isinstance(info.value.cause, errors.NotSentError)
    assert [e.receipt for e in provider.outbox] == [accepted]


def test_balance_running_out_in_a_later_part_is_a_partial_send_error(client: httpx.Client) -> None:
    provider = InMemoryProvider(capabilities=Capabilities(max_recipients=1), balance=1)
    with pytest.raises(errors.PartialSendError) as info:
        run(provider.send(SMS), client)
    assert len(info.value.receipts) == 1
    assert isinstance(info.value.cause, errors.InsufficientBalanceError)
    assert provider.balances["sms"] == Decimal(0)


def _error_classes() -> list[type[errors.SmsGateError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.SmsGateError) and cls.__module__ == errors.__name__
    ]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_fail_next_can_raise_every_class_of_the_tree(cls: type[errors.SmsGateError], client: Any) -> None:
    provider = InMemoryProvider("alpha")
    provider.fail_next(cls)
    with pytest.raises(cls) as info:
        run(provider.send(SMS), client, provider="alpha")
    assert info.value.operation == "send"
    if not isinstance(info.value, errors.AllProvidersFailedError):
        assert info.value.provider == "alpha"
    assert provider.outbox == []
    # consumed: the next send succeeds
    assert run(provider.send(SMS), client, provider="alpha").accepted == 2


def test_fail_next_instance_is_raised_as_fresh_copies(client: httpx.Client) -> None:
    provider = InMemoryProvider()
    template = errors.RateLimitedError("slow down", retry_after=2.5, code="42")
    provider.fail_next(template, times=2)
    raised = []
    for _ in range(2):
        with pytest.raises(errors.RateLimitedError) as info:
            run(provider.send(SMS), client)
        raised.append(info.value)
    assert raised[0] is not raised[1]
    assert all(e.retry_after == 2.5 and e.code == "42" and e.provider == "memory" for e in raised)
    assert template.provider is None  # the caller's instance is left alone


def test_scripted_failure_limited_to_one_operation_skips_others(client: httpx.Client) -> None:
    provider = InMemoryProvider()
    provider.fail_next(errors.AuthenticationError, operation=Operation.BALANCE)
    assert run(provider.send(SMS), client).accepted == 2
    with pytest.raises(errors.AuthenticationError):
        run(provider.balance(), client)


def test_script_runs_outcomes_in_order(client: httpx.Client) -> None:
    provider = InMemoryProvider()
    provider.script(errors.NotSentError, None, errors.ContentError)
    with pytest.raises(errors.NotSentError):
        run(provider.send(SMS), client)
    run(provider.send(SMS), client)
    with pytest.raises(errors.ContentError):
        run(provider.send(SMS), client)


def test_script_refuses_things_that_are_not_smsgate_errors() -> None:
    with pytest.raises(errors.ValidationError, match="not the class ValueError"):
        InMemoryProvider().script(ValueError)  # type: ignore[arg-type]


def test_undeclared_capability_raises_unsupported_before_running() -> None:
    provider = InMemoryProvider(capabilities=Capabilities(send=True))
    with pytest.raises(errors.UnsupportedOperationError):
        provider.balance()
    with pytest.raises(errors.UnsupportedOperationError):
        provider.send_mms(
            smsgate.Mms(to="13800138000", subject="s", parts=[smsgate.MmsPart(name="a.txt", data=b"x")])
        )


def test_text_limit_and_scheduling_are_validated_before_anything_is_accepted(client: httpx.Client) -> None:
    provider = InMemoryProvider(capabilities=Capabilities(max_text_length=5))
    with pytest.raises(errors.ValidationError):
        run(provider.send(smsgate.Sms(to="13800138000", text="too long text")), client)
    later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(errors.ValidationError):
        run(provider.send(smsgate.Sms(to="13800138000", text="hi", send_at=later)), client)
    assert provider.outbox == []


def test_mms_costs_mms_balance(client: httpx.Client) -> None:
    provider = InMemoryProvider(balance=5)
    mms = smsgate.Mms(to="13800138000", subject="s", parts=[smsgate.MmsPart(name="a.txt", data=b"x")])
    receipt = run(provider.send_mms(mms), client)
    assert receipt.accepted == 1
    assert run(provider.balance("mms"), client).remaining == Decimal(4)
    assert run(provider.balance("sms"), client).remaining == Decimal(5)


def test_reports_drain_honouring_limit_and_task_id(client: httpx.Client) -> None:
    provider = InMemoryProvider()
    a1 = provider.queue_report("13800138000", task_id="a")
    b1 = provider.queue_report("13800138001", task_id="b", status="failed", vendor_code="UNDELIV")
    a2 = provider.queue_report("13800138002", task_id="a")
    assert run(provider.fetch_reports(task_id="a", limit=1), client) == [a1]
    assert run(provider.fetch_reports(), client) == [b1, a2]
    assert run(provider.fetch_reports(), client) == []
    assert b1.status is smsgate.DeliveryStatus.FAILED


def test_auto_report_queues_one_report_per_accepted_recipient(client: httpx.Client) -> None:
    provider = InMemoryProvider(auto_report=smsgate.DeliveryStatus.DELIVERED)
    receipt = run(provider.send(SMS), client)
    reports = run(provider.fetch_reports(), client)
    assert [(r.mobile, r.task_id, r.status) for r in reports] == [
        (n, receipt.task_id, smsgate.DeliveryStatus.DELIVERED) for n in SMS.to
    ]
    assert all(r.received_at is not None and r.received_at.tzinfo is not None for r in reports)


def test_inbound_drains_in_order(client: httpx.Client) -> None:
    provider = InMemoryProvider()
    first = provider.queue_inbound("13800138000", "TD")
    second = provider.queue_inbound("13900139000", "yes", ext="01")
    assert run(provider.fetch_inbound(), client) == [first, second]
    assert run(provider.fetch_inbound(), client) == []


def test_change_password_is_stored_privately(client: httpx.Client) -> None:
    provider = InMemoryProvider(password="old-secret")
    run(provider.change_password("new-secret"), client)
    assert provider.check_password("new-secret")
    assert not provider.check_password("old-secret")
    assert "secret" not in repr(provider)
    with pytest.raises(errors.ValidationError) as info:
        provider.change_password("")
    assert "secret" not in str(info.value)


def test_parse_callback_reads_reports_then_inbound() -> None:
    provider = InMemoryProvider()
    body = json.dumps(
        {
            "reports": [
                {"mobile": "13800138000", "task_id": "t1", "status": "delivered", "vendor_code": "DELIVRD"},
                {
                    "mobile": "13800138001",
                    "task_id": "t1",
                    "status": "failed",
                    "received_at": "2024-05-01T10:00:00+08:00",
                },
            ],
            "inbound": [{"mobile": "13900139000", "text": "你好", "ext": "01"}],
        }
    ).encode()
    items = provider.parse_callback(body, "application/json")
    assert [type(i).__name__ for i in items] == ["DeliveryReport", "DeliveryReport", "InboundMessage"]
    report, failed, inbound = items
    assert isinstance(report, smsgate.DeliveryReport)
    assert report.vendor_code == "DELIVRD"
    assert isinstance(failed, smsgate.DeliveryReport)
    assert failed.received_at is not None
    assert failed.received_at.utcoffset() == dt.timedelta(hours=8)
    assert isinstance(inbound, smsgate.InboundMessage)
    assert (inbound.text, inbound.ext) == ("你好", "01")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"other": []}',
        b'{"reports": {}}',
        b'{"reports": [{"task_id": "t"}]}',
        b'{"reports": [{"mobile": "13800138000", "status": "lost"}]}',
        b'{"inbound": [{"mobile": "13800138000"}]}',
        b'{"inbound": [{"mobile": "13800138000", "text": "x", "received_at": "2024-05-01T10:00:00"}]}',
    ],
)
def test_parse_callback_refuses_invalid_bodies_with_validation_error(body: bytes) -> None:
    with pytest.raises(errors.ValidationError):
        InMemoryProvider().parse_callback(body)


def test_callback_reply_tells_ok_from_retry() -> None:
    provider = InMemoryProvider()
    assert (provider.callback_reply(True).status_code, provider.callback_reply(True).body) == (200, b"ok")
    assert provider.callback_reply(False).status_code >= 500


def test_registered_as_the_builtin_memory_provider_ignoring_foreign_config() -> None:
    provider = smsgate.get_provider("memory", name="m2", account="acct", base_url="http://127.0.0.1:1")
    assert isinstance(provider, InMemoryProvider)
    assert provider.name == "m2"
