"""The package's module-level import graph has no cycle.

An edge ``a -> b`` is an import of intercluster module ``b`` that runs when ``a`` is imported:
at module level or in a class body, not inside a function and not under ``if TYPE_CHECKING``.
Imports inside functions are not edges (they run later), so a cycle hidden by one would not be
seen here; the house rule is that such imports are only there for slow third-party modules.
The cycle search is :class:`graphlib.TopologicalSorter` (standard library).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "workflow" / "src" / "intercluster"


def _module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package under ``package_dir``."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _import_time_nodes(tree: ast.Module):
    """Import statements that run when the module is imported."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        stack.extend(ast.iter_child_nodes(node))


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at import time (see the module docstring)."""
    modules = _module_names(package_dir)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        for node in _import_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = here.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    base = ".".join([*base, node.module] if node.module else base)
                else:
                    base = node.module or ""
                # "from pkg import sub" imports the submodule sub, else a name of pkg itself
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]  # fmt: skip
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a list of modules), or None when it is acyclic."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_a_synthetic_cycle_is_found():
    """Negative control: a → b → c → a is a cycle, a → b → c is not."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    cycle = find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    assert cycle is not None and set(cycle) == {"a", "b", "c"}


def test_the_graph_sees_relative_and_type_checking_imports(tmp_path):
    """Negative control on files: two modules importing each other at module level are a
    cycle; the same imports inside a function or under TYPE_CHECKING are not edges."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("from .. import a\n")
    assert import_graph(pkg)["pkg.a"] == {"pkg.sub.b"}
    assert set(find_cycle(import_graph(pkg))) == {"pkg.a", "pkg.sub.b"}
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import x\n"
        "def f():\n    from .. import a\n"
    )
    assert import_graph(pkg)["pkg.sub.b"] == set()
    assert find_cycle(import_graph(pkg)) is None


@pytest.mark.parametrize("package_dir", [PACKAGE_DIR], ids=["intercluster"])
def test_the_package_import_graph_is_acyclic(package_dir):
    graph = import_graph(package_dir)
    assert len(graph) > 40 and graph["intercluster.fit"]  # the graph was read
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"
