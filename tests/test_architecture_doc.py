"""``docs/architecture.md`` stays true to the code: its table of what each core module imports
is the import graph ``tests/test_architecture.py`` builds, and every module and path it names
exists.

The table (section "Import rules") has one row per module or package of the core: the names
before a ``;`` are imported when the module is (``runtime``), those after it only inside a
function body (``lazy``); parentheses are comments. A package stands for all its modules
(``routing`` for ``smsgate.routing._router`` …), and ``smsgate`` for the package's
``__init__``. A new import across those units, or one that goes away, fails here until the
page says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.test_architecture import PACKAGE, ROOT, import_edges, modules_of

DOC = ROOT / "docs" / "architecture.md"


def unit_of(module: str) -> str:
    """The table's name for ``module``: ``smsgate`` itself, its package, or its module."""
    parts = module.split(".")
    return PACKAGE if len(parts) == 1 else parts[1]


def actual_imports(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """Per unit, each other unit of the core it imports: ``runtime`` when any of its modules
    does so at import time, else ``lazy``; ``TYPE_CHECKING`` imports left out."""
    modules = set(modules_of(root))
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for edge in import_edges(root):
        target = edge.target
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if not target or edge.kind == "type_checking":
            continue
        source, imported = unit_of(edge.source), unit_of(target)
        if source != imported and found[source].get(imported) != "runtime":
            found[source][imported] = edge.kind
    return found


def _names(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", text))


def documented_imports(doc: str, units: set[str]) -> dict[str, dict[str, str]]:
    """The table of the page: per unit, each unit (of ``units``) it imports and how
    (``testing``, which may import anything, is left out)."""
    section = doc.split("## Import rules", 1)[1]
    rows = re.findall(r"^\s*\| (`[^|]*) \| ([^|]*) \|$", section, flags=re.MULTILINE)
    assert rows, "no table of imports found under '## Import rules'"
    table: dict[str, dict[str, str]] = {}
    for sources, imports in rows:
        runtime, _, lazy = imports.partition(";")
        row = {name: "runtime" for name in _names(runtime) if name in units}
        row.update({name: "lazy" for name in _names(lazy) if name in units})
        for source in _names(sources):
            assert source in units, f"the table names {source!r}, which is no module of the core"
            table[source] = dict(row)
    return {unit: row for unit, row in table.items() if unit != "testing"}


UNITS = {unit_of(m) for m in modules_of(ROOT)}


def test_the_table_lists_every_module_of_the_core() -> None:
    """Each module and package of ``smsgate`` has its row (a new module needs one)."""
    assert {"_gateway", "routing", "receiver", "smsgate"} <= UNITS, sorted(UNITS)
    listed = set(documented_imports(DOC.read_text(encoding="utf-8"), UNITS)) | {"testing"}
    units = UNITS
    assert units - listed == set(), "modules without a row in docs/architecture.md"


def test_the_table_is_the_import_graph() -> None:
    """Each row says what the unit imports, at import time and lazily, no more, no less."""
    table = documented_imports(DOC.read_text(encoding="utf-8"), UNITS)
    actual = actual_imports()
    wrong = {
        unit: {"page": table[unit], "code": dict(sorted(actual.get(unit, {}).items()))}
        for unit in sorted(table)
        if table[unit] != actual.get(unit, {})
    }
    assert wrong == {}, "update these rows of the import table in docs/architecture.md"


@pytest.mark.parametrize(
    "path",
    sorted(
        set(re.findall(r"\b((?:smsgate|tests|benchmarks|docs)/[\w/]*\.(?:py|md))", DOC.read_text("utf-8")))
    ),
)
def test_every_path_the_page_names_exists(path: str) -> None:
    """``smsgate/_gateway.py``, ``tests/test_architecture.py`` … are files of the repository."""
    assert (ROOT / path).is_file(), f"docs/architecture.md names {path}, which does not exist"


def test_a_new_import_is_told_apart(tmp_path: Path) -> None:
    """The comparison sees a runtime import, a lazy one, a package as one unit and a
    ``TYPE_CHECKING`` import as none."""
    files = {
        "smsgate/__init__.py": "from smsgate import exceptions\n",
        "smsgate/exceptions.py": "",
        "smsgate/_a.py": "import typing\nif typing.TYPE_CHECKING:\n    import smsgate._b\n",
        "smsgate/_b.py": "import smsgate.exceptions\ndef f():\n    from smsgate.routing import _x\n",
        "smsgate/routing/__init__.py": "",
        "smsgate/routing/_x.py": "from smsgate import _a\n",
    }
    for name, source in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source, encoding="utf-8")
    assert actual_imports(tmp_path) == {
        "smsgate": {"exceptions": "runtime"},
        "_b": {"exceptions": "runtime", "routing": "lazy"},
        "routing": {"_a": "runtime"},
    }
    page = (
        "## Import rules\n\n  | module | imports |\n  |---|---|\n"
        "  | `_b` | `exceptions`; `routing` (`_x`) lazily |\n"
    )
    assert documented_imports(page, {"_b", "exceptions", "routing", "_x"}) == {
        "_b": {"exceptions": "runtime", "routing": "lazy"}
    }
