"""A batch refused before any request names the message it refuses, counted from 1 as the
router counts ("message 2 of the batch"); it said "message 1" for the second message."""

from __future__ import annotations

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
