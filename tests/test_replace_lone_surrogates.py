"""``smsgate.replace_lone_surrogates``: the one helper the plugins' JSON parsers use to mark
each lone surrogate ``json.loads`` leaves in a str (U+FFFD), instead of a copy per plugin."""

from __future__ import annotations

import json
from typing import Any

import pytest

import smsgate


def test_each_lone_surrogate_is_marked_and_the_rest_kept() -> None:
    doc = json.loads('{"a\\ud800": ["x\\udc00y", 1, 2.5, null, true, "\\ud83d\\ude00", {"k": "\\udfff"}]}')
    fixed = smsgate.replace_lone_surrogates(doc)
    assert fixed == {"a\ufffd": ["x\ufffdy", 1, 2.5, None, True, "\U0001f600", {"k": "\ufffd"}]}
    json.dumps(fixed, ensure_ascii=False).encode("utf-8")  # encodable: raised before


@pytest.mark.parametrize("value", ["plain", "", 0, None, 1.5, [], {}, ["a", {"b": "c"}]])
def test_a_value_without_a_surrogate_comes_back_equal(value: Any) -> None:
    assert smsgate.replace_lone_surrogates(value) == value


def test_a_tuple_or_another_type_is_returned_as_it_is() -> None:
    """Only what json.loads returns is walked."""
    value = ("\ud800",)
    assert smsgate.replace_lone_surrogates(value) is value


def test_it_is_public_documented_and_loaded_on_first_use() -> None:
    assert "replace_lone_surrogates" in smsgate.__all__
    assert smsgate.replace_lone_surrogates.__doc__
    assert "replace_lone_surrogates" in smsgate._LAZY


@pytest.mark.parametrize("module", ["smsgate_ipyy._parse", "smsgate_aliyun._parse"])
def test_the_plugins_use_the_core_helper(module: str) -> None:
    """Each plugin had its own copy (``_replace_lone_surrogates``)."""
    parse = pytest.importorskip(module)
    assert parse.replace_lone_surrogates is smsgate.replace_lone_surrogates
    assert not hasattr(parse, "_replace_lone_surrogates")
