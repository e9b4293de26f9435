"""``DeliveryReport._many`` and ``InboundMessage._many``, the batch constructors report parsers
use (issue 11: attrs' keyword ``__init__`` was a third of a JSON pull's parse), build exactly
what the keyword constructor builds, and refuse exactly what it refuses, with the same error."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import attrs
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


def _outcome(build: Any) -> tuple[str, Any]:
    """What building gives: the model (with its raw, which equality leaves out) or the error."""
    try:
        model = build()
    except ValidationError as exc:
        return "refused", (type(exc), str(exc), exc.field)
    return "built", (model, repr(model), model.raw, attrs.asdict(model, recurse=False))


@given(
    st.tuples(
        st.text(max_size=5),
        st.one_of(st.none(), st.text(max_size=3)),
        STATUSES,
        TIMES,
        st.one_of(st.none(), st.text(max_size=3)),
        TEXTS,
        TEXTS,
    )
)
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
