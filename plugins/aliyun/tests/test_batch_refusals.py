"""A batch refused before any request names the message it refuses, counted from 1 as the
router counts ("message 2 of the batch"); it said "message 1" for the second message."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

import smsgate
from smsgate.exceptions import ValidationError


def _no_io(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may be made: {request.method} {request.url}")


def test_a_batch_refusal_names_the_message_counted_from_one() -> None:
    provider = smsgate.get_provider(
        "aliyun",
        access_key_id="LTAI5tTestKeyId",
        access_key_secret="TestSecret0123456789",
        sign_name="腾飞",
        templates={"verify": "SMS_1"},
        base_url="http://127.0.0.1:9/",
    )
    messages = [
        smsgate.Sms(to="13800138000", template="verify", params={"code": "1"}),
        smsgate.Sms(to="13900139000", template="unknown", params={"code": "2"}),
    ]
    with (
        httpx.Client(transport=httpx.MockTransport(_no_io)) as client,
        pytest.raises(ValidationError) as info,
    ):
        smsgate.run_flow(provider.send_batch(messages), client)
    assert "message 2 of the batch" in str(info.value)


MMS = smsgate.Mms(to="13800138000", subject="s", parts=[smsgate.MmsPart(name="a.txt", data=b"x")])


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda p: p.send(MMS), "send() takes an Sms, not Mms"),
        (lambda p: p.send(None), "send() takes an Sms, not NoneType"),
        (lambda p: p.send_batch(None), "send_batch() takes a sequence of Sms, not NoneType"),
        (lambda p: p.send_batch("13800138000"), "send_batch() takes a sequence of Sms, not str"),
        (lambda p: p.cannot_render("verify"), "cannot_render() takes an Sms, not str"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_validation_error(call: Any, said: str) -> None:
    """Called directly (not through a gateway, which checks), these raised a bare
    AttributeError or TypeError from the first field they read."""
    provider = smsgate.get_provider(
        "aliyun",
        access_key_id="LTAI5tTestKeyId",
        access_key_secret="TestSecret0123456789",
        sign_name="腾飞",
        templates={"verify": "SMS_1"},
        base_url="http://127.0.0.1:9/",
    )

    def attempt() -> None:
        flow = call(provider)
        if hasattr(flow, "send"):  # a flow: refused when it starts, before any request
            with httpx.Client(transport=httpx.MockTransport(_no_io)) as client:
                smsgate.run_flow(flow, client)

    with pytest.raises(ValidationError, match=re.escape(said)):
        attempt()
