"""smsgate.lazy_exports: the PEP 562 ``__getattr__`` the core and the plugins export with."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

import smsgate

PACKAGE = "lazy_exports_demo"


@pytest.fixture
def package() -> Iterator[types.ModuleType]:
    """A throwaway package (in sys.modules) exporting ``Decimal`` from ``decimal`` lazily."""
    module = types.ModuleType(PACKAGE)
    module.__getattr__ = smsgate.lazy_exports(PACKAGE, {"Decimal": "decimal"})  # type: ignore[method-assign]
    sys.modules[PACKAGE] = module
    yield module
    del sys.modules[PACKAGE]


def test_a_name_is_loaded_on_first_read_then_kept(package: types.ModuleType) -> None:
    import decimal

    assert "Decimal" not in vars(package)
    assert package.Decimal is decimal.Decimal
    assert vars(package)["Decimal"] is decimal.Decimal  # a plain attribute from now on


def test_any_other_name_is_an_attribute_error(package: types.ModuleType) -> None:
    with pytest.raises(AttributeError, match="module 'lazy_exports_demo' has no attribute 'json'"):
        _ = package.json


def test_submodules_are_answered_when_asked_for() -> None:
    getattr_ = smsgate.lazy_exports("smsgate", {}, submodules=True)
    assert getattr_("routing") is sys.modules["smsgate.routing"]
    with pytest.raises(AttributeError, match="module 'smsgate' has no attribute 'nothing_here'"):
        getattr_("nothing_here")


def test_the_plugins_export_with_it() -> None:
    import smsgate_aliyun
    import smsgate_ipyy

    assert smsgate_ipyy.IpyySettings.__module__ == "smsgate_ipyy._settings"
    assert smsgate_aliyun.AliyunProvider.__module__ == "smsgate_aliyun._provider"
    with pytest.raises(AttributeError):
        _ = smsgate_ipyy.Nothing
