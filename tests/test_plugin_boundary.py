"""Every provider plugin in this repository (``plugins/*/<package>``) is built like a
third-party plugin: it uses smsgate's public API only, never a ``smsgate._private`` module.

One test for all of them, so the next plugin is checked from its first commit; a plugin in a
repository of its own copies this file and points ``PLUGINS`` at its package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = {init.parent.name: init.parent for init in ROOT.glob("plugins/*/*/__init__.py")}

# Modules each plugin is known to have: the check below must be reading its real sources.
KNOWN_SOURCES = {
    "smsgate_ipyy": {"_provider.py", "_build.py", "_parse.py", "_transports.py", "plugin.py"},
    "smsgate_aliyun": {"_provider.py", "_settings.py", "_build.py", "_parse.py", "_push.py", "plugin.py"},
}


def imported_modules(path: Path) -> set[str]:
    """The absolute module names ``path`` imports (``import x`` and ``from x import y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_repository_s_plugins_are_all_found() -> None:
    """Guard against the checks below passing vacuously on a moved plugins folder."""
    assert set(KNOWN_SOURCES) <= set(PLUGINS)


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_no_module_of_the_plugin_imports_a_private_smsgate_module(plugin: str) -> None:
    package = PLUGINS[plugin]
    offenders = {
        f"{path.relative_to(package)}: {module}"
        for path in package.rglob("*.py")
        for module in imported_modules(path)
        if module.startswith("smsgate.") and any(part.startswith("_") for part in module.split(".")[1:])
    }
    assert offenders == set()


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_the_boundary_check_sees_the_plugin_sources(plugin: str) -> None:
    """Guard against the check above passing vacuously on an empty or moved package."""
    package = PLUGINS[plugin]
    sources = {path.name for path in package.rglob("*.py")}
    assert KNOWN_SOURCES.get(plugin, {"plugin.py"}) <= sources
    reader = package / "_parse.py" if "_parse.py" in sources else package / "plugin.py"
    assert "smsgate" in imported_modules(reader)


def test_the_aliyun_client_does_not_import_the_ipyy_plugin_outside_its_demo() -> None:
    """Only the cross-vendor demo uses smsgate-ipyy (its sandbox), and only when it runs."""
    users = {
        path.name
        for path in PLUGINS["smsgate_aliyun"].rglob("*.py")
        if any(module.startswith("smsgate_ipyy") for module in imported_modules(path))
    }
    assert users <= {"_cli.py"}
