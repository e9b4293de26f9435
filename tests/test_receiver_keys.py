"""Event keys and stored payloads are a storage format: a journal written by an earlier version
must still recognise re-deliveries, so the keys of these events are pinned (computed by the
implementation before it was made cheaper, issue 11)."""

from __future__ import annotations

import datetime as dt
import json
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate import DeliveryReport, DeliveryStatus, InboundMessage
from smsgate.receiver import event_key
from smsgate.receiver._journal import Event, _json, encode

WHEN = dt.datetime(2025, 11, 26, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

PINNED: list[tuple[Event, str]] = [
    (
        DeliveryReport(
            provider="ipyy",
            mobile="13800138000",
            task_id="T1",
            status=DeliveryStatus.DELIVERED,
            received_at=WHEN,
            vendor_code="DELIVRD",
        ),
        "8a0b75843209fb5250504d43fa55c21f0ae11d81b780941253f648760ae6c03e",
    ),
    (
        DeliveryReport(
            provider="ipyy",
            mobile="13800138000",
            task_id=None,
            status=DeliveryStatus.FAILED,
            received_at=None,
            vendor_code=None,
            ext="01",
        ),
        "bbde138d315899457dd11d1c95eb7765a3dc0502a04fad933521cd9806ac3dce",
    ),
    (
        InboundMessage(
            provider="ipyy",
            mobile="13800138000",
            text="你好",
            received_at=WHEN,
            ext="7",
            raw={"smsgate_occurrence": 2},
        ),
        "c176d1927482b448a8db3bcc03385093a5469e57ba5eb9a20c5091d857e27889",
    ),
    (
        InboundMessage(
            provider="ipyy",
            mobile="13800138000",
            text="hi",
            received_at=WHEN,
            raw=types.MappingProxyType({"smsgate_occurrence": 1}),  # a Mapping that is not a dict
        ),
        "d21b82b887052f2176d58e98c3840bf34d957d8e6d6b0f09dec4126a6f0b8d7d",
    ),
    (
        InboundMessage(
            provider="ipyy", mobile="13800138000", text="hi", received_at=WHEN, raw=["not", "a", "mapping"]
        ),
        "84142f1bf67a984db734e0488088b7f81912ceab0badef7266d0bf9cc8b03fef",
    ),
]


@pytest.mark.parametrize(("event", "key"), PINNED)
def test_event_keys_are_the_ones_earlier_journals_stored(event: Event, key: str) -> None:
    assert event_key(event) == key


def test_payloads_are_json_with_text_kept_readable_and_odd_values_as_text() -> None:
    message = InboundMessage(
        provider="ipyy", mobile="13800138000", text="你好", received_at=WHEN, raw={"when": WHEN, "n": 1}
    )
    ((key, kind, payload),) = encode([message])
    assert (key, kind) == (event_key(message), "inbound")
    assert "你好" in payload  # not \\u escapes
    assert json.loads(payload)["raw"] == {"when": str(WHEN), "n": 1}


#: What a provider's ``raw`` may hold: JSON values, and values JSON cannot hold (kept as text).
_RAW = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.datetimes() | st.binary(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)


@given(_RAW)
def test_payload_json_is_what_json_dumps_makes(raw: object) -> None:
    data = {"provider": "ipyy", "raw": raw, "tuple": (raw, raw)}  # one value twice is no cycle
    assert _json(data) == json.dumps(data, ensure_ascii=False, default=str)


def test_a_circular_raw_is_refused_and_the_next_payload_is_made_as_before() -> None:
    circular: dict[str, object] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular"):
        _json({"raw": circular})
    shared = {"n": 1}
    assert _json({"a": shared, "b": [shared]}) == '{"a": {"n": 1}, "b": [{"n": 1}]}'
