"""The value classes survive ``pickle``, ``copy`` and ``attrs.evolve`` and stay frozen, whichever
layout attrs gives them (slots, or an instance dict: ``Receipt``, ``Capabilities``,
``DeliveryReport`` and ``InboundMessage`` keep their fields in a dict, issue 11)."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from typing import Any

import attrs
import pytest

from smsgate import (
    Balance,
    CallbackReply,
    Capabilities,
    DeliveryReport,
    InboundMessage,
    Mms,
    MmsPart,
    Receipt,
    Sms,
)

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
PART = MmsPart(name="a.txt", data=b"hi")

MODELS: list[Any] = [
    Sms(to=["13800138000", "+8613900139000"], text="hi", reference="r-1", send_at=AT, ext="12"),
    Sms(to="13800138000", template="verify", params={"code": "1"}),
    Mms(to="13800138000", subject="s", parts=[PART]),
    PART,
    Receipt(
        provider="p",
        task_id="t",
        accepted=2,
        recipients=["13800138000"],
        balance="9.5",
        parts=[Receipt(provider="p", task_id="t0", accepted=1)],
        reference="r",
        accepted_at=AT,
        raw={"a": 1},
    ),
    Balance(provider="p", remaining="10", total="100", raw=b"x"),
    DeliveryReport(provider="p", mobile="13800138000", task_id="t", status="delivered", received_at=AT),
    InboundMessage(provider="p", mobile="13800138000", text="hi", received_at=AT, ext="5"),
    Capabilities(batch=True, balance_kinds=["sms", "mms"], max_recipients=100),
    CallbackReply(status_code=500, body=b"no"),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_a_model_round_trips_through_pickle_and_copy(model: Any) -> None:
    for twin in (pickle.loads(pickle.dumps(model)), copy.copy(model), copy.deepcopy(model)):
        assert type(twin) is type(model)
        assert twin == model
        assert hash(twin) == hash(model)
        assert attrs.asdict(twin, recurse=False) == attrs.asdict(model, recurse=False)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_a_model_is_frozen_and_evolves_into_a_new_one(model: Any) -> None:
    first = attrs.fields(type(model))[0]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(model, first.name, getattr(model, first.name))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        model.not_a_field = 1
    same = attrs.evolve(model)
    assert same == model
    assert same is not model
