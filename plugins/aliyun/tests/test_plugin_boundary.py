"""The Aliyun plugin is built like a third-party plugin: it uses smsgate's public API only."""

from __future__ import annotations

import ast
from pathlib import Path

import smsgate_aliyun

PACKAGE = Path(smsgate_aliyun.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_of_the_plugin_imports_a_private_smsgate_module() -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in PACKAGE.rglob("*.py")
        for module in _imported_modules(path)
        if module.startswith("smsgate.") and any(part.startswith("_") for part in module.split(".")[1:])
    }
    assert offenders == set()


def test_the_boundary_check_sees_the_plugin_sources() -> None:
    """Guard against the check above passing vacuously on an empty or moved package."""
    sources = {path.name for path in PACKAGE.rglob("*.py")}
    assert {"_provider.py", "_settings.py", "_build.py", "_parse.py", "_push.py", "plugin.py"} <= sources
    assert "smsgate" in _imported_modules(PACKAGE / "_parse.py")


def test_the_client_does_not_import_the_ipyy_plugin_outside_its_demo() -> None:
    """Only the cross-vendor demo uses smsgate-ipyy (its sandbox), and only when it runs."""
    users = {
        path.name
        for path in PACKAGE.rglob("*.py")
        if any(module.startswith("smsgate_ipyy") for module in _imported_modules(path))
    }
    assert users <= {"_cli.py"}
