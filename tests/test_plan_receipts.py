"""The receipt a plan finishes (attempts, reference, accepted_at) is ``attrs.evolve`` of the
provider's, field for field, with the constructor's checks (issue 11: rebuilt without
attrs.evolve's walk over the fields)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pytest

import smsgate
from smsgate.exceptions import ValidationError
from smsgate.routing import _plan

NOW = dt.datetime(2025, 11, 26, 12, 0, tzinfo=dt.UTC)


def _receipt(**changes: object) -> smsgate.Receipt:
    part = smsgate.Receipt(provider="p", task_id="t1", accepted=1, recipients=("13800138000",))
    fields: dict[str, object] = {
        "provider": "p",
        "task_id": "t1,t2",
        "accepted": 2,
        "recipients": ("13800138000", "13900139000"),
        "balance": Decimal("12.5"),
        "parts": (part, attrs.evolve(part, task_id="t2", accepted_at=NOW)),
        "raw": {"taskID": "t1"},
    }
    fields.update(changes)
    return smsgate.Receipt(**fields)  # type: ignore[arg-type]


def _all_fields(receipt: smsgate.Receipt) -> dict[str, object]:
    return {a.name: getattr(receipt, a.name) for a in attrs.fields(smsgate.Receipt)}


@pytest.mark.parametrize(
    "changes",
    [
        {"accepted_at": NOW},
        {"attempts": 3},
        {"reference": "order-1", "accepted_at": NOW, "parts": []},
        {"balance": "7"},
    ],
)
def test_a_rebuilt_receipt_is_attrs_evolve_s(changes: dict[str, Any]) -> None:
    receipt = _receipt()
    rebuilt = _plan._evolved(receipt, dict(changes))
    assert _all_fields(rebuilt) == _all_fields(attrs.evolve(receipt, **changes))


def test_a_rebuilt_receipt_is_checked_as_the_constructor_checks() -> None:
    with pytest.raises(ValidationError):
        _plan._evolved(_receipt(), {"accepted_at": dt.datetime(2025, 1, 1)})


def test_finished_fills_reference_accepted_at_and_attempts_keeping_the_rest() -> None:
    receipt = _receipt()
    done = _plan._finished(receipt, "order-1", NOW, 2)
    assert (done.reference, done.accepted_at, done.attempts) == ("order-1", NOW, 2)
    assert [p.accepted_at for p in done.parts] == [NOW, NOW]
    assert (done.raw, done.balance, done.recipients) == (receipt.raw, receipt.balance, receipt.recipients)
    finished = _receipt(reference="order-1", accepted_at=NOW)
    assert _plan._finished(finished, "order-1", NOW, 1) is finished
