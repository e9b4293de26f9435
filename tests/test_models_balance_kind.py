"""Balance.kind is "sms" or "mms", as docs/concepts.md says: another is refused."""

from __future__ import annotations

import attrs
import pytest

import smsgate
from smsgate import exceptions as errors


@pytest.mark.parametrize("kind", ["voice", "SMS", "", None, 5, ["sms"]])
def test_a_balance_of_another_kind_is_a_validation_error(kind: object) -> None:
    """Balance(kind="voice") was accepted."""
    with pytest.raises(errors.ValidationError, match="kind must be 'sms' or 'mms'") as info:
        smsgate.Balance(provider="p", remaining=1, kind=kind)  # type: ignore[arg-type]
    assert info.value.field == "kind"
    with pytest.raises(errors.ValidationError):
        attrs.evolve(smsgate.Balance(provider="p", remaining=1), kind=kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["sms", "mms"])
def test_a_balance_of_sms_or_mms_is_built(kind: str) -> None:
    assert smsgate.Balance(provider="p", remaining=1, kind=kind).kind == kind
    assert smsgate.Balance(provider="p", remaining=1).kind == "sms"
