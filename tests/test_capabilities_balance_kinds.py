"""Capabilities.balance_kinds holds kinds among "sms" and "mms", the kinds a Balance may have:
any other is a ConfigurationError naming the field when the capabilities are built. A
provider declaring "voice" was accepted, though the Balance it would give is refused, and a
single string ("sms") was read as its letters."""

from __future__ import annotations

from typing import Any

import pytest

from smsgate import Capabilities, ConfigurationError, Gateway
from smsgate.testing import InMemoryProvider


@pytest.mark.parametrize(
    ("kinds", "named"),
    [
        ({"sms", "voice"}, "'voice'"),
        (["SMS"], "'SMS'"),
        (("mms", ""), "''"),
        ({"sms", None}, "NoneType"),
        ([5, "sms"], "int"),
        (["sms", ["mms"]], "an unhashable value"),
    ],
)
def test_a_kind_other_than_sms_or_mms_is_refused(kinds: Any, named: str) -> None:
    with pytest.raises(
        ConfigurationError, match=r"^balance_kinds: balance kinds are 'mms' and 'sms', not "
    ) as caught:
        Capabilities(balance=True, balance_kinds=kinds)
    assert str(caught.value).endswith(f"not {named}")


@pytest.mark.parametrize("kinds", ["sms", b"sms", 5, None])
def test_a_value_that_is_no_collection_of_kinds_is_refused(kinds: Any) -> None:
    """A string was read as its letters (``{'s', 'm'}``), a number was a TypeError."""
    with pytest.raises(
        ConfigurationError, match=r"^balance_kinds must be kinds such as \{'sms', 'mms'\}, not "
    ):
        Capabilities(balance=True, balance_kinds=kinds)


@pytest.mark.parametrize("kinds", [{"sms"}, ["sms", "mms"], ("mms",), frozenset(), iter(["sms", "sms"])])
def test_sms_and_mms_are_accepted_as_any_collection(kinds: Any) -> None:
    declared = Capabilities(balance=True, balance_kinds=kinds)
    assert isinstance(declared.balance_kinds, frozenset)
    assert declared.balance_kinds <= {"sms", "mms"}
    assert Capabilities().balance_kinds == frozenset({"sms"})


def test_declared_kinds_still_route_balance_queries() -> None:
    both: Any = ["sms", "mms"]
    provider = InMemoryProvider(name="m", capabilities=Capabilities(balance=True, balance_kinds=both))
    with Gateway([provider]) as gateway:
        assert gateway.balance(kind="mms").kind == "mms"
