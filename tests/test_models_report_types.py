"""DeliveryReport and InboundMessage refuse a field of the wrong type when they are built, a
ValidationError naming the field: a provider, mobile or text that is no string, a task_id or
vendor_code that is neither a string nor None. ``mobile=13800138000`` (an int) was accepted
and the text ``5`` too (its repr then raised a TypeError). The batch constructors report
parsers use (``_many``, ``_from_columns``) refuse the same values with the same error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import smsgate
from smsgate import DeliveryReport, DeliveryStatus, InboundMessage, ValidationError
from tests.test_model_batch_constructors import _outcome  # the model built or the error raised

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
WHEN = dt.datetime(2025, 11, 26, 12, 0, 1, tzinfo=CHINA)


class _Text(str):
    """A str subclass (what some parsers hand out): a string all the same."""


REPORT: dict[str, Any] = {"provider": "p", "mobile": "13800138000", "task_id": None, "status": "delivered"}
INBOUND: dict[str, Any] = {"provider": "p", "mobile": "13800138000", "text": "x"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile", 13800138000),
        ("mobile", None),
        ("mobile", b"13800138000"),
        ("provider", None),
        ("provider", 5),
        ("task_id", 5),
        ("task_id", ["T1"]),
        ("vendor_code", 0),
        ("vendor_code", b"DELIVRD"),
    ],
)
def test_a_report_refuses_a_field_of_the_wrong_type(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=rf"^{field} must be a string") as caught:
        DeliveryReport(**{**REPORT, field: value})
    assert caught.value.field == field
    assert "13800138000" not in str(caught.value)  # the type is named, never the value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile", 13800138000),
        ("mobile", None),
        ("provider", 5),
        ("text", 5),
        ("text", None),
        ("text", b"x"),
    ],
)
def test_an_inbound_message_refuses_a_field_of_the_wrong_type(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=rf"^{field} must be a string, not ") as caught:
        InboundMessage(**{**INBOUND, field: value})
    assert caught.value.field == field


def test_the_audited_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="mobile must be a string, not int"):
        smsgate.DeliveryReport(provider="p", mobile=13800138000, task_id=None, status="delivered")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="mobile must be a string, not int"):
        smsgate.InboundMessage(provider="p", mobile=13800138000, text="x")  # type: ignore[arg-type]


def test_strings_none_and_str_subclasses_are_still_accepted() -> None:
    report = DeliveryReport(
        provider=_Text("p"), mobile=_Text(""), task_id=_Text("T"), status="failed", vendor_code=""
    )
    assert (report.mobile, report.task_id, report.vendor_code) == ("", "T", "")
    message = InboundMessage(provider="p", mobile="", text="", task_id=5)
    assert message.task_id == "5"  # task_id and ext of a message keep their conversion


# --- the batch constructors -----------------------------------------------------------------

STRINGS = st.one_of(
    st.text(max_size=3),
    st.builds(_Text, st.text(max_size=3)),
    st.none(),
    st.integers(-3, 3),
    st.just(b"1"),
    st.just(13800138000),
)
TIMES = st.sampled_from([None, WHEN, WHEN.replace(tzinfo=None), "2025-11-26 12:00:01"])
STATUSES = st.sampled_from([DeliveryStatus.DELIVERED, "failed", "bogus"])
PROVIDERS = st.sampled_from(["p", _Text("p"), 5, None])


# A report's values: mobile, task_id, status, received_at, vendor_code, ext, reference.
_REPORT_VALUES = st.tuples(STRINGS, STRINGS, STATUSES, TIMES, STRINGS, STRINGS, STRINGS)
_REPORT_NAMES = ("mobile", "task_id", "status", "received_at", "vendor_code", "ext", "reference")


@given(PROVIDERS, _REPORT_VALUES)
def test_report_batch_constructors_refuse_what_the_constructor_refuses(
    provider: Any, values: tuple[Any, ...]
) -> None:
    raw = {"n": 1}
    fields = dict(zip(_REPORT_NAMES, values, strict=True))
    expected = _outcome(lambda: DeliveryReport(provider=provider, raw=raw, **fields))
    assert _outcome(lambda: DeliveryReport._many(provider, [(*values, raw)])[0]) == expected
    columns = {name: [value] for name, value in fields.items()}
    assert _outcome(lambda: DeliveryReport._from_columns(provider, [raw], **columns)[0]) == expected


# A message's values: mobile, text, received_at, ext, task_id.
_INBOUND_VALUES = st.tuples(STRINGS, STRINGS, TIMES, STRINGS, STRINGS)
_INBOUND_NAMES = ("mobile", "text", "received_at", "ext", "task_id")


@given(PROVIDERS, _INBOUND_VALUES)
def test_inbound_batch_constructors_refuse_what_the_constructor_refuses(
    provider: Any, values: tuple[Any, ...]
) -> None:
    raw = {"n": 1}
    fields = dict(zip(_INBOUND_NAMES, values, strict=True))
    expected = _outcome(lambda: InboundMessage(provider=provider, raw=raw, **fields))
    assert _outcome(lambda: InboundMessage._many(provider, [(*values, raw)])[0]) == expected
    columns = {name: [value] for name, value in fields.items()}
    assert _outcome(lambda: InboundMessage._from_columns(provider, [raw], **columns)[0]) == expected


@given(st.lists(_REPORT_VALUES, min_size=1, max_size=5))
def test_report_columns_refuse_where_the_rows_are_refused(rows: list[tuple[Any, ...]]) -> None:
    """Several rows at once: a column holding one bad value among good ones is refused."""
    raw = [{"n": index} for index in range(len(rows))]
    columns = {name: [row[index] for row in rows] for index, name in enumerate(_REPORT_NAMES)}
    try:
        expected = DeliveryReport._many("p", [(*row, item) for row, item in zip(rows, raw, strict=True)])
    except ValidationError:
        with pytest.raises(ValidationError):
            DeliveryReport._from_columns("p", raw, **columns)
        return
    got = DeliveryReport._from_columns("p", raw, **columns)
    assert [(m, repr(m), vars(m)) for m in got] == [(m, repr(m), vars(m)) for m in expected]


def _report_columns(**changes: Any) -> dict[str, Any]:
    count = 3
    columns: dict[str, Any] = {
        "mobile": ["13800138000"] * count,
        "task_id": ["T1", None, "T3"],
        "status": [DeliveryStatus.DELIVERED] * count,
        "received_at": [WHEN] * count,
        "vendor_code": ["DELIVRD", "", None],
    }
    return columns | changes


@pytest.mark.parametrize(
    ("field", "column"),
    [
        ("mobile", ["13800138000", 13900139000, "13700137000"]),
        ("mobile", None),  # no column: None for every report, and a mobile is required
        ("task_id", ["T1", 2, None]),
        ("vendor_code", [None, None, 0]),
    ],
)
def test_a_column_with_one_value_of_the_wrong_type_is_refused(field: str, column: Any) -> None:
    with pytest.raises(ValidationError, match=rf"^{field} must be a string") as caught:
        DeliveryReport._from_columns("p", [{}] * 3, **_report_columns(**{field: column}))
    assert caught.value.field == field


def test_an_inbound_column_with_one_value_of_the_wrong_type_is_refused() -> None:
    columns: dict[str, Any] = {"received_at": None, "ext": None, "task_id": None}
    texts: Any = ["hi", None]
    mobiles: Any = [1, "2"]
    with pytest.raises(ValidationError, match=r"^text must be a string, not NoneType") as caught:
        InboundMessage._from_columns("p", [{}] * 2, mobile=["1", "2"], text=texts, **columns)
    assert caught.value.field == "text"
    with pytest.raises(ValidationError, match=r"^mobile must be a string, not int"):
        InboundMessage._from_columns("p", [{}] * 2, mobile=mobiles, text=["hi", "ho"], **columns)


def test_columns_of_strings_none_and_str_subclasses_are_accepted() -> None:
    reports = DeliveryReport._from_columns(
        _Text("p"), [{}] * 3, **_report_columns(mobile=["1", _Text("2"), ""], task_id=[_Text("T"), None, ""])
    )
    assert [report.mobile for report in reports] == ["1", "2", ""]
    assert [report.vendor_code for report in reports] == ["DELIVRD", "", None]


def test_a_provider_of_the_wrong_type_is_refused_when_a_model_is_built() -> None:
    """As the constructor: refused for the first model, nothing to refuse when there is none."""
    with pytest.raises(ValidationError, match=r"^provider must be a string, not int"):
        DeliveryReport._from_columns(5, [{}] * 3, **_report_columns())  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^provider must be a string, not NoneType"):
        InboundMessage._many(None, [("1", "hi", None, None, None, {})])  # type: ignore[arg-type]
    empty: dict[str, Any] = {"mobile": [], "task_id": [], "status": [], "received_at": [], "vendor_code": []}
    assert DeliveryReport._from_columns(5, [], **empty) == []  # type: ignore[arg-type]
    assert DeliveryReport._many(5, []) == []  # type: ignore[arg-type]
