"""``DeliveryReport._many`` and ``InboundMessage._many``, the batch constructors report parsers
use (issue 11: attrs' keyword ``__init__`` was a third of a JSON pull's parse), build exactly
what the keyword constructor builds, and refuse exactly what it refuses, with the same error."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate import DeliveryReport, DeliveryStatus, InboundMessage, ValidationError

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


class _NoOffset(dt.tzinfo):
    """A tzinfo whose offset is unknown: a datetime carrying it is not aware."""

    def utcoffset(self, when: dt.datetime | None) -> None:
        return None

    def dst(self, when: dt.datetime | None) -> None:
        return None

    def tzname(self, when: dt.datetime | None) -> None:
        return None


class _Moment(dt.datetime):
    """A datetime subclass (pendulum and arrow hand out such)."""


WHEN = dt.datetime(2025, 11, 26, 12, 0, 1)
TIMES = st.sampled_from(
    [
        None,
        WHEN.replace(tzinfo=CHINA),
        WHEN.replace(tzinfo=dt.UTC),
        WHEN.replace(tzinfo=ZoneInfo("Asia/Shanghai")),
        _Moment(2025, 1, 1, tzinfo=CHINA),
        WHEN,  # naive
        WHEN.replace(tzinfo=_NoOffset()),
        dt.date(2025, 1, 1),
        "2025-11-26 12:00:01",
    ]
)
TEXTS = st.one_of(st.none(), st.sampled_from(["", "0", "12", " 7 ", "a"]), st.integers(-3, 30), st.floats())
STATUSES = st.one_of(
    st.sampled_from(list(DeliveryStatus)),
    st.sampled_from(["delivered", "failed", "bogus", ""]),
    st.integers(),
)


# A report's values: mobile, task_id, status, received_at, vendor_code, ext, reference.
_REPORT_VALUES = st.tuples(
    st.text(max_size=5),
    st.one_of(st.none(), st.text(max_size=3)),
    STATUSES,
    TIMES,
    st.one_of(st.none(), st.text(max_size=3)),
    TEXTS,
    TEXTS,
)


def _outcome(build: Any) -> tuple[str, Any]:
    """What building gives: the model (with its raw, which equality leaves out) or the error."""
    try:
        model = build()
    except ValidationError as exc:
        return "refused", (type(exc), str(exc), exc.field)
    return "built", (model, repr(model), model.raw, attrs.asdict(model, recurse=False))


@given(_REPORT_VALUES)
def test_report_batch_constructor_builds_and_refuses_as_the_constructor(values: tuple[Any, ...]) -> None:
    mobile, task_id, status, received_at, vendor_code, ext, reference = values
    raw = {"mobile": mobile}
    expected = _outcome(
        lambda: DeliveryReport(
            provider="p",
            mobile=mobile,
            task_id=task_id,
            status=status,
            received_at=received_at,
            vendor_code=vendor_code,
            ext=ext,
            reference=reference,
            raw=raw,
        )
    )
    got = _outcome(lambda: DeliveryReport._many("p", [(*values, raw)])[0])
    assert got == expected


@given(mobile=st.text(max_size=5), text=st.text(max_size=5), received_at=TIMES, ext=TEXTS, task_id=TEXTS)
def test_inbound_batch_constructor_builds_and_refuses_as_the_constructor(
    mobile: str, text: str, received_at: Any, ext: Any, task_id: Any
) -> None:
    raw = {"content": text}
    fields = {"mobile": mobile, "text": text, "received_at": received_at, "ext": ext, "task_id": task_id}
    row = (mobile, text, received_at, ext, task_id, raw)
    expected = _outcome(lambda: InboundMessage(provider="p", raw=raw, **fields))
    got = _outcome(lambda: InboundMessage._many("p", [row])[0])
    assert got == expected


def test_batch_built_models_are_frozen_hashable_and_keep_their_rows_order() -> None:
    rows = [
        ("13800138000", "T1", DeliveryStatus.DELIVERED, None, "DELIVRD", None, None, {"n": 1}),
        (
            "13900139000",
            None,
            DeliveryStatus.FAILED,
            WHEN.replace(tzinfo=CHINA),
            "UNDELIV",
            "01",
            None,
            {"n": 2},
        ),
    ]
    first, second = DeliveryReport._many("ipyy", rows)
    assert [first.raw, second.raw] == [{"n": 1}, {"n": 2}]
    assert hash(first) == hash(
        DeliveryReport(
            provider="ipyy", mobile="13800138000", task_id="T1", status="delivered", vendor_code="DELIVRD"
        )
    )
    try:
        first.mobile = "x"  # type: ignore[misc]
    except attrs.exceptions.FrozenInstanceError:
        pass
    else:
        raise AssertionError("a batch-built report can be changed")


def _report_columns(rows: list[tuple[Any, ...]], raw: list[Any]) -> list[DeliveryReport]:
    names = ("mobile", "task_id", "status", "received_at", "vendor_code", "ext", "reference")
    columns = {name: [row[index] for row in rows] for index, name in enumerate(names)}
    return DeliveryReport._from_columns("p", raw, **columns)


@given(_REPORT_VALUES)
def test_report_column_constructor_builds_and_refuses_as_the_constructor(values: tuple[Any, ...]) -> None:
    raw = {"mobile": values[0]}
    expected = _outcome(lambda: DeliveryReport._many("p", [(*values, raw)])[0])
    assert _outcome(lambda: _report_columns([values], [raw])[0]) == expected


@given(st.lists(_REPORT_VALUES, max_size=6))
def test_report_columns_build_what_the_rows_build(rows: list[tuple[Any, ...]]) -> None:
    """Several rows at once: the same models (raw, repr, the instance dict in field order), or
    a refusal where the rows are refused."""
    raw = [{"n": index} for index in range(len(rows))]
    try:
        expected = DeliveryReport._many("p", [(*row, item) for row, item in zip(rows, raw, strict=True)])
    except ValidationError:
        try:
            _report_columns(rows, raw)
        except ValidationError:
            return
        raise AssertionError("rows refused, columns built") from None
    got = _report_columns(rows, raw)
    assert [(m, repr(m), m.raw, vars(m)) for m in got] == [(m, repr(m), m.raw, vars(m)) for m in expected]


@given(mobile=st.text(max_size=5), text=st.text(max_size=5), received_at=TIMES, ext=TEXTS, task_id=TEXTS)
def test_inbound_column_constructor_builds_and_refuses_as_the_constructor(
    mobile: str, text: str, received_at: Any, ext: Any, task_id: Any
) -> None:
    raw = {"content": text}
    expected = _outcome(
        lambda: InboundMessage._many("p", [(mobile, text, received_at, ext, task_id, raw)])[0]
    )
    got = _outcome(
        lambda: InboundMessage._from_columns(
            "p", [raw], mobile=[mobile], text=[text], received_at=[received_at], ext=[ext], task_id=[task_id]
        )[0]
    )
    assert got == expected
    if got[0] == "built":
        assert list(vars(got[1][0])) == [field.name for field in attrs.fields(InboundMessage)]


def test_a_column_of_none_stands_for_none_in_every_model() -> None:
    """``None`` for a column: that field is ``None`` in every model (an absent field of a pull)."""
    first, second = DeliveryReport._from_columns(
        "ipyy",
        [{"n": 1}, {"n": 2}],
        mobile=["13800138000", "13900139000"],
        task_id=None,
        status=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
        received_at=None,
        vendor_code=None,
    )
    assert (first.task_id, first.received_at, first.vendor_code, first.ext, first.reference) == (None,) * 5
    assert second == DeliveryReport(provider="ipyy", mobile="13900139000", task_id=None, status="failed")
    assert list(vars(first)) == [field.name for field in attrs.fields(DeliveryReport)]
    messages = InboundMessage._from_columns(
        "ipyy", [{}], mobile=["1"], text=["hi"], received_at=None, ext=None, task_id=None
    )
    assert messages == [InboundMessage(provider="ipyy", mobile="1", text="hi")]


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        DeliveryReport._from_columns(
            "p",
            [{}, {}],
            mobile=["1"],
            task_id=None,
            status=[DeliveryStatus.FAILED] * 2,
            received_at=None,
            vendor_code=None,
        )
