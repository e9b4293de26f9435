"""Wrong input to the value classes and their helpers is refused with smsgate's own errors."""

from __future__ import annotations

import pytest

import smsgate
from smsgate import MmsPart, Receipt, ValidationError


@pytest.mark.parametrize("name", ["abc", "abc.", ".txt", " .jpg", "a. "])
def test_an_mms_part_name_needs_an_extension(name: str) -> None:
    """The extension tells a provider the part's type; a name without one is refused."""
    with pytest.raises(ValidationError) as caught:
        MmsPart(name=name, data=b"x")
    assert caught.value.field == "name"


def test_an_empty_mms_part_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        MmsPart(name="a.txt", data=b"")
    assert caught.value.field == "data"


def test_usual_part_names_stay_accepted() -> None:
    for name in ("a.txt", "图片.jpg", "mms.smil", "x.y.gif"):
        assert MmsPart(name=name, data=b"x").name == name


def test_combining_no_receipt_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="at least one receipt"):
        Receipt.combine([])


@pytest.mark.parametrize(("value", "shown"), [(None, "****"), (13800138000, "138****8000"), (b"1", "****")])
def test_mask_mobile_never_raises(value: object, shown: str) -> None:
    """It serves logs and reprs: anything that is no string is masked as its str()."""
    masked = smsgate.mask_mobile(value)
    assert masked == shown
    assert smsgate.mask_mobile("13800138000") == "138****8000"
