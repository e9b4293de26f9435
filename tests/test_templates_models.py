"""Logical templates, references and query_status in the core's models and capabilities."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate import (
    Capabilities,
    DeliveryReport,
    Operation,
    Provider,
    Receipt,
    Sms,
    UnsupportedOperationError,
    ValidationError,
)

TO = "13800138000"


def test_a_template_message_needs_no_text() -> None:
    sms = Sms(to=TO, template="verify", params={"code": "1439"}, reference="order-42")
    assert sms.text is None
    assert sms.template == "verify"
    assert dict(sms.params) == {"code": "1439"}
    assert sms.reference == "order-42"


def test_neither_text_nor_template_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="text or a template") as caught:
        Sms(to=TO)
    assert caught.value.field == "text"


def test_text_and_template_together_are_allowed() -> None:
    sms = Sms(to=TO, text="您的验证码：1439【腾飞】", template="verify", params={"code": "1439"})
    assert sms.text is not None
    assert sms.template == "verify"


def test_params_without_a_template_are_refused() -> None:
    with pytest.raises(ValidationError, match="only for a template") as caught:
        Sms(to=TO, text="hi", params={"code": "1"})
    assert caught.value.field == "params"


@pytest.mark.parametrize("value", [1439, 1.5, None, b"1439", True])
def test_parameter_values_must_be_strings_never_converted(value: Any) -> None:
    with pytest.raises(ValidationError, match="must be a string") as caught:
        Sms(to=TO, template="verify", params={"code": value})
    assert caught.value.field == "params"


@pytest.mark.parametrize("name", ["", "1code", "co de", "code!", 7, "码", "a" * 65])
def test_parameter_names_must_be_names(name: Any) -> None:
    with pytest.raises(ValidationError, match="name"):
        Sms(to=TO, template="verify", params={name: "1"})


@pytest.mark.parametrize("template", ["", " verify", "verify-code", "验证", 5, "a" * 65])
def test_template_names_are_checked(template: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Sms(to=TO, template=template)
    assert caught.value.field == "template"


def test_params_accept_pairs_and_refuse_a_name_twice() -> None:
    assert Sms(to=TO, template="t", params=[("b", "2"), ("a", "1")]).params == {"a": "1", "b": "2"}
    with pytest.raises(ValidationError, match="twice"):
        Sms(to=TO, template="t", params=[("a", "1"), ("a", "2")])
    with pytest.raises(ValidationError, match="mapping"):
        Sms(to=TO, template="t", params=["ab"])  # type: ignore[list-item]


def test_params_keep_the_message_frozen_hashable_and_comparable() -> None:
    one = Sms(to=TO, template="t", params={"b": "2", "a": "1"})
    two = Sms(to=TO, template="t", params={"a": "1", "b": "2"})
    assert one == two
    assert hash(one) == hash(two)
    assert len({one, two}) == 1
    assert one != Sms(to=TO, template="t", params={"a": "1", "b": "3"})
    with pytest.raises(TypeError):
        one.params["a"] = "9"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        one.template = "other"  # type: ignore[misc]
    # evolve keeps the parameters (a resumed send narrows recipients this way)
    assert attrs.evolve(one, to=["13900139000"]).params == {"a": "1", "b": "2"}


def test_empty_params_are_no_params() -> None:
    assert Sms(to=TO, text="hi", params={}).params == {}


@pytest.mark.parametrize("reference", ["", " x", "x ", "a" * 65, "订单", "a\nb", 42])
def test_bad_references_are_refused(reference: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Sms(to=TO, text="hi", reference=reference)
    assert caught.value.field == "reference"


@pytest.mark.parametrize("reference", ["x", "order-42", "a b:c/d#1", "a" * 64])
def test_good_references_are_kept(reference: str) -> None:
    assert Sms(to=TO, text="hi", reference=reference).reference == reference


def test_repr_hides_text_and_parameter_values() -> None:
    sms = Sms(to=TO, text="secret text", template="verify", params={"code": "987654"}, reference="order-42")
    shown = repr(sms)
    assert "987654" not in shown
    assert "secret" not in shown
    assert TO not in shown
    assert "template='verify'" in shown
    assert "params=<code>" in shown
    assert "reference='order-42'" in shown
    assert "text=None" in repr(Sms(to=TO, template="verify"))


def test_receipt_and_report_carry_a_reference() -> None:
    receipt = Receipt(provider="p", task_id="1", accepted=1, reference="order-42")
    assert receipt.reference == "order-42"
    assert Receipt(provider="p", task_id="1", accepted=1).reference is None
    report = DeliveryReport(provider="p", mobile=TO, task_id="1", status="delivered", reference="order-42")
    assert report.reference == "order-42"
    assert "reference='order-42'" in repr(report)
    assert "reference" not in repr(attrs.evolve(report, reference=None))


def test_receipt_accepted_at_must_be_aware_and_is_not_compared() -> None:
    when = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    receipt = Receipt(provider="p", task_id="1", accepted=1, accepted_at=when)
    assert receipt == Receipt(provider="p", task_id="1", accepted=1)
    with pytest.raises(ValidationError):
        Receipt(provider="p", task_id="1", accepted=1, accepted_at=dt.datetime(2026, 1, 2))


def test_combined_receipt_keeps_a_shared_reference_only() -> None:
    a = Receipt(provider="p", task_id="1", accepted=1, reference="r")
    b = Receipt(provider="p", task_id="2", accepted=1, reference="r")
    c = Receipt(provider="p", task_id="3", accepted=1, reference="s")
    assert Receipt.combine([a, b]).reference == "r"
    assert Receipt.combine([a, c]).reference is None


def test_capabilities_defaults_and_query_status_operation() -> None:
    caps = Capabilities()
    assert (caps.templates, caps.free_text, caps.references, caps.query_status) == (False, True, False, False)
    assert not caps.supports(Operation.QUERY_STATUS)
    assert Capabilities(query_status=True).supports("query_status")
    assert Operation.QUERY_STATUS.value == "query_status"
    assert not Operation.QUERY_STATUS.delivers


class _Plain(Provider):
    name = "plain"


class _TemplatesOnly(Provider):
    name = "tpl"
    capabilities = Capabilities(templates=True, free_text=False)


def test_base_cannot_render_answers_from_the_capabilities() -> None:
    text_only = Sms(to=TO, text="hi")
    template_only = Sms(to=TO, template="verify")
    both = Sms(to=TO, text="hi", template="verify")
    assert _Plain().cannot_render(text_only) is None
    assert _Plain().cannot_render(both) is None
    assert "renders no templates" in (_Plain().cannot_render(template_only) or "")
    assert _TemplatesOnly().cannot_render(template_only) is None
    assert _TemplatesOnly().cannot_render(both) is None
    assert "templates only" in (_TemplatesOnly().cannot_render(text_only) or "")


def test_base_query_status_is_unsupported() -> None:
    with pytest.raises(UnsupportedOperationError) as caught:
        _Plain().query_status(Receipt(provider="plain", task_id="1", accepted=1))
    assert caught.value.operation == "query_status"


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(params=st.dictionaries(names, st.text(max_size=8).map(lambda v: "§" + v), max_size=5))
def test_any_params_round_trip_and_order_never_matters(params: dict[str, str]) -> None:
    forward = Sms(to=TO, template="t", params=params)
    backward = Sms(to=TO, template="t", params=dict(reversed(list(params.items()))))
    assert dict(forward.params) == params
    assert forward == backward
    assert hash(forward) == hash(backward)
    assert "§" not in repr(forward)  # every value starts with it: no value is shown
