"""The value classes' ``__eq__``, ``__hash__`` and ``__repr__`` come from closures
(``smsgate._models._compared``), not from source attrs compiles at import (issue 11, import
time); they behave as the methods attrs generates, checked here against attrs-generated twins
built from the same fields."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from typing import Any

import attrs
import pytest

from smsgate import (
    Balance,
    BreakerPolicy,
    CallbackReply,
    Capabilities,
    DeliveryReport,
    InboundMessage,
    Mms,
    MmsPart,
    Operation,
    Provider,
    RateLimit,
    Receipt,
    RetryPolicy,
    Sms,
)
from smsgate._segments import SegmentInfo
from smsgate.default_plugins.memory import OutboxEntry, _Step
from smsgate.exceptions import NotSentError
from smsgate.routing import BreakerState, ProviderHealth, Strategy
from smsgate.routing._config import RoutingConfig
from smsgate.routing._plan import Attempt, Sleep

NUMBER = "13800138000"
OTHER = "13900139000"
AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(seconds=1)
PART = MmsPart(name="a.txt", data=b"hi")
RECEIPT = Receipt(provider="p", task_id="t1", accepted=1)
SMS = Sms(to=NUMBER, text="hi")
PROVIDER, OTHER_PROVIDER = Provider(), Provider()

#: Several valid constructions of each class, differing one field at a time (raw and the
#: other fields left out of eq included).
VARIANTS: dict[type, list[dict[str, Any]]] = {
    Sms: [
        {"to": NUMBER, "text": "a"},
        {"to": NUMBER, "text": "b"},
        {"to": [NUMBER, OTHER], "text": "a"},
        {"to": NUMBER, "template": "verify", "params": {"code": "1"}},
        {"to": NUMBER, "template": "verify", "params": {"code": "2"}},
        {"to": NUMBER, "text": "a", "reference": "r1"},
        {"to": NUMBER, "text": "a", "send_at": AT},
        {"to": NUMBER, "text": "a", "ext": "12"},
    ],
    Mms: [
        {"to": NUMBER, "parts": [PART]},
        {"to": NUMBER, "parts": [PART], "subject": "s"},
        {"to": OTHER, "parts": [PART]},
        {"to": NUMBER, "parts": [PART, MmsPart(name="b.txt", data=b"x")]},
        {"to": NUMBER, "parts": [PART], "send_at": AT},
        {"to": NUMBER, "parts": [PART], "ext": "7"},
    ],
    MmsPart: [
        {"name": "a.txt", "data": b"hi"},
        {"name": "b.txt", "data": b"hi"},
        {"name": "a.txt", "data": b"ho"},
        {"name": "a.txt", "data": b"hi", "content_type": "text/plain"},
    ],
    Receipt: [
        {"provider": "p", "task_id": "t1", "accepted": 1},
        {"provider": "q", "task_id": "t1", "accepted": 1},
        {"provider": "p", "task_id": "t2", "accepted": 1},
        {"provider": "p", "task_id": "t1", "accepted": 2},
        {"provider": "p", "task_id": "t1", "accepted": 1, "recipients": [NUMBER]},
        {"provider": "p", "task_id": "t1", "accepted": 1, "balance": "9.50"},
        {"provider": "p", "task_id": "t1", "accepted": 1, "attempts": 2},
        {"provider": "p", "task_id": "t1", "accepted": 1, "parts": [RECEIPT]},
        {"provider": "p", "task_id": "t1", "accepted": 1, "reference": "r"},
        {"provider": "p", "task_id": "t1", "accepted": 1, "accepted_at": AT},
        {"provider": "p", "task_id": "t1", "accepted": 1, "raw": {"secret": "x"}},
    ],
    Balance: [
        {"provider": "p", "remaining": "10"},
        {"provider": "p", "remaining": "10.0"},
        {"provider": "p", "remaining": "11"},
        {"provider": "p", "remaining": "10", "kind": "mms"},
        {"provider": "p", "remaining": "10", "pay_mode": "prepaid"},
        {"provider": "p", "remaining": "10", "total": 100},
        {"provider": "p", "remaining": "10", "raw": b"<xml/>"},
    ],
    DeliveryReport: [
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "delivered"},
        {"provider": "p", "mobile": OTHER, "task_id": "t", "status": "delivered"},
        {"provider": "p", "mobile": NUMBER, "task_id": None, "status": "delivered"},
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "failed"},
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "delivered", "received_at": AT},
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "delivered", "received_at": LATER},
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "delivered", "vendor_code": "DELIVRD"},
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "delivered", "ext": "1"},
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "delivered", "reference": "r"},
        {"provider": "p", "mobile": NUMBER, "task_id": "t", "status": "delivered", "raw": {"a": 1}},
    ],
    InboundMessage: [
        {"provider": "p", "mobile": NUMBER, "text": "hi"},
        {"provider": "p", "mobile": NUMBER, "text": "ho"},
        {"provider": "q", "mobile": NUMBER, "text": "hi"},
        {"provider": "p", "mobile": NUMBER, "text": "hi", "received_at": AT},
        {"provider": "p", "mobile": NUMBER, "text": "hi", "ext": "5"},
        {"provider": "p", "mobile": NUMBER, "text": "hi", "task_id": "t"},
        {"provider": "p", "mobile": NUMBER, "text": "hi", "raw": ["x"]},
    ],
    Capabilities: [
        {},
        {"batch": True},
        {"balance_kinds": ["sms", "mms"]},
        {"max_recipients": 100},
        {"free_text": False, "templates": True},
    ],
    CallbackReply: [
        {},
        {"status_code": 400},
        {"body": b"ok"},
        {"media_type": "application/json"},
    ],
    # The routing's frozen value classes (their methods come from the same closures).
    RetryPolicy: [{}, {"attempts": 1}, {"base": 0.5}, {"cap": 1.0}, {"total": 2.0}],
    BreakerPolicy: [{}, {"failures": 2}, {"cool_down": 1.0}, {"enabled": False}],
    RateLimit: [{"rate": 10}, {"rate": 10.0}, {"rate": 5}, {"rate": 10, "burst": 5}],
    Attempt: [
        {
            "provider": PROVIDER,
            "operation": Operation.SEND,
            "call": Provider.send,
            "message": None,
            "number": 1,
        },
        {
            "provider": OTHER_PROVIDER,
            "operation": Operation.SEND,
            "call": Provider.send,
            "message": None,
            "number": 1,
        },
        {
            "provider": PROVIDER,
            "operation": Operation.BALANCE,
            "call": Provider.send,
            "message": None,
            "number": 1,
        },
        {
            "provider": PROVIDER,
            "operation": Operation.SEND,
            "call": Provider.balance,
            "message": None,
            "number": 1,
        },
        {
            "provider": PROVIDER,
            "operation": Operation.SEND,
            "call": Provider.send,
            "message": "m",
            "number": 1,
        },
        {
            "provider": PROVIDER,
            "operation": Operation.SEND,
            "call": Provider.send,
            "message": None,
            "number": 2,
        },
    ],
    Sleep: [{"seconds": 1.0}, {"seconds": 2.0}, {"seconds": 1.0, "reason": "rate limit"}],
    RoutingConfig: [
        {},
        {"strategy": "round_robin"},
        {"strategy": Strategy.WEIGHTED, "weights": (1.0, 2.0)},
        {"retry": RetryPolicy(attempts=1)},
        {"breaker": BreakerPolicy.off()},
        {"rate_limit": RateLimit(rate=5)},
        {"failover_on_uncertain": True},
    ],
    ProviderHealth: [
        {"name": "a", "state": BreakerState.CLOSED, "consecutive_failures": 0},
        {"name": "b", "state": BreakerState.CLOSED, "consecutive_failures": 0},
        {"name": "a", "state": BreakerState.OPEN, "consecutive_failures": 0},
        {"name": "a", "state": BreakerState.CLOSED, "consecutive_failures": 3},
    ],
    SegmentInfo: [
        {
            "encoding": "GSM-7",
            "characters": 2,
            "units": 2,
            "segments": 1,
            "per_segment": 160,
            "remaining": 158,
        },
        {
            "encoding": "UCS-2",
            "characters": 2,
            "units": 2,
            "segments": 1,
            "per_segment": 160,
            "remaining": 158,
        },
        {
            "encoding": "GSM-7",
            "characters": 3,
            "units": 2,
            "segments": 1,
            "per_segment": 160,
            "remaining": 158,
        },
        {
            "encoding": "GSM-7",
            "characters": 2,
            "units": 3,
            "segments": 1,
            "per_segment": 160,
            "remaining": 158,
        },
        {
            "encoding": "GSM-7",
            "characters": 2,
            "units": 2,
            "segments": 2,
            "per_segment": 160,
            "remaining": 158,
        },
        {
            "encoding": "GSM-7",
            "characters": 2,
            "units": 2,
            "segments": 1,
            "per_segment": 153,
            "remaining": 158,
        },
        {
            "encoding": "GSM-7",
            "characters": 2,
            "units": 2,
            "segments": 1,
            "per_segment": 160,
            "remaining": 157,
        },
    ],
    OutboxEntry: [
        {"operation": Operation.SEND, "message": SMS, "receipt": RECEIPT},
        {"operation": Operation.SEND_BATCH, "message": SMS, "receipt": RECEIPT},
        {"operation": Operation.SEND, "message": (SMS,), "receipt": RECEIPT},
        {"operation": Operation.SEND, "message": SMS, "receipt": RECEIPT, "texts": ("hi",)},
    ],
    _Step: [
        {"error": None, "operation": None},
        {"error": NotSentError, "operation": None},
        {"error": None, "operation": Operation.SEND},
    ],
}


def _twin(cls: type) -> type:
    """An attrs-generated class with the same fields, eq and repr flags (no checks: it is
    built from the model's already converted values)."""
    fields = {
        f.name: attrs.field(eq=f.eq, repr=f.repr, alias=f.alias, kw_only=True) for f in attrs.fields(cls)
    }
    return attrs.make_class(cls.__name__, fields, frozen=True)


def _pairs(cls: type) -> list[tuple[Any, Any]]:
    twin = _twin(cls)
    pairs = []
    for kwargs in VARIANTS[cls]:
        model = cls(**kwargs)
        values = {f.alias: getattr(model, f.name) for f in attrs.fields(cls)}
        pairs.append((model, twin(**values)))
    return pairs


@pytest.mark.parametrize("cls", list(VARIANTS), ids=lambda c: c.__name__)
def test_eq_ne_and_hash_behave_as_attrs_generates_them(cls: type) -> None:
    pairs = _pairs(cls)
    for (one, twin_one), (other, twin_other) in itertools.product(pairs, repeat=2):
        assert (one == other) is (twin_one == twin_other), (one, other)
        assert (one != other) is (twin_one != twin_other), (one, other)
        if one == other:
            assert hash(one) == hash(other)
    model = pairs[0][0]
    assert model.__eq__(object()) is NotImplemented
    assert model != object()
    assert model.__eq__(pairs[0][1]) is NotImplemented  # another class with the same fields


#: The classes whose repr comes from the fields' flags (the others write their own, which
#: hides customer data and is tested with each model).
GENERATED_REPR = [
    MmsPart,
    Receipt,
    Balance,
    Capabilities,
    CallbackReply,
    RetryPolicy,
    BreakerPolicy,
    RateLimit,
    Attempt,
    Sleep,
    RoutingConfig,
    ProviderHealth,
    SegmentInfo,
    OutboxEntry,
    _Step,
]


@pytest.mark.parametrize("cls", GENERATED_REPR, ids=lambda c: c.__name__)
def test_repr_is_what_attrs_generates(cls: type) -> None:
    for model, twin in _pairs(cls):
        assert repr(model) == repr(twin)


def test_a_recursive_repr_shows_dots_as_attrs_does() -> None:
    box: list[object] = []
    part = MmsPart(name="a.txt", data=b"x", content_type=box)  # type: ignore[arg-type]
    box.append(part)
    assert repr(part) == "MmsPart(name='a.txt', data=<1 bytes>, content_type=[...])"


def test_import_smsgate_compiles_no_eq_hash_or_repr_for_its_classes() -> None:
    """attrs compiles only the ``__init__`` of smsgate's value classes at import: the
    source of each class's generated methods, which attrs leaves in ``linecache``."""
    script = (
        "import json, linecache\nimport smsgate\n"
        "scripts = {k: ''.join(v[2]) for k, v in linecache.cache.items()"
        " if k.startswith('<attrs generated methods smsgate.')}\n"
        "print(json.dumps({k: [l.split('(')[0] for l in s.splitlines() if l.startswith('def ')]"
        " for k, s in scripts.items()}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    generated = json.loads(proc.stdout)
    assert "<attrs generated methods smsgate._models.Receipt>" in generated
    assert {k: v for k, v in generated.items() if v != ["def __init__"]} == {}


def test_the_routing_value_classes_get_only_their_init_compiled() -> None:
    """The other frozen value classes a gateway loads (routing policies and config, plan
    commands, health, segment info, the in-memory provider's entries) take their ``__eq__``,
    ``__hash__`` and ``__repr__`` from the same closures: a gateway's first import compiles
    only their ``__init__``."""
    script = (
        "import json, linecache\n"
        "import smsgate.routing._plan, smsgate._segments, smsgate.default_plugins.memory\n"
        "names = ['routing._policies.RetryPolicy', 'routing._policies.BreakerPolicy',"
        " 'routing._policies.RateLimit', 'routing._plan.Attempt', 'routing._plan.Sleep',"
        " 'routing._config.RoutingConfig', 'routing._breaker.ProviderHealth', '_segments.SegmentInfo',"
        " 'default_plugins.memory.OutboxEntry', 'default_plugins.memory._Step']\n"
        "keys = {n: f'<attrs generated methods smsgate.{n}>' for n in names}\n"
        "print(json.dumps({n: [l.split('(')[0] for l in linecache.cache[k][2] if l.startswith('def ')]"
        " for n, k in keys.items()}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    generated = json.loads(proc.stdout)
    assert len(generated) == 10
    assert {k: v for k, v in generated.items() if v != ["def __init__"]} == {}
