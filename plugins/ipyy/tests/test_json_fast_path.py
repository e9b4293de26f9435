"""JSON replies are read by orjson where it can (issue 11: half the time of ``json.loads`` on a
4,000-row pull); every body gives the value, or the error, the standard parser gave."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smsgate.exceptions import MalformedReplyError, ProviderError
from smsgate_ipyy import _parse
from smsgate_ipyy._xml import XmlError, decode_body

# What the reply parser promises on top of json.loads: a lone surrogate (an unpaired \\ud800
# escape) in any string comes back as U+FFFD.
_SURROGATES = dict.fromkeys(range(0xD800, 0xE000), "\ufffd")


def _valid(value: Any) -> Any:
    if isinstance(value, str):
        return value.translate(_SURROGATES)
    if isinstance(value, list):
        return list(map(_valid, value))
    if isinstance(value, dict):
        return {_valid(key): _valid(item) for key, item in value.items()}
    return value


def _standard(body: bytes, encoding: str) -> tuple[str, str]:
    try:
        return "value", repr(_valid(json.loads(decode_body(body, encoding))))
    except (ValueError, RecursionError, XmlError) as exc:
        return "error", type(exc).__name__


def _ours(body: bytes, encoding: str) -> tuple[str, str]:
    try:
        return "value", repr(_parse._json_loads(body, encoding))
    except (ValueError, RecursionError, XmlError) as exc:
        return "error", type(exc).__name__


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from(["成功", "\ud800", "\U0001f600", "\x00", "DELIVRD"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_ODD = [
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"-0",
    b"1E-400",
    b"01",
    b"\xef\xbb\xbf",
    b'"\\ud800"',
    b"\xff",
    b"\t",
]


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    body = json.dumps({"error": "1", "statusbox": draw(_VALUES)}, ensure_ascii=draw(st.booleans())).encode(
        "utf-8", "surrogatepass"
    )
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(body)))
        piece = draw(st.sampled_from(_ODD)) if draw(st.booleans()) else bytes([draw(st.integers(0, 255))])
        body = body[:at] + piece + body[at + draw(st.integers(0, 1)) :]
    return body, draw(st.sampled_from(["utf-8", "UTF-8", "gbk", "utf8"]))


@settings(max_examples=500)
@given(_bodies())
@example((b'\xef\xbb\xbf{"a": 1}', "utf-8"))
@example((b'{"a": NaN, "b": 1e400, "c": "\\ud800", "d": 123456789012345678901234567890}', "utf-8"))
@example((b'{"a": 1, "a": 2}', "utf-8"))
@example(('{"remark": "成功"}'.encode("gbk"), "gbk"))
@example(('{"remark": "成功"}'.encode("gbk"), "utf-8"))
def test_json_replies_read_as_the_standard_parser_reads_them(case: tuple[bytes, str]) -> None:
    """Each body gives json.loads's value (lone surrogates replaced) or its error."""
    body, encoding = case
    assert _ours(body, encoding) == _standard(body, encoding)


@pytest.mark.parametrize("depth", [1025, 5000])
def test_deep_nesting_is_still_refused(depth: int) -> None:
    """Nesting is still bounded: orjson stops at 1,024 levels and the standard parser at the
    interpreter's recursion limit (~1,000 less the stack in use): either way an error."""
    body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(MalformedReplyError, match="nested too deeply"):
        _parse._load(body)


def test_the_standard_parser_alone_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without orjson (PyPy, or not installed) the pull gives the very same reports."""
    rows: list[dict[str, Any]] = [
        {
            "mobile": "13800138000",
            "taskid": "T1",
            "receivetime": "2025-11-26 12:00:00",
            "errorcode": "DELIVRD",
        },
        {"mobile": " 13900139000 ", "taskid": 7, "receivetime": "", "errorcode": None, "x": 1.5},
    ]
    body = json.dumps({"error": "1", "remark": "成功", "statusbox": rows}, ensure_ascii=False).encode()
    fast = _parse.parse_reports_reply(body, provider="ipyy")
    monkeypatch.setattr(_parse, "_orjson_loads", None)
    slow = _parse.parse_reports_reply(body, provider="ipyy")
    assert fast == slow
    assert [(r.raw, repr(r)) for r in fast] == [(r.raw, repr(r)) for r in slow]


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        ("a\\ud800b", "a\ufffdb"),  # a lone high half
        ("\\udc00", "\ufffd"),  # a lone low half
        ("\\udc00\\ud800", "\ufffd\ufffd"),  # halves in the wrong order
        ("\\ud83d\\ude00", "\U0001f600"),  # a pair: one character, kept
        ("\\\\ud800", "\\ud800"),  # an escaped backslash, then the letters "ud800"
        ("\\uD800x", "\ufffdx"),
    ],
)
def test_a_lone_surrogate_is_read_as_a_replacement_character(escaped: str, text: str) -> None:
    """json.loads reads an unpaired surrogate escape into a str that no codec encodes (orjson
    refuses the body, the standard parser takes it): the message is kept, the broken character
    marked, so it can be journalled, stored and logged like any other."""
    item = f'{{"mobile": "13800138000", "content": "{escaped}", "receivetime": "", "{escaped}": "k"}}'
    body = f'{{"callbox": [{item}]}}'.encode()
    (message,) = _parse.parse_inbound_reply(body, provider="ipyy")
    assert message.text == text
    assert message.raw[text] == "k"  # keys too
    message.text.encode("utf-8")


_BIG = 123456789012345678901234567890  # beyond 64 bits: orjson reads it as a float


@pytest.mark.parametrize(
    ("box", "items", "top"),
    [
        # a field outside the columns, in a pull of one shape and in one of several shapes
        ("statusbox", [{"mobile": "13800138000", "x": _BIG}], {}),
        ("statusbox", [{"mobile": "13800138000"}, {"mobile": "13900139000", "x": _BIG}], {}),
        # a column's field
        ("statusbox", [{"mobile": "13800138000", "taskid": _BIG, "errorcode": "DELIVRD"}], {}),
        ("statusbox", [{"mobile": "13800138000", "errorcode": "DELIVRD"}, {"taskid": _BIG}], {}),
        ("callbox", [{"mobile": "13800138000", "content": _BIG}], {}),
        ("callbox", [{"mobile": "13800138000", "content": "hi", "y": [_BIG]}], {}),
        # beside the items
        ("statusbox", [{"mobile": "13800138000"}], {"n": _BIG}),
        ("statusbox", [{"mobile": "13800138000"}], {"n": {"m": _BIG}}),
        ("statusbox", [{"mobile": "13800138000", "x": 1.5, "z": 10**20}], {}),
    ],
)
def test_a_pull_read_without_the_digit_scan_keeps_integers_beyond_64_bits(
    box: str, items: list[dict[str, Any]], top: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON pull is read by orjson without looking for 19-digit runs first, its columns being
    the check: wherever an integer beyond 64 bits sits (a field the columns do not read, a
    column, beside the items), the pull gives the standard parser's values, not a float."""
    body = json.dumps({"error": "1", **top, box: items}).encode()
    parse = _parse.parse_reports_reply if box == "statusbox" else _parse.parse_inbound_reply
    fast = parse(body, provider="ipyy")
    assert repr([model.raw for model in fast]) == repr(json.loads(body)[box])  # 1e+20 == 10**20
    monkeypatch.setattr(_parse, "_orjson_loads", None)
    slow = parse(body, provider="ipyy")
    assert [(model, repr(model), repr(model.raw)) for model in fast] == [
        (m, repr(m), repr(m.raw)) for m in slow
    ]


@pytest.mark.parametrize("error", [5, "5", _BIG])
def test_a_refused_pull_carries_the_standard_parser_s_fields(error: object) -> None:
    """A pull saying an error is read the standard way: the error's raw fields hold integers
    beyond 64 bits as integers."""
    body = json.dumps({"error": error, "remark": "x", "n": _BIG, "statusbox": [{"k": _BIG}]}).encode()
    with pytest.raises(ProviderError) as caught:
        _parse.parse_reports_reply(body, provider="ipyy")
    assert repr(caught.value.raw) == repr(json.loads(body))


_PULL_VALUES = st.one_of(
    st.sampled_from(["", " 1 ", "13800138000", "2025-11-26 12:00:00", "DELIVRD", "10", "01", "成功"]),
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.lists(st.integers(2**63, 2**70), max_size=1),
)
_PULL_ITEMS = st.lists(
    st.dictionaries(
        st.sampled_from(["mobile", "taskid", "status", "receivetime", "errorcode", "extno", "content", "x"]),
        _PULL_VALUES,
    ),
    max_size=4,
)


def _pull_outcome(parse: Any, body: bytes) -> tuple[str, Any]:
    try:
        models = parse(body, provider="ipyy")
    except ProviderError as exc:  # MalformedReplyError included
        return "error", (type(exc), str(exc), repr(exc.raw))
    return "models", [(model, repr(model), repr(model.raw)) for model in models]


@settings(max_examples=300)
@given(
    box=st.sampled_from(["statusbox", "callbox"]),
    items=st.one_of(_PULL_ITEMS, st.lists(st.just({"mobile": "1", "errorcode": "DELIVRD"}), max_size=3)),
    top=st.dictionaries(st.sampled_from(["error", "remark", "n"]), _PULL_VALUES, max_size=2),
)
def test_pulls_read_by_orjson_give_the_standard_parser_s_models(
    box: str, items: list[dict[str, Any]], top: dict[str, Any]
) -> None:
    """Whatever a pull holds where (numbers beyond 64 bits, floats, nulls, lists, in a read
    field, another field or beside the items; a refusal), the models or the error are those
    of the standard parser alone."""
    body = json.dumps({**top, box: items}).encode()
    parse = _parse.parse_reports_reply if box == "statusbox" else _parse.parse_inbound_reply
    fast = _pull_outcome(parse, body)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_parse, "_orjson_loads", None)
        assert fast == _pull_outcome(parse, body)
