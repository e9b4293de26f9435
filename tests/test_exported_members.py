"""The public surface is explicit: ``__all__`` lists exactly what is public, all documented.

"Documented" means a docstring written for the object itself: a class's own (not one inherited
from ``object``, ``Exception``, an ``Enum`` or ``attrs`` base), each public method and property
of each public class (wherever in the project it is defined), and each hook; a plain value
(an alias, a constant, a marker) has a ``#:`` comment above its definition instead.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
from pathlib import Path

import attrs
import pytest

import smsgate
import smsgate.celery
import smsgate.exceptions
import smsgate.hookspecs
import smsgate.receiver
import smsgate.routing
import smsgate.scale
import smsgate.settings
import smsgate.templates
import smsgate.testing
import smsgate_aliyun
import smsgate_ipyy

PACKAGE_ROOT = Path(smsgate.__file__).parent
#: Where a ``#:`` comment documenting a public value may be: the core and each plugin.
SOURCE_ROOTS = [PACKAGE_ROOT, Path(smsgate_ipyy.__file__).parent, Path(smsgate_aliyun.__file__).parent]
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
    smsgate.celery,
    smsgate.exceptions,
    smsgate.hookspecs,
    smsgate.receiver,
    smsgate.routing,
    smsgate.scale,
    smsgate.settings,
    smsgate.templates,
    smsgate.testing,
    smsgate_aliyun,
    smsgate_ipyy,
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
    return any(
        pattern.search(path.read_text(encoding="utf-8"))
        for root in SOURCE_ROOTS
        for path in root.rglob("*.py")
    )


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


# --- every public class, method, property and hook has a docstring of its own ------------------

#: Top-level packages whose code is the project's (the core and the plugins checked here).
PROJECT_PACKAGES = {"smsgate", "smsgate_ipyy", "smsgate_aliyun"}


def _is_project(cls: type) -> bool:
    return cls.__module__.split(".")[0] in PROJECT_PACKAGES


def _boilerplate_docs(cls: type) -> set[str]:
    """Docstrings a class may show without anyone writing one: those of the classes outside the
    project it derives from (``object``, ``Exception``, ``Enum``, a ``Protocol`` …)."""
    return {(base.__doc__ or "").strip() for base in cls.__mro__ if not _is_project(base)} - {""}


def _class_doc_problem(cls: type) -> str | None:
    """Why ``cls`` has no docstring of its own, or ``None`` when it has one."""
    doc = (vars(cls).get("__doc__") or "").strip()
    if not doc:
        return "no docstring"
    if doc in _boilerplate_docs(cls) or re.fullmatch(rf"{re.escape(cls.__name__)}\(.*\)", doc, re.DOTALL):
        return f"only boilerplate as its docstring ({doc[:40]!r})"
    return None


def _function_of(member: object) -> types.FunctionType | None:
    """The function behind a method, classmethod, staticmethod or property, else ``None``
    (plain data: attrs fields, class constants, enum members)."""
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    elif isinstance(member, property):
        member = member.fget
    elif isinstance(member, functools.cached_property):
        member = member.func
    return member if isinstance(member, types.FunctionType) else None


def undocumented_members(cls: type) -> list[str]:
    """The public methods and properties of ``cls`` (its own and those it inherits from project
    classes) whose function carries no docstring of its own."""
    missing = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((base for base in cls.__mro__ if name in vars(base)), None)
        if owner is None or not _is_project(owner):
            continue
        function = _function_of(vars(owner)[name])
        if function is not None and not (function.__doc__ or "").strip():
            missing.append(f"{owner.__qualname__}.{name}")
    return missing


def _public_classes() -> dict[str, type]:
    """Every class exported by a module of MODULES, once, under the first module exporting it
    and by its own name there (an alias such as ``PartialBatchError`` is the class it names)."""
    classes: dict[str, type] = {}
    for module in MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if not inspect.isclass(value) or value in classes.values():
                continue
            own = value.__name__ if value.__name__ in module.__all__ else name
            classes[f"{module.__name__}.{own}"] = value
    return classes


PUBLIC_CLASSES = _public_classes()


def test_the_scan_sees_the_public_classes() -> None:
    """The walk finds classes of each module kind (so the tests below cannot pass on nothing)."""
    for name in [
        "smsgate.Gateway",
        "smsgate.receiver.Receiver",
        "smsgate.routing.Router",
        "smsgate_ipyy.IpyyProvider",
    ]:
        assert name in PUBLIC_CLASSES, sorted(PUBLIC_CLASSES)
    assert "send" in dir(smsgate.Gateway)


@pytest.mark.parametrize("name", sorted(PUBLIC_CLASSES))
def test_public_class_has_its_own_docstring(name: str) -> None:
    """A public class's docstring is written for it, not inherited boilerplate."""
    assert _class_doc_problem(PUBLIC_CLASSES[name]) is None, (
        f"{name}: {_class_doc_problem(PUBLIC_CLASSES[name])}"
    )


@pytest.mark.parametrize("name", sorted(PUBLIC_CLASSES))
def test_public_methods_and_properties_are_documented(name: str) -> None:
    """Each public method, classmethod, staticmethod and property of a public class has a
    docstring (attrs fields and constants are described in the class's docstring)."""
    assert undocumented_members(PUBLIC_CLASSES[name]) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_public_module_has_a_docstring(module: types.ModuleType) -> None:
    """Each public module says what it is for."""
    assert (module.__doc__ or "").strip(), f"{module.__name__} has no docstring"


def test_every_hook_has_a_docstring() -> None:
    """Each hook specification of ``smsgate.hookspecs`` says what it observes or registers."""
    marker = f"{smsgate.hookspecs.hookspec.project_name}_spec"
    hooks = {name: fn for name, fn in vars(smsgate.hookspecs).items() if hasattr(fn, marker)}
    assert {"register_providers", "message_sent"} <= set(hooks)
    assert [name for name, fn in hooks.items() if not (fn.__doc__ or "").strip()] == []


def test_the_checks_catch_what_they_are_meant_to() -> None:
    """A missing method, property or class docstring is reported; an Enum's, an exception's or
    a NamedTuple's generated docstring does not count; a documented member passes."""
    import enum
    import typing

    class Documented:
        """Written for it."""

        def method(self) -> None:
            """Written for it."""

    class Bare(Documented):
        def method(self) -> None:
            pass

        @property
        def value(self) -> int:
            return 1

        @staticmethod
        def static() -> None:
            pass

    class Colour(enum.Enum):
        RED = 1

    class Failure(Exception):
        pass

    class Pair(typing.NamedTuple):
        left: int
        right: int

    @attrs.frozen
    class Model:
        field: int

    for cls in (Documented, Bare, Colour, Failure, Pair, Model):
        cls.__module__ = "smsgate._example"
    assert _class_doc_problem(Documented) is None
    assert undocumented_members(Documented) == []
    assert _class_doc_problem(Bare) == "no docstring"
    assert sorted(undocumented_members(Bare)) == [
        f"{Bare.__qualname__}.method",
        f"{Bare.__qualname__}.static",
        f"{Bare.__qualname__}.value",
    ]
    assert _class_doc_problem(Colour) is not None
    assert _class_doc_problem(Failure) is not None
    assert _class_doc_problem(Pair) is not None
    assert _class_doc_problem(Model) is not None
    assert undocumented_members(Model) == []  # a field is no method
