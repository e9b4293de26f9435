"""Every hook is documented in docs/hooks.md and exercised by at least one test."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smsgate import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS_DOC = ROOT / "docs" / "hooks.md"


def _hookspecs() -> dict[str, Callable[..., Any]]:
    """The functions of smsgate.hookspecs marked as hook specifications."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and getattr(fn, marker, None) is not None
    }


HOOKS = sorted(_hookspecs())


def test_the_known_hooks_are_found() -> None:
    """The scan finds the hook specs (so the tests below cannot pass on an empty list)."""
    assert {"register_providers", "message_sent", "register_commands"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_parameters(hook: str) -> None:
    """docs/hooks.md has a ``## hook(param, …)`` heading matching the spec's signature, and a
    table row for each parameter."""
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    params = list(inspect.signature(_hookspecs()[hook]).parameters)
    heading = f"## {hook}({', '.join(params)})"
    assert heading in doc.splitlines(), f"missing heading {heading!r} in docs/hooks.md"
    section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    for param in params:
        assert f"| `{param}` |" in section, f"{hook}: parameter {param!r} not described"


def test_docs_describe_no_hook_that_does_not_exist() -> None:
    """Every hook heading in docs/hooks.md names a real hook spec."""
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^## (\w+)\(", doc, flags=re.MULTILINE))
    assert documented == set(HOOKS)


def _test_sources() -> dict[Path, str]:
    own = Path(__file__).resolve()
    files = [*ROOT.joinpath("tests").rglob("*.py"), *ROOT.joinpath("plugins").rglob("tests/**/*.py")]
    return {path: path.read_text(encoding="utf-8") for path in files if path.resolve() != own}


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook: str) -> None:
    """Some test implements the hook (``def hook(``) or calls it (``hook.hook(`` / ``notify("hook"``)."""
    pattern = re.compile(rf"def {hook}\(|\.hook\.{hook}\(|notify\(\s*[\"']{hook}[\"']")
    users = [path.name for path, text in _test_sources().items() if pattern.search(text)]
    assert users, f"no test implements or calls the {hook!r} hook"
