"""The value objects: validated at construction, frozen, keyword-only, discreet in repr."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate import (
    Balance,
    DeliveryReport,
    DeliveryStatus,
    InboundMessage,
    Mms,
    MmsPart,
    Receipt,
    Sms,
    ValidationError,
)
from smsgate._models import mask_mobile

AWARE = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
NAIVE = dt.datetime(2026, 1, 2, 3, 4, 5)
PART = MmsPart(name="a.txt", data=b"hello")

numbers = st.builds(
    lambda plus, digits: plus + digits,
    st.sampled_from(["", "+"]),
    st.text(alphabet="0123456789", min_size=3, max_size=20),
)


def _examples() -> dict[str, Any]:
    """One valid instance of every model."""
    return {
        "Sms": Sms(to="13800138000", text="code 1439【acme】"),
        "Mms": Mms(to=["13800138000"], subject="s", parts=[PART]),
        "MmsPart": PART,
        "Receipt": Receipt(provider="p", task_id="t1", accepted=1),
        "Balance": Balance(provider="p", remaining="10"),
        "DeliveryReport": DeliveryReport(
            provider="p", mobile="13800138000", task_id="t1", status="delivered"
        ),
        "InboundMessage": InboundMessage(provider="p", mobile="13800138000", text="hi"),
    }


# --- recipients -------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["sms", "mms"])
def test_single_recipient_string_becomes_a_tuple(model: str) -> None:
    """``to="138…"`` is one recipient, not eleven one-digit ones; blanks are trimmed."""
    if model == "sms":
        msg: Sms | Mms = Sms(to=" 13800138000 ", text="x")
    else:
        msg = Mms(to=" 13800138000 ", parts=[PART])
    assert msg.to == ("13800138000",)


@given(st.lists(numbers, min_size=1, max_size=30, unique=True))
def test_any_valid_number_list_round_trips(to: list[str]) -> None:
    """Digits with an optional leading '+' are accepted in order, unchanged."""
    assert Sms(to=to, text="x").to == tuple(to)
    assert Sms(to=iter(to), text="x").to == tuple(to)


@given(
    digits=st.text(alphabet="0123456789", min_size=4, max_size=19),
    bad=st.characters(exclude_characters="0123456789"),
    data=st.data(),
)
def test_any_number_with_a_non_digit_inside_is_refused(digits: str, bad: str, data: st.DataObject) -> None:
    """A letter, a blank, a second '+' or a non-ASCII digit anywhere inside the number is refused."""
    at = data.draw(st.integers(min_value=1, max_value=len(digits) - 1))
    number = digits[:at] + bad + digits[at:]
    with pytest.raises(ValidationError) as info:
        Sms(to=[number], text="x")
    assert info.value.field == "to"


@pytest.mark.parametrize(
    "to",
    [
        [],
        "",
        ["12"],  # too short to be a number
        ["1" * 21],
        ["+"],
        ["13800138000", "13800138000"],
        ["13800138000", " 13800138000"],  # the same number after trimming
        ["١٢٣٤٥٦"],  # Arabic-Indic digits are digits to str.isdigit, not to a gateway
    ],
)
def test_bad_recipients_are_refused(to: Any) -> None:
    """Empty lists, non-numbers and duplicates never make a message."""
    with pytest.raises(ValidationError):
        Sms(to=to, text="x")
    with pytest.raises(ValidationError):
        Mms(to=to, parts=[PART])


def test_non_string_recipient_is_refused() -> None:
    """An int is not silently turned into a number (leading zeros would be lost)."""
    with pytest.raises(ValidationError):
        Sms(to=[13800138000], text="x")  # type: ignore[list-item]


def test_duplicate_error_message_masks_the_number() -> None:
    """Even the validation message hides the middle of the number."""
    with pytest.raises(ValidationError) as info:
        Sms(to=["13800138000", "13800138000"], text="x")
    assert "13800138000" not in str(info.value)
    assert "138****8000" in str(info.value)


# --- text, dates, ext -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text: str) -> None:
    """A message with nothing to say is refused before any provider sees it."""
    with pytest.raises(ValidationError) as info:
        Sms(to="13800138000", text=text)
    assert info.value.field == "text"


def test_text_must_be_a_string() -> None:
    """Bytes are not silently decoded with a guessed encoding."""
    with pytest.raises(ValidationError):
        Sms(to="13800138000", text=b"hi")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda when: Sms(to="13800138000", text="x", send_at=when), "send_at"),
        (lambda when: Mms(to="13800138000", parts=[PART], send_at=when), "send_at"),
        (
            lambda when: DeliveryReport(
                provider="p", mobile="1", task_id=None, status="failed", received_at=when
            ),
            "received_at",
        ),
        (lambda when: InboundMessage(provider="p", mobile="1", text="x", received_at=when), "received_at"),
    ],
    ids=["Sms", "Mms", "DeliveryReport", "InboundMessage"],
)
def test_naive_datetimes_are_refused_aware_ones_kept(build: Any, field: str) -> None:
    """A naive datetime is ambiguous (whose 10:00?), so every model refuses it; an aware one
    is kept as given: the same instant in the same offset (not converted, not dropped)."""
    with pytest.raises(ValidationError, match="timezone-aware") as info:
        build(NAIVE)
    assert info.value.field == field
    with pytest.raises(ValidationError) as info:
        build("2026-01-02 03:04:05")
    assert info.value.field == field
    kept = getattr(build(AWARE), field)
    assert kept == AWARE, f"{field}: gave {AWARE!r}, the model kept {kept!r}"
    assert kept.utcoffset() == AWARE.utcoffset(), f"{field}: the offset changed to {kept.utcoffset()}"


@pytest.mark.parametrize("ext", ["1", "01234", 12])
def test_ext_digits_are_kept_as_a_string(ext: Any) -> None:
    """Extension digits keep their leading zeros; an int is normalised to its digits."""
    assert Sms(to="13800138000", text="x", ext=ext).ext == str(ext)


@pytest.mark.parametrize("ext", ["12a", "-1", "1 2", "١٢"])
def test_ext_must_be_digits(ext: str) -> None:
    """Anything but ASCII digits in ``ext`` is refused."""
    with pytest.raises(ValidationError) as info:
        Sms(to="13800138000", text="x", ext=ext)
    assert info.value.field == "ext"


def test_empty_ext_means_none() -> None:
    """An empty ext from a form or a config file means 'no extension'."""
    assert Sms(to="13800138000", text="x", ext="").ext is None


# --- MMS --------------------------------------------------------------------------------


def test_mms_part_names_must_be_unique() -> None:
    """Two parts named alike would overwrite each other inside the packed MMS."""
    with pytest.raises(ValidationError, match="twice"):
        Mms(to="13800138000", parts=[PART, MmsPart(name="a.txt", data=b"other")])


def test_mms_needs_parts_of_the_right_type() -> None:
    """No parts, or something that is not an MmsPart, is refused."""
    with pytest.raises(ValidationError):
        Mms(to="13800138000", parts=[])
    with pytest.raises(ValidationError):
        Mms(to="13800138000", parts=[("a.txt", b"x")])  # type: ignore[list-item]


@pytest.mark.parametrize("name", ["", "dir/a.txt", "..\\a.txt", "a\x00.txt"])
def test_mms_part_name_is_a_plain_file_name(name: str) -> None:
    """Part names are file names, never paths."""
    with pytest.raises(ValidationError):
        MmsPart(name=name, data=b"x")


def test_mms_part_data_is_bytes() -> None:
    """bytearray/memoryview become bytes; text is refused (its encoding is the caller's choice)."""
    assert MmsPart(name="a.bin", data=bytearray(b"ab")).data == b"ab"
    assert MmsPart(name="a.bin", data=memoryview(b"ab")).data == b"ab"
    with pytest.raises(ValidationError):
        MmsPart(name="a.txt", data="text")


def test_mms_size_is_the_sum_of_its_parts() -> None:
    """``size`` is what a provider compares with its MMS limit."""
    mms = Mms(to="13800138000", parts=[PART, MmsPart(name="b.bin", data=b"123")])
    assert mms.size == len(b"hello") + 3


# --- results ----------------------------------------------------------------------------


def test_balance_converts_to_decimal_and_refuses_garbage() -> None:
    """Balances are exact decimals, whatever the provider's reply spelled."""
    assert Balance(provider="p", remaining=" 12.50 ").remaining == Decimal("12.50")
    assert Balance(provider="p", remaining=3, total="").total is None
    assert Balance(provider="p", remaining="-1", total="100").total == Decimal(100)
    with pytest.raises(ValidationError):
        Balance(provider="p", remaining="lots")


def test_delivery_status_accepts_its_values_and_refuses_others() -> None:
    """A status string is converted to the enum; an unknown one is a ValidationError."""
    report = DeliveryReport(provider="p", mobile="1", task_id=None, status="delivered")
    assert report.status is DeliveryStatus.DELIVERED
    with pytest.raises(ValidationError):
        DeliveryReport(provider="p", mobile="1", task_id=None, status="DELIVRD")


def test_receipt_combine_sums_parts_and_keeps_the_last_balance() -> None:
    """A send split into several requests reads as one receipt with every id."""
    first = Receipt(provider="p", task_id="1", accepted=2, recipients=["a1", "a2"], balance="9")
    second = Receipt(provider="p", task_id="2", accepted=1, recipients=["a3"], balance="8")
    combined = Receipt.combine([first, second])
    assert combined.task_id == "1,2"
    assert combined.task_ids == ("1", "2")
    assert combined.accepted == 3
    assert combined.recipients == ("a1", "a2", "a3")
    assert combined.balance == Decimal(8)
    assert Receipt.combine([first]) is first
    assert first.task_ids == ("1",)
    with pytest.raises(ValueError, match="at least one"):
        Receipt.combine([])


# --- shape: frozen, keyword-only, raw, repr ---------------------------------------------


@pytest.mark.parametrize("name", sorted(_examples()))
def test_models_are_frozen(name: str) -> None:
    """A message cannot be changed after validation."""
    instance = _examples()[name]
    field = attrs.fields(type(instance))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(instance, field, getattr(instance, field))


@pytest.mark.parametrize("name", sorted(_examples()))
def test_models_are_keyword_only(name: str) -> None:
    """Positional arguments are refused, so field order is never an API."""
    instance = _examples()[name]
    values = [getattr(instance, f.name) for f in attrs.fields(type(instance))]
    with pytest.raises(TypeError):
        type(instance)(*values)


@pytest.mark.parametrize(
    "build",
    [
        lambda raw: Receipt(provider="p", task_id="t", accepted=1, raw=raw),
        lambda raw: Balance(provider="p", remaining=1, raw=raw),
        lambda raw: DeliveryReport(provider="p", mobile="1", task_id="t", status="failed", raw=raw),
        lambda raw: InboundMessage(provider="p", mobile="1", text="x", raw=raw),
    ],
    ids=["Receipt", "Balance", "DeliveryReport", "InboundMessage"],
)
def test_raw_is_not_compared_and_not_in_repr(build: Any) -> None:
    """The vendor payload is kept for diagnosis but never affects equality or leaks into logs."""
    one = build({"secret-field": "v1"})
    other = build({"secret-field": "v2"})
    assert one == other
    assert hash(one) == hash(other)
    assert one.raw == {"secret-field": "v1"}
    assert "secret-field" not in repr(one)


SECRET_TEXT = "your code is 918273"
FULL = "13912345678"


MASKED = "139****5678"
SECRET_FRAGMENTS = (FULL, "12345", "918273", "your code", SECRET_TEXT.encode().hex())


@pytest.mark.parametrize(
    ("instance", "shown"),
    [
        (
            Sms(to=[FULL, "13800138000", "13700000000", "13600000000"], text=SECRET_TEXT),
            # three masked numbers, then how many it left out; the text only by its length
            ["Sms(", f"to=[{MASKED}, 138****8000, 137****0000, …+1]", "text=<19 chars>"],
        ),
        (
            Mms(
                to=FULL,
                subject=SECRET_TEXT,
                parts=[MmsPart(name="a.txt", data=SECRET_TEXT.encode())],
            ),
            ["Mms(", f"to=[{MASKED}]", "subject=<19 chars>", "name='a.txt'", "data=<19 bytes>"],
        ),
        (Receipt(provider="p", task_id="t", accepted=1, recipients=[FULL]), ["Receipt(", "task_id='t'"]),
        (
            DeliveryReport(provider="p", mobile=FULL, task_id="t", status="delivered"),
            ["DeliveryReport(", f"mobile='{MASKED}'", "status=delivered"],
        ),
        (
            InboundMessage(provider="p", mobile=FULL, text=SECRET_TEXT),
            ["InboundMessage(", f"mobile='{MASKED}'", "text=<19 chars>"],
        ),
    ],
    ids=["Sms", "Mms", "Receipt", "DeliveryReport", "InboundMessage"],
)
def test_repr_hides_text_and_full_numbers(instance: object, shown: list[str]) -> None:
    """Message content and full phone numbers are customer data: reprs show neither, only the
    masked numbers (first 3 and last 4 digits) and the sizes, which is what a log needs."""
    text = repr(instance)
    for secret in SECRET_FRAGMENTS:
        assert secret not in text, f"{secret!r} shows in {text!r}"
    for fragment in shown:
        assert fragment in text, f"expected {fragment!r} in {text!r}"


@given(numbers.filter(lambda n: len(n) >= 8))
def test_mask_mobile_keeps_only_the_ends(number: str) -> None:
    """The masked form keeps length, the first 3 and last 4 characters, and hides the rest."""
    masked = mask_mobile(number)
    assert len(masked) == len(number)
    assert masked[:3] == number[:3]
    assert masked[-4:] == number[-4:]
    assert set(masked[3:-4]) == {"*"}


def test_mask_mobile_hides_short_numbers_entirely() -> None:
    """A short code is short enough to be guessed from any visible digit."""
    assert mask_mobile("10086") == "*****"
