"""``import smsgate`` stays cheap (issue 11) without losing a public name: every lazily
loaded name is importable, is the object its module defines, is listed by ``dir()`` and is
known to type checkers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import smsgate

INIT = Path(smsgate.__file__)


def _fresh(script: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_lazily_loaded_name_resolves_to_its_module_object_in_a_fresh_interpreter() -> None:
    script = (
        "import importlib, json, sys\nimport smsgate\n"
        "lazy = dict(smsgate._LAZY)\n"
        "out = {'unloaded_at_import': sorted(n for n in lazy if n in vars(smsgate)),"
        " 'in_dir': sorted(n for n in lazy if n in dir(smsgate)), 'same': {}, 'from_import': {}}\n"
        "for name, module in lazy.items():\n"
        "    ns = {}\n"
        "    exec(f'from smsgate import {name} as value', ns)\n"
        "    out['from_import'][name] = ns['value'] is getattr(importlib.import_module(module), name)\n"
        "    out['same'][name] = getattr(smsgate, name) is ns['value'] and name in vars(smsgate)\n"
        "print(json.dumps(out))\n"
    )
    result = json.loads(_fresh(script))
    lazy = dict(smsgate._LAZY)
    assert result["unloaded_at_import"] == []  # none of them is bound by the import itself
    assert result["in_dir"] == sorted(lazy)
    assert all(result["from_import"].values()), result["from_import"]
    assert all(result["same"].values()), result["same"]


def test_every_public_name_is_importable_and_listed() -> None:
    script = (
        "import json\nimport smsgate\n"
        "missing = [n for n in smsgate.__all__ if not hasattr(smsgate, n)]\n"
        "unlisted = sorted(set(smsgate.__all__) - set(dir(smsgate)))\n"
        "print(json.dumps({'missing': missing, 'unlisted': unlisted}))\n"
    )
    assert json.loads(_fresh(script)) == {"missing": [], "unlisted": []}
    assert set(smsgate._LAZY) <= set(smsgate.__all__)


def test_type_checkers_see_every_lazily_loaded_name() -> None:
    """Each lazy name is imported under ``if TYPE_CHECKING:`` from the module ``_LAZY`` names
    (mypy --strict then knows ``smsgate.Gateway`` and ``from smsgate import Gateway``)."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    seen.update({alias.asname or alias.name: stmt.module for alias in stmt.names})
    assert seen == dict(smsgate._LAZY)
