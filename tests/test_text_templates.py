"""smsgate.templates: the text templates that free-text providers (ipyy, memory, console) fill in."""

from __future__ import annotations

import doctest

import pytest

import smsgate
import smsgate.templates
from smsgate.exceptions import ConfigurationError, ValidationError
from smsgate.templates import TextTemplates, template_fields


def sms(template: str, **params: str) -> smsgate.Sms:
    return smsgate.Sms(to="13800138000", template=template, params=params)


def test_the_module_example_runs() -> None:
    """The docstring example is what the table does."""
    failures, tried = doctest.testmod(smsgate.templates)
    assert failures == 0
    assert tried == 5


def test_fields_are_the_named_parameters_a_template_needs() -> None:
    assert template_fields("verify", "码 {code}，{minutes:>3} 分钟【腾飞】") == {"code", "minutes"}
    assert template_fields("plain", "no fields【腾飞】") == frozenset()


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("verify", "code {}", "only named fields"),
        ("verify", "code {0}", "only named fields"),
        ("verify", "code {a.b}", "only named fields"),
        ("verify", "code {a[0]}", "only named fields"),
        ("verify", "code {a:{b}}", "only named fields"),
        ("verify", "code {a:d}", "format spec"),
        ("verify", "code {", "not a format string"),
        ("verify", "  ", "non-empty"),
        ("bad name", "code {code}", "not a name"),
        ("x" * 65, "code {code}", "not a name"),
    ],
)
def test_a_template_that_cannot_be_used_is_a_configuration_error(name: str, text: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        TextTemplates({name: text})


def test_problem_names_an_unknown_template_or_the_first_missing_parameter() -> None:
    table = TextTemplates({"verify": "码 {code} {zone}"})
    assert table.problem(sms("nope")) == "no template named 'nope'"
    assert table.problem(sms("verify", code="1")) == "template 'verify' needs parameter 'zone'"
    assert table.problem(sms("verify", code="1", zone="2")) is None


def test_render_fills_the_parameters_and_refuses_what_it_cannot_fill() -> None:
    table = TextTemplates({"verify": "码 {code:>4}"})
    assert table.render(sms("verify", code="12")) == "码   12"
    with pytest.raises(ValidationError, match="no template named") as caught:
        table.render(sms("other"))
    assert caught.value.field == "template"


def test_the_table_is_read_only_and_empty_is_false() -> None:
    table = TextTemplates({"a": "x {p}"})
    assert table
    assert not TextTemplates({})
    assert dict(table.texts) == {"a": "x {p}"}
    with pytest.raises(TypeError):
        table.texts["b"] = "y"  # type: ignore[index]
