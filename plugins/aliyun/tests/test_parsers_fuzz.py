"""Every parser raises only smsgate errors, whatever it is given: hypothesis mutates valid
samples (bytes flipped, cut, spliced; JSON values swapped for others) and feeds them in."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsgate.exceptions import SmsGateError, ValidationError
from smsgate_aliyun._parse import parse_query_reply, parse_send_reply
from smsgate_aliyun._push import parse_inbound_push, parse_report_push

from .samples import INBOUND_PUSH, QUERY_OK, REPORT_PUSH, SEND_OK, SEND_REFUSED

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def byte_mutations(draw: st.DrawFn, sample: bytes) -> bytes:
    data = bytearray(sample)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at:]
    return bytes(data)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def json_mutations(draw: st.DrawFn, sample: bytes) -> bytes:
    doc = json.loads(sample)
    path = draw(st.sampled_from(_paths(doc)))
    value = draw(JSON_VALUES)
    if not path:
        return json.dumps(value).encode()
    target = doc
    for step in path[:-1]:
        target = target[step]
    if draw(st.booleans()) and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()


def mutants(sample: bytes) -> st.SearchStrategy[bytes]:
    return byte_mutations(sample) | json_mutations(sample)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_smsgate_errors(parse: Callable[[bytes], object], body: bytes) -> None:
    with contextlib.suppress(SmsGateError):
        parse(body)


@FUZZ
@given(body=mutants(SEND_OK) | mutants(SEND_REFUSED), status=st.sampled_from([200, 400, 403, 500, 503]))
def test_the_send_reply_parser_raises_only_smsgate_errors(body: bytes, status: int) -> None:
    only_smsgate_errors(
        lambda b: parse_send_reply(b, status_code=status, provider="aliyun", recipients=["1"]), body
    )


@FUZZ
@given(body=mutants(QUERY_OK))
def test_the_query_reply_parser_raises_only_smsgate_errors(body: bytes) -> None:
    only_smsgate_errors(lambda b: parse_query_reply(b, status_code=200, provider="aliyun", biz_id="b"), body)


@FUZZ
@given(body=mutants(REPORT_PUSH))
def test_the_report_push_parser_raises_only_validation_errors(body: bytes) -> None:
    with contextlib.suppress(ValidationError):
        parse_report_push(body, provider="aliyun")


@FUZZ
@given(body=mutants(INBOUND_PUSH))
def test_the_inbound_push_parser_raises_only_validation_errors(body: bytes) -> None:
    with contextlib.suppress(ValidationError):
        parse_inbound_push(body, provider="aliyun")
