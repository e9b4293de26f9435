"""Fast paths of the pull parsers (issue 11) give the very values of the slow ones."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smsgate import DeliveryReport, InboundMessage
from smsgate_ipyy import _parse
from smsgate_ipyy._crypto import CHINA


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-26 12:34:56", dt.datetime(2025, 11, 26, 12, 34, 56, tzinfo=CHINA)),
        ("2025/11/26 12:34:56", dt.datetime(2025, 11, 26, 12, 34, 56, tzinfo=CHINA)),
        ("2025-11-26T12:34:56", dt.datetime(2025, 11, 26, 12, 34, 56, tzinfo=CHINA)),
        (" 2025-11-26 12:34:56 ", dt.datetime(2025, 11, 26, 12, 34, 56, tzinfo=CHINA)),
        ("2025-02-30 00:00:00", None),
        ("2025-11-26 24:00:00", None),
        ("0001-01-01 00:00:01", None),
        ("0000-01-01 00:00:00", None),
        ("2025/11/26T12:34:56", None),
        ("2025-11-26 12:34:56+08:00", None),
        ("2025-11-26 12:34:56Z", None),
    ],
)
def test_common_gateway_times_need_no_strptime(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: dt.datetime | None
) -> None:
    """The layouts of nearly every gateway time are read without the strptime loop (it was
    59 % of a JSON pull's parse), with the values strptime gave, and None where it failed."""
    assert _parse.parse_china_time(text) == expected
    monkeypatch.setattr(_parse, "_TIME_FORMATS", ())
    assert _parse.parse_china_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-1-2 3:04:05", dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=CHINA)),
        ("2025/1/1 0:00:01", dt.datetime(2025, 1, 1, 0, 0, 1, tzinfo=CHINA)),
        ("2025-11-26 12:34:56.5", dt.datetime(2025, 11, 26, 12, 34, 56, 500000, tzinfo=CHINA)),
    ],
)
def test_other_layouts_still_go_through_strptime(text: str, expected: dt.datetime) -> None:
    assert _parse.parse_china_time(text) == expected


def test_the_plain_xml_loop_reads_boxes_as_children_text_does() -> None:
    """Namespaced tags, comments, repeated and empty fields, an errorstatus after the boxes:
    the one-pass XML pull gives what the per-box ``children_text`` gave."""
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms xmlns:x="urn:x">'
        b"<statusbox><mobile> 13800138000 </mobile><!-- note --><x:taskid>T1</x:taskid>"
        b"<status>10</status><status>20</status><receivetime>2025-11-26 12:00:00</receivetime>"
        b"<errorcode>DELIVRD</errorcode><extno/></statusbox>"
        b"<x:statusbox><mobile>13900139000</mobile><taskid>T2</taskid></x:statusbox>"
        b"</returnsms>"
    )
    first, second = _parse.parse_reports_reply(body, provider="ipyy")
    assert first.raw == {
        "mobile": "13800138000",
        "taskid": "T1",
        "status": "10",
        "receivetime": "2025-11-26 12:00:00",
        "errorcode": "DELIVRD",
        "extno": "",
    }
    assert first.task_id == "T1"
    assert second.raw == {"mobile": "13900139000", "taskid": "T2"}
    failed = body.replace(
        b"</returnsms>", b"<errorstatus><error>4</error><remark>x</remark></errorstatus></returnsms>"
    )
    with pytest.raises(Exception, match=r"\S") as info:
        _parse.parse_reports_reply(failed, provider="ipyy")
    assert type(info.value).__module__.startswith("smsgate")


# --- the pull's fast construction gives what the per-item constructors give -----------------

# parse_china_time as it was before the position check replaced the regular expression.
_OLD_COMMON = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"|[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
)
_OLD_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")


def _old_china_time(text: str | None) -> dt.datetime | None:
    value = (text or "").strip()
    if value in {"", "0001-01-01 00:00:00", "0001/1/1 0:00:00"}:
        return None
    if _OLD_COMMON.fullmatch(value):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("/", "-"))
        except ValueError:
            return None
        return None if parsed.year <= 1 else parsed.replace(tzinfo=CHINA)
    for pattern in _OLD_FORMATS:
        try:
            parsed = dt.datetime.strptime(value, pattern)
        except ValueError:
            continue
        return None if parsed.year <= 1 else parsed.replace(tzinfo=CHINA)
    return None


_LAYOUTS = ["2025-11-26 12:34:56", "2025-11-26T12:34:56", "2025/11/26 12:34:56", "0001-01-01 00:00:00"]
# Characters that break a layout in every way that matters: another separator, a sign, a
# space (strptime's %d takes " 5"), a non-ASCII digit (strptime's \d takes it, fromisoformat
# does not), a letter, a lone surrogate.
_SWAPS = st.sampled_from([*"0123456789 -/T:+.Zx", "\u0663", "\uff11", "\ud800"])


@st.composite
def _gateway_times(draw: st.DrawFn) -> str:
    """A common layout with a few characters swapped, cut or padded, or any short text."""
    if draw(st.booleans()):
        return draw(st.text(max_size=24))
    chars = list(draw(st.sampled_from(_LAYOUTS)))
    for _ in range(draw(st.integers(0, 3))):
        chars[draw(st.integers(0, len(chars) - 1))] = draw(_SWAPS)
    text = "".join(chars)
    cut = draw(st.integers(-2, 2))
    text = text[:cut] if cut < 0 else text + ".5" * cut
    return draw(st.sampled_from(["", " ", "\t"])) + text


@given(_gateway_times())
@example("2025-11- 5 12:34:56")  # strptime reads " 5" as a day; fromisoformat does not
@example("\u0662\u0660\u0662\u0665-11-26 12:34:56")  # Arabic-Indic digits: strptime only
@example("2025-02-29 00:00:00")
@example("2025/11/26T12:34:56")
def test_parse_china_time_gives_what_the_regular_expression_version_gave(text: str) -> None:
    new, old = _parse.parse_china_time(text), _old_china_time(text)
    assert new == old
    assert repr(new) == repr(old)  # the same tzinfo (China, named CST), not only the same instant


_VALUES = st.one_of(
    st.none(),
    st.integers(-5, 99),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.sampled_from(["", " ", "10", "20", "30", " 10 ", "DELIVRD", "delivrd ", "UNDELIV", "01", " 7"]),
    _gateway_times(),
    st.text(max_size=8),
)
_ITEMS = st.lists(
    st.dictionaries(
        st.sampled_from(
            ["mobile", "taskid", "status", "receivetime", "errorcode", "extno", "content", "other"]
        ),
        _VALUES,
    ),
    max_size=6,
)


@given(_ITEMS)
def test_pulled_reports_are_what_report_item_builds(items: list[dict[str, Any]]) -> None:
    """Equal objects, equal raw, equal repr, item by item, whatever the values (numbers, nulls,
    lists, padded strings, broken times), each time parsed once per pull."""
    expected = [_parse.report_item(item, "ipyy") for item in items]
    got = _parse._reports([dict(item) for item in items], "ipyy")
    assert got == expected
    assert [(r.raw, repr(r), r.ext, r.reference) for r in got] == [
        (r.raw, repr(r), r.ext, r.reference) for r in expected
    ]


@given(_ITEMS)
def test_pulled_inbound_messages_are_what_inbound_item_builds(items: list[dict[str, Any]]) -> None:
    expected = [_parse.inbound_item(item, "ipyy") for item in items]
    got = _parse._inbound([dict(item) for item in items], "ipyy")
    assert got == expected
    assert [(m.raw, repr(m), m.text) for m in got] == [(m.raw, repr(m), m.text) for m in expected]


def _rows(count: int) -> list[dict[str, str]]:
    return [
        {
            "mobile": f"138{i:08d}",
            "taskid": f"T{i // 7}",
            "receivetime": ["2025-11-26 12:00:00", "2025/1/2 3:04:05", "", "2025-02-30 00:00:00"][i % 4],
            "errorcode": ["DELIVRD", "UNDELIV", "", " delivrd "][i % 4],
            "extno": ["", "01"][i % 2],
        }
        for i in range(count)
    ]


def test_whole_pulls_json_and_xml_give_the_per_item_models() -> None:
    """A JSON and an XML report pull, and an inbound pull of each, through the parser equal the
    per-item construction over the same items."""
    rows = _rows(40)
    reports_json = json.dumps({"error": "1", "statusbox": rows}).encode()
    callbox = [{**row, "content": f" 你好 {i} "} for i, row in enumerate(rows)]
    inbound_json = json.dumps({"error": "1", "callbox": callbox}).encode()

    def xml(box: str, items: list[dict[str, str]]) -> bytes:
        boxes = "".join(
            f"<{box}>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + f"</{box}>" for item in items
        )
        return f'<?xml version="1.0" encoding="utf-8" ?><returnsms>{boxes}</returnsms>'.encode()

    for body in (reports_json, xml("statusbox", [{**row, "status": "10"} for row in rows])):
        got = _parse.parse_reports_reply(body, provider="ipyy")
        expected = [_parse.report_item(item, "ipyy") for item in _parse._pull(body, "statusbox")]
        assert got == expected
        assert [r.raw for r in got] == [r.raw for r in expected]
    for body in (inbound_json, xml("callbox", callbox)):
        got_in = _parse.parse_inbound_reply(body, provider="ipyy")
        expected_in = [_parse.inbound_item(item, "ipyy") for item in _parse._pull(body, "callbox")]
        assert got_in == expected_in
        assert [m.text for m in got_in] == [m.text for m in expected_in]


# --- the column-by-column pull (every field a string) gives what the row-by-row one gave ---

_STRING_VALUES = st.one_of(
    st.sampled_from(["", " ", "10", "20", "30", " 10 ", "DELIVRD", "delivrd ", "UNDELIV", "01", "成功"]),
    _gateway_times(),
    st.sampled_from(
        ["2025-11-26 12:00:00", "2025/11/26 12:00:01", "2025-11-26T12:00:02", "0001-01-01 00:00:00"]
    ),
    st.text(max_size=8),
)
_STRING_ITEMS = st.lists(
    st.dictionaries(
        st.sampled_from(
            ["mobile", "taskid", "status", "receivetime", "errorcode", "extno", "content", "other"]
        ),
        _STRING_VALUES,
    ),
    max_size=8,
)


@given(_STRING_ITEMS)
@example([{"receivetime": "2025-11-26 12:00:00"}, {"receivetime": "2025-02-30 00:00:00"}])
@example([{"receivetime": "2025/11/26 12:00:00", "status": "10"}, {"errorcode": "DELIVRD"}])
@example([{"receivetime": "0001-01-02 00:00:00"}, {"receivetime": "2025-11-26 12:00:00"}])
def test_string_pulls_read_column_by_column_give_the_row_by_row_reports(items: list[dict[str, Any]]) -> None:
    """Equal objects, raw, repr and shared times, whether the statuses come from ``status``,
    ``errorcode`` or a mix, whatever the times (common layouts, impossible dates, year 1)."""
    columns = _parse._string_columns(items, _parse._REPORT_FIELDS, _parse._REPORT_KEPT)
    assert columns is not None
    got = _parse._report_columns(columns, items, "ipyy")
    expected = DeliveryReport._many("ipyy", _parse._report_rows(items))
    assert got == expected
    assert [(r.raw, repr(r), r.ext, r.task_id) for r in got] == [
        (r.raw, repr(r), r.ext, r.task_id) for r in expected
    ]
    assert got == [_parse.report_item(item, "ipyy") for item in items]


@given(_STRING_ITEMS)
def test_string_inbound_pulls_read_column_by_column_give_the_row_by_row_messages(
    items: list[dict[str, Any]],
) -> None:
    columns = _parse._string_columns(items, _parse._INBOUND_COLUMNS, _parse._INBOUND_KEPT)
    assert columns is not None
    got = _parse._inbound_columns(columns, items, "ipyy")
    expected = InboundMessage._many("ipyy", _parse._inbound_rows(items))
    assert got == expected
    assert [(m.raw, repr(m), m.text) for m in got] == [(m.raw, repr(m), m.text) for m in expected]


@given(st.lists(st.one_of(_gateway_times(), st.sampled_from(["2025/11/26 12:00:01", "2025-11-26T00:00:00"]))))
def test_times_read_in_one_loop_are_parse_china_time_s(texts: list[str]) -> None:
    """Stripped or as written (blanks around a time included), each text's value is
    parse_china_time's."""
    for column in ([text.strip() for text in texts], texts):
        times = _parse._china_times(column)
        for text in column:
            assert repr(times[text]) == repr(_parse.parse_china_time(text))


def test_a_field_that_is_not_a_string_goes_row_by_row() -> None:
    items: list[dict[str, Any]] = [{"mobile": "1", "taskid": 7}, {"mobile": None}]
    assert _parse._string_columns(items, _parse._REPORT_FIELDS, _parse._REPORT_KEPT) is None
    assert _parse._string_columns([{"content": None}], _parse._INBOUND_COLUMNS, _parse._INBOUND_KEPT) is None
    assert _parse._reports(items, "ipyy") == [_parse.report_item(item, "ipyy") for item in items]


@pytest.mark.parametrize(
    "texts",
    [
        ["2025-11-26 12:00:00", "2025-11-26T12:00:01"],
        ["2025/11/26 12:00:00", "2025-11-26 12:00:01"],
        ["2025/11/26T12:00:00", "2025-11-26 12:00:01"],
        ["2025-11-26x12:00:00", "2025-11-26 12:00:01"],
        ["2025-11-26 12:00:00", "2025-11-26 12.00:01"],
        ["2025-11/26 12:00:00", ""],
        ["2025-11-26 12:00:00", "0001-01-01 00:00:00", "0001/1/1 0:00:00", ""],
        ["2025-11-26 12:00:00", "2025-11-26 12:00:0\u0663"],
    ],
)
def test_times_in_mixed_layouts_are_parse_china_time_s(texts: list[str]) -> None:
    times = _parse._china_times(texts)
    assert [repr(times[text]) for text in texts] == [repr(_parse.parse_china_time(text)) for text in texts]
