"""Architecture rules of the core, checked from the source (``ast``), not by importing it.

The import graph of ``smsgate/`` is built from every ``import`` statement, each edge tagged
with where the statement sits:

``runtime``
    at module level (also inside a module-level ``try`` or ``if``): it runs when the module
    is imported.
``type_checking``
    inside ``if TYPE_CHECKING:``: it never runs; it names a type for annotations only.
``lazy``
    inside a function or method body: it runs when that code first runs.

Rules, and why each counts the edges it counts:

* **No import cycle among the core's modules, counting runtime and lazy edges.** A runtime
  cycle makes import order matter (a partially initialised module, ``ImportError: cannot
  import name``). A lazy import hides the same cycle rather than removing it: the layers still
  depend on each other, only later, so it counts too. ``TYPE_CHECKING`` edges are left out:
  they never execute, and a type named in an annotation of both sides (a hook spec naming
  the provider type the provider module also uses) is not a dependency of the code.
* **The core never imports ``smsgate.testing`` (outside ``smsgate/testing/`` itself) nor a
  plugin, by any edge, ``TYPE_CHECKING`` included**, and ``importlib.import_module`` /
  ``__import__`` with a literal name count as imports: test helpers and plugins are built on
  the core, never the reverse.
* **The core imports nothing but the standard library, itself and the distributions its
  ``pyproject.toml`` declares** (``dependencies`` and the ``receiver`` extra): a module found
  only through a dev tool or another distribution's dependencies would break a user install.

``from package import name`` is an edge to ``package.name`` when that is a module of the
package, else to ``package`` (its ``__init__``). A module is not given an edge to its parent
packages: Python imports them first, but every module would then depend on ``smsgate`` and
``smsgate`` re-exports them all, so the graph would be one cycle saying nothing.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "smsgate"
TESTING = "smsgate.testing"

Kind = Literal["runtime", "type_checking", "lazy"]


@attrs.frozen
class Edge:
    """One import of ``target`` by ``source``, at ``line``, of the given kind."""

    source: str
    target: str
    kind: Kind
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target} ({self.kind})"


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module in ``path`` (``pkg/__init__.py`` is ``pkg``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name."""
    return {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (resolving ``from . import x``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _dynamic_target(node: ast.Call) -> str | None:
    """The literal name given to ``importlib.import_module(...)`` or ``__import__(...)``."""
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}
    )
    if named and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


class _Collector(ast.NodeVisitor):
    """Walks one module and lists the modules it imports with the kind of each import."""

    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module = module
        self.is_package = is_package
        self.known = known
        self.kinds: list[Kind] = ["runtime"]
        self.edges: list[Edge] = []

    def _add(self, target: str, node: ast.AST) -> None:
        self.edges.append(Edge(self.module, target, self.kinds[-1], getattr(node, "lineno", 0)))

    def _nested(self, kind: Kind, nodes: Iterable[ast.AST]) -> None:
        # a TYPE_CHECKING block stays one inside a function; a function inside one stays lazy
        self.kinds.append("type_checking" if "type_checking" in self.kinds else kind)
        for child in nodes:
            self.visit(child)
        self.kinds.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._nested("lazy", node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._nested("lazy", [node.body])

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        if _is_type_checking(node.test):
            self._nested("type_checking", node.body)
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _absolute(self.module, self.is_package, node)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.known else base, node)

    def visit_Call(self, node: ast.Call) -> None:
        target = _dynamic_target(node)
        if target is not None:
            self._add(target, node)
        self.generic_visit(node)


def import_edges(root: Path, package: str = PACKAGE) -> list[Edge]:
    """Every import made by the modules of ``package`` under ``root``."""
    modules = modules_of(root, package)
    edges: list[Edge] = []
    for name, path in modules.items():
        collector = _Collector(name, path.name == "__init__.py", set(modules))
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        edges.extend(collector.edges)
    return edges


def _internal(target: str, modules: set[str]) -> str | None:
    """The module of the package ``target`` names (``smsgate.x.Y`` -> ``smsgate.x``), if any."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def find_cycles(edges: Iterable[Edge], modules: set[str]) -> list[list[Edge]]:
    """The cycles (each as its edges, in order): the shortest one through each module not
    already on a cycle reported."""
    graph: dict[str, dict[str, Edge]] = {name: {} for name in modules}
    for edge in edges:
        target = _internal(edge.target, modules)
        if target is not None and target != edge.source:
            graph[edge.source].setdefault(target, edge)
    cycles: list[list[Edge]] = []
    seen: set[str] = set()
    for start in sorted(graph):
        if start in seen:
            continue
        cycle = _cycle_from(start, graph)
        if cycle:
            cycles.append(cycle)
            seen.update(edge.source for edge in cycle)
    return cycles


def _cycle_from(start: str, graph: dict[str, dict[str, Edge]]) -> list[Edge]:
    """The shortest cycle through ``start`` (breadth first), or ``[]``."""
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for target, edge in sorted(graph[current].items()):
            if target == start:
                return [*paths[current], edge]
            if target not in paths:
                paths[target] = [*paths[current], edge]
                queue.append(target)
    return []


def _iter_cycles_text(cycles: list[list[Edge]]) -> Iterator[str]:
    for cycle in cycles:
        yield " -> ".join([cycle[0].source, *(f"{e.target} [line {e.line}, {e.kind}]" for e in cycle)])


def _distribution_names(requirements: Iterable[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def allowed_third_party(pyproject: Path) -> set[str]:
    """Top-level import names the core may use: those of the declared dependencies and of the
    ``receiver``, ``postgres``, ``redis``, ``celery`` and ``aiohttp`` extras (the dev extra is
    for the repository, not for users)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    declared = _distribution_names(project["dependencies"])
    for extra in ("receiver", "postgres", "redis", "celery", "aiohttp"):
        declared |= _distribution_names(project.get("optional-dependencies", {}).get(extra, []))
    return {
        top
        for top, distributions in importlib.metadata.packages_distributions().items()
        if any(d.lower().replace("_", "-") in declared for d in distributions)
    }


def plugin_packages(root: Path) -> set[str]:
    """The import names of the provider plugins in this repository (``plugins/*/<package>``)."""
    return {init.parent.name for init in root.glob("plugins/*/*/__init__.py")}


def in_testing(module: str) -> bool:
    """Whether ``module`` is ``smsgate.testing`` or one of its submodules."""
    return module == TESTING or module.startswith(f"{TESTING}.")


def forbidden_imports(edges: Iterable[Edge], plugins: set[str], allowed: set[str]) -> list[str]:
    """The imports the core must not make, each with the rule it breaks."""
    found: list[str] = []
    for edge in edges:
        top = edge.target.split(".")[0]
        if top in plugins:
            found.append(f"{edge}: a plugin; plugins build on the core, never the reverse")
        elif in_testing(edge.source) or (top == PACKAGE and not in_testing(edge.target)):
            continue
        elif top == PACKAGE:
            found.append(f"{edge}: the test helpers; the core must work without them")
        elif top not in sys.stdlib_module_names and top not in allowed and top != "__future__":
            found.append(f"{edge}: neither the standard library nor a dependency declared in pyproject.toml")
    return found


EDGES = import_edges(ROOT)
MODULES = set(modules_of(ROOT))


def test_the_graph_sees_the_imports() -> None:
    """The scan finds known edges of each kind (so the rules below cannot pass on an empty graph)."""
    kinds = {edge.kind for edge in EDGES}
    assert kinds == {"runtime", "type_checking", "lazy"}, f"edge kinds found: {kinds}"
    targets = {(edge.source, edge.target) for edge in EDGES}
    assert ("smsgate", "smsgate.exceptions") in targets, sorted(t for t in targets if t[0] == "smsgate")
    assert len(MODULES) > 10, sorted(MODULES)


def test_no_import_cycle_among_core_modules() -> None:
    """No cycle of runtime or lazy imports among the modules of ``smsgate``."""
    executed = [edge for edge in EDGES if edge.kind != "type_checking"]
    cycles = find_cycles(executed, MODULES)
    assert not cycles, "import cycles:\n" + "\n".join(_iter_cycles_text(cycles))


def test_core_imports_neither_testing_nor_plugins_nor_undeclared_packages() -> None:
    """The core depends on the standard library, itself and its declared dependencies only."""
    plugins = plugin_packages(ROOT)
    assert "smsgate_ipyy" in plugins, f"plugins found: {plugins}"
    found = forbidden_imports(EDGES, plugins, allowed_third_party(ROOT / "pyproject.toml"))
    assert not found, "forbidden imports:\n" + "\n".join(found)


# --- the rules catch what they are meant to catch ---------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        pytest.param(
            {
                "smsgate/__init__.py": "",
                "smsgate/a.py": "import smsgate.b\n",
                "smsgate/b.py": "from smsgate import a\n",
            },
            ["smsgate.a", "smsgate.b"],
            id="runtime",
        ),
        pytest.param(
            {
                "smsgate/__init__.py": "from smsgate.a import f\n",
                "smsgate/a.py": "def f():\n    from . import g\n",
                "smsgate/g.py": "from smsgate import f\n",
            },
            ["smsgate", "smsgate.a", "smsgate.g"],
            id="lazy-relative-through-init",
        ),
    ],
)
def test_a_cycle_is_found(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    """Runtime and lazy cycles, absolute or relative, through a package ``__init__`` too."""
    root = _tree(tmp_path, files)
    [found] = find_cycles(import_edges(root), set(modules_of(root)))
    assert sorted(edge.source for edge in found) == cycle, [str(edge) for edge in found]


def test_a_type_checking_cycle_is_not_a_cycle(tmp_path: Path) -> None:
    """Two modules naming each other's types under ``TYPE_CHECKING`` are not a cycle."""
    root = _tree(
        tmp_path,
        {
            "smsgate/__init__.py": "",
            "smsgate/a.py": "import smsgate.b\n",
            "smsgate/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from smsgate.a import A\n",
        },
    )
    edges = import_edges(root)
    assert [e.kind for e in edges if e.source == "smsgate.b" and e.target == "smsgate.a"] == ["type_checking"]
    assert find_cycles([e for e in edges if e.kind != "type_checking"], set(modules_of(root))) == []


def test_forbidden_imports_are_named(tmp_path: Path) -> None:
    """A plugin, the test helpers (even lazily or dynamically) and an undeclared package are
    each reported; smsgate.testing may import itself and pytest."""
    root = _tree(
        tmp_path,
        {
            "smsgate/__init__.py": "import httpx\nimport json\n",
            "smsgate/a.py": "def f():\n    import smsgate_ipyy\n",
            "smsgate/b.py": "import importlib\nimportlib.import_module('smsgate.testing')\n",
            "smsgate/c.py": "import httpcore\n",
            "smsgate/testing/__init__.py": "import pytest\nfrom smsgate.testing import conformance\n",
            "smsgate/testing/conformance.py": "import smsgate\n",
        },
    )
    found = forbidden_imports(import_edges(root), {"smsgate_ipyy"}, {"httpx"})
    assert [line.split(" imports ")[0] for line in found] == ["smsgate.a:2", "smsgate.b:2", "smsgate.c:1"], (
        found
    )
