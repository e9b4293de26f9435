"""The public surface is explicit: ``__all__`` lists exactly what is public, all documented."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

import smsgate
import smsgate.exceptions
import smsgate.hookspecs
import smsgate.settings
import smsgate.templates
import smsgate.testing

PACKAGE_ROOT = Path(smsgate.__file__).parent
# Plain values need no docstring of their own.
UNDOCUMENTED_OK = {"__version__"}


def _public_names(module: types.ModuleType) -> set[str]:
    """Names the module defines or re-exports, minus submodules and ``__future__`` features
    (names the package loads on first use are loaded first)."""
    for name in getattr(module, "__all__", ()):
        getattr(module, name, None)
    return {
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }


MODULES = [
    smsgate,
    smsgate.exceptions,
    smsgate.hookspecs,
    smsgate.settings,
    smsgate.templates,
    smsgate.testing,
]
PACKAGES = [smsgate, smsgate.testing]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda m: m.__name__)
def test_all_lists_exactly_the_public_names(package: types.ModuleType) -> None:
    """Every public name of a package is in ``__all__``, and nothing in it is stale or repeated."""
    exported = list(package.__all__)
    assert len(exported) == len(set(exported))
    assert set(exported) == _public_names(package)


@pytest.mark.parametrize(
    "module",
    [smsgate.exceptions, smsgate.hookspecs, smsgate.settings, smsgate.templates],
    ids=lambda m: m.__name__,
)
def test_all_lists_every_class_and_function_the_module_defines(module: types.ModuleType) -> None:
    """A module's ``__all__`` names what it defines (imports it merely uses are not public)."""
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    assert defined <= set(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


def _has_doc_comment(name: str) -> bool:
    """True when some module of the package documents ``name`` with a ``#:`` comment."""
    pattern = re.compile(rf"^#:.*\n(?:#:.*\n)*{re.escape(name)}\s*[:=]", re.MULTILINE)
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in PACKAGE_ROOT.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_export_is_documented(module: types.ModuleType) -> None:
    """Classes and functions carry their own docstring; aliases and markers a ``#:`` comment."""
    missing = []
    for name in module.__all__:
        if name in UNDOCUMENTED_OK:
            continue
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            if not (value.__doc__ or "").strip():
                missing.append(name)
        elif not _has_doc_comment(name):
            missing.append(name)
    assert missing == []


def test_public_names_documented_in_design_exist() -> None:
    """The names DESIGN.md promises as stable are importable from ``smsgate``."""
    for name in [
        "get_provider",
        "provider_names",
        "Gateway",
        "AsyncGateway",
        "Sms",
        "Mms",
        "MmsPart",
        "Receipt",
        "Balance",
        "DeliveryReport",
        "DeliveryStatus",
        "InboundMessage",
        "SmsGateError",
    ]:
        assert name in smsgate.__all__, name
    # The in-memory provider lives in the core; smsgate.testing re-exports the class it builds.
    assert "InMemoryProvider" in smsgate.testing.__all__
    assert type(smsgate.get_provider("memory")) is smsgate.testing.InMemoryProvider


def test_every_error_class_is_exported_at_the_top_level() -> None:
    """Applications catch ``smsgate.NotSentError`` as they catch ``httpx.ConnectError``: every
    class of ``smsgate.exceptions`` (aliases included) is the same object at the top level."""
    for name in smsgate.exceptions.__all__:
        assert name in smsgate.__all__, name
        assert getattr(smsgate, name) is getattr(smsgate.exceptions, name)
    assert smsgate.PartialBatchError is smsgate.PartialSendError
