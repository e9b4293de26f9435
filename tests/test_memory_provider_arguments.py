"""InMemoryProvider given a wrong argument: a ConfigurationError (the constructor) or a
ValidationError (a call) naming it, before anything happens, never a bare TypeError,
ValueError or AttributeError from deeper down."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate._provider import Capabilities, Operation
from smsgate.testing import InMemoryProvider

SMS = smsgate.Sms(to="13800138000", text="hello【shop】")
PUSH = json.dumps({"reports": [{"mobile": "13800138000", "task_id": "memory-1"}]}).encode()


def _refuse_io(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the in-memory provider made a request: {request.url}")


def run(flow: Any) -> Any:
    with httpx.Client(transport=httpx.MockTransport(_refuse_io)) as client:
        return smsgate.run_flow(flow, client, provider="memory")


# --- pushes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [PUSH.decode(), None, 7])
def test_a_push_body_that_is_no_bytes_is_a_validation_error(body: object) -> None:
    """A decoded str (or None) raised a bare AttributeError out of ``body.decode``."""
    provider = InMemoryProvider("mem")
    with pytest.raises(errors.ValidationError, match=f"raw bytes, not {type(body).__name__}") as info:
        provider.parse_callback(body)  # type: ignore[arg-type]
    assert info.value.provider == "mem"
    assert info.value.field == "body"


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_a_bytearray_or_memoryview_push_is_read_as_its_bytes(kind: type) -> None:
    """A memoryview raised AttributeError (it has no ``decode``)."""
    provider = InMemoryProvider()
    assert provider.parse_callback(kind(PUSH)) == provider.parse_callback(PUSH)


# --- fail_next, script ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "named"),
    [
        ("x", "str"),
        (ValueError, "the class ValueError"),
        (ValueError("no"), "ValueError"),
        (None, "NoneType"),
    ],
)
def test_fail_next_refuses_what_is_no_smsgate_error(error: object, named: str) -> None:
    """It raised a bare TypeError (None queued a "failure" that succeeded)."""
    provider = InMemoryProvider("mem")
    with pytest.raises(errors.ValidationError, match=f"smsgate error .*, not {named}$") as info:
        provider.fail_next(error)  # type: ignore[arg-type]
    assert info.value.field == "error"
    assert info.value.provider == "mem"
    run(provider.send(SMS))  # nothing was scripted


@pytest.mark.parametrize("outcome", ["x", ValueError, KeyError("k")])
def test_script_refuses_what_is_no_smsgate_error_nor_none(outcome: object) -> None:
    provider = InMemoryProvider()
    with pytest.raises(errors.ValidationError, match="script\\(\\) takes smsgate errors or None") as info:
        provider.script(errors.NotSentError, outcome)  # type: ignore[arg-type]
    assert info.value.field == "outcomes"
    run(provider.send(SMS))  # not even the valid first outcome was queued


@pytest.mark.parametrize("times", [0, -1, True, 1.5, "2", None])
def test_fail_next_times_must_be_a_whole_number_at_least_1(times: object) -> None:
    """0 raised a bare ValueError, "2" and 1.5 a bare TypeError; True scripted one failure."""
    provider = InMemoryProvider()
    with pytest.raises(
        errors.ValidationError,
        match=f"times must be a whole number, at least 1, not {re.escape(repr(times))}$",
    ):
        provider.fail_next(errors.NotSentError, times=times)  # type: ignore[arg-type]
    run(provider.send(SMS))


@pytest.mark.parametrize("call", ["fail_next", "script"])
@pytest.mark.parametrize("operation", ["sned", 5, ["send"], ""])
def test_an_unknown_operation_is_a_validation_error(call: str, operation: object) -> None:
    """A misspelt operation raised a bare ValueError (a list, a TypeError)."""
    provider = InMemoryProvider()
    with pytest.raises(
        errors.ValidationError,
        match=f"operation must be one of .*'send'.*, not {re.escape(repr(operation))}$",
    ):
        getattr(provider, call)(errors.NotSentError, operation=operation)
    run(provider.send(SMS))


def test_an_operation_is_given_by_member_or_value() -> None:
    provider = InMemoryProvider()
    provider.fail_next(errors.NotSentError, operation="balance")
    provider.fail_next(errors.AuthenticationError, operation=Operation.SEND)
    with pytest.raises(errors.AuthenticationError):
        run(provider.send(SMS))
    with pytest.raises(errors.NotSentError):
        run(provider.balance())


# --- queue_report, queue_inbound ------------------------------------------------------------


@pytest.mark.parametrize("status", ["delivred", 5, None, ["delivered"]])
def test_queue_report_refuses_an_unknown_status(status: object) -> None:
    """A misspelt status raised a bare ValueError."""
    provider = InMemoryProvider("mem")
    with pytest.raises(errors.ValidationError, match="status must be a DeliveryStatus") as info:
        provider.queue_report("13800138000", status=status)  # type: ignore[arg-type]
    assert info.value.field == "status"
    assert info.value.provider == "mem"
    assert provider.pending_reports == ()


def test_queue_report_takes_a_status_by_member_or_value() -> None:
    provider = InMemoryProvider()
    assert provider.queue_report("13800138000", status="failed").status is smsgate.DeliveryStatus.FAILED
    assert provider.queue_report("13800138000", status=smsgate.DeliveryStatus.UNKNOWN).status == "unknown"


@pytest.mark.parametrize(
    ("call", "model"), [("queue_report", "a DeliveryReport"), ("queue_inbound", "an InboundMessage")]
)
@pytest.mark.parametrize("first", [13800138000, None, b"13800138000"])
def test_queue_report_and_inbound_refuse_what_is_no_model_nor_number(
    call: str, model: str, first: object
) -> None:
    """13800138000 (an int) was queued as is, a report or message no provider gives."""
    provider = InMemoryProvider()
    queue: Any = {"queue_report": provider.queue_report, "queue_inbound": provider.queue_inbound}[call]
    words = f"{call}() takes {model} or a mobile number (a str), not {type(first).__name__}"
    with pytest.raises(errors.ValidationError, match=f"{re.escape(words)}$") as info:
        queue(first, *(["hi"] if call == "queue_inbound" else []))
    assert info.value.field == "mobile"
    assert provider.pending_reports == ()
    assert provider.pending_inbound == ()


def test_queue_inbound_refuses_a_text_that_is_no_string() -> None:
    """text=5 raised a bare TypeError (no len())."""
    provider = InMemoryProvider()
    with pytest.raises(errors.ValidationError, match=r"text must be a string, not int$") as info:
        provider.queue_inbound("13800138000", 5)  # type: ignore[arg-type]
    assert info.value.field == "text"
    assert provider.pending_inbound == ()


# --- the constructor ------------------------------------------------------------------------


@pytest.mark.parametrize("balance", [-1, Decimal("-0.5"), Decimal("NaN"), 1.5, True, "10"])
def test_a_starting_balance_must_be_a_whole_number_or_a_decimal_not_negative(balance: object) -> None:
    """-1 was accepted: every send then failed for want of balance, and balance() said -1."""
    with pytest.raises(
        errors.ConfigurationError, match="balance must be a whole number or a Decimal, at least 0"
    ):
        InMemoryProvider(balance=balance)  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError):
        smsgate.get_provider("memory", balance=balance)


@pytest.mark.parametrize("balance", [0, Decimal("0.5"), 10**6])
def test_a_starting_balance_of_0_or_a_decimal_is_kept(balance: int | Decimal) -> None:
    assert InMemoryProvider(balance=balance).balances == {"sms": Decimal(balance), "mms": Decimal(balance)}


@pytest.mark.parametrize("auto_report", [True, "delivred", ["delivered"], {"delivered": 1}])
def test_auto_report_must_be_a_delivery_status(auto_report: object) -> None:
    """A list or dict raised a bare TypeError (unhashable) from the check itself."""
    with pytest.raises(errors.ConfigurationError, match="auto_report must be a DeliveryStatus"):
        InMemoryProvider(auto_report=auto_report)  # type: ignore[arg-type]


def test_auto_report_takes_a_status_or_its_value_as_a_config_file_gives_it() -> None:
    """``auto_report = "delivered"`` in a config file is a string: it stays accepted."""
    by_value = smsgate.get_provider("memory", auto_report="delivered")
    assert isinstance(by_value, InMemoryProvider)
    assert by_value.auto_report is smsgate.DeliveryStatus.DELIVERED
    assert InMemoryProvider(auto_report=smsgate.DeliveryStatus.FAILED).auto_report == "failed"


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 0, True])
def test_a_timeout_must_be_a_finite_positive_number_of_seconds(timeout: object) -> None:
    """An infinite timeout was accepted (the receiver, the settings refuse one)."""
    with pytest.raises(errors.ConfigurationError, match="timeout must be a positive number of seconds"):
        InMemoryProvider(timeout=timeout)  # type: ignore[arg-type]


def test_declared_balance_kinds_must_be_sms_or_mms() -> None:
    """A "voice" kind was accepted: balance("voice") then built a Balance no provider may give."""
    voice: Any = {"sms", "voice"}  # Any: the attrs converter of balance_kinds confuses mypy
    with pytest.raises(errors.ConfigurationError, match="balance kinds are 'mms' and 'sms', not 'voice'"):
        InMemoryProvider(capabilities=Capabilities(balance=True, balance_kinds=voice))
    sms: Any = {"sms"}
    only_sms = InMemoryProvider(capabilities=Capabilities(balance=True, balance_kinds=sms))
    assert run(only_sms.balance()).kind == "sms"


# --- operations called directly -------------------------------------------------------------


def test_a_send_it_cannot_pay_for_counts_its_recipients_in_words() -> None:
    """It said "too low for 1 recipients"."""
    provider = InMemoryProvider(balance=0)
    with pytest.raises(errors.InsufficientBalanceError, match=r"sms balance too low for 1 recipient$"):
        run(provider.send(SMS))
    two = smsgate.Sms(to=["13800138000", "13900139000"], text="hi【shop】")
    with pytest.raises(errors.InsufficientBalanceError, match=r"too low for 2 recipients$"):
        run(InMemoryProvider(balance=1).send(two))


MMS = smsgate.Mms(to="13800138000", subject="s", parts=[smsgate.MmsPart(name="a.txt", data=b"x")])


@pytest.mark.parametrize(
    ("call", "value", "field"),
    [
        ("send", MMS, "sms"),
        ("send", None, "sms"),
        ("send", "hello", "sms"),
        ("send_mms", SMS, "mms"),
        ("send_mms", None, "mms"),
        ("send_batch", None, "messages"),
        ("send_batch", "hello", "messages"),
        ("send_batch", SMS, "messages"),
        ("send_batch", [SMS, MMS], "messages"),
        ("cannot_render", None, "message"),
        ("render", MMS, "message"),
    ],
)
def test_a_message_of_the_wrong_type_is_a_validation_error(call: str, value: object, field: str) -> None:
    """An AttributeError or TypeError came out of the first field read, when the flow ran."""
    provider = InMemoryProvider("mem")
    with pytest.raises(errors.ValidationError, match=f"{call}\\(\\) takes") as info:
        getattr(provider, call)(value)
    assert info.value.field == field
    assert info.value.provider == "mem"
    assert provider.calls == {}
    assert provider.outbox == []


@pytest.mark.parametrize("kind", [["sms"], None, 5])
def test_a_balance_kind_that_is_no_string_is_a_validation_error(kind: object) -> None:
    """A list raised a bare TypeError (unhashable)."""
    with pytest.raises(errors.ValidationError, match=r"has no .* balance") as info:
        InMemoryProvider().balance(kind)  # type: ignore[arg-type]
    assert info.value.field == "kind"


@pytest.mark.parametrize("limit", ["3", True, 1.5, 0])
def test_a_fetch_limit_must_be_a_whole_number_at_least_1(limit: object) -> None:
    """ "3" raised a bare TypeError, True was taken as 1."""
    provider = InMemoryProvider()
    provider.queue_report("13800138000")
    with pytest.raises(
        errors.ValidationError,
        match=f"limit must be a whole number, at least 1, not {re.escape(repr(limit))}$",
    ):
        provider.fetch_reports(limit=limit)  # type: ignore[arg-type]
    assert len(run(provider.fetch_reports(limit=1))) == 1
