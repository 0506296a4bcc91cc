"""No import circles in course_utils, counting imports inside functions: a module graph from the AST.

Nodes are modules (a package is its ``__init__``); an edge ``a -> b`` is any ``import`` or ``from ... import``
in ``a`` that names ``b`` (``from pkg import name`` names ``pkg.name`` when that is a module, else ``pkg``),
wherever it appears: at the top, inside a function, or under ``if __name__ == "__main__"``. Imports under
``if TYPE_CHECKING:`` run only for type checkers and do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import course_utils

PACKAGE = Path(course_utils.__file__).parent
ROOT = "course_utils"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_sources() -> dict[str, tuple[str, bool]]:
    """``{module: (source, is_package)}`` for every module of course_utils."""
    return {
        _module_name(path): (path.read_text(encoding="utf-8"), path.name == "__init__.py")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", "")
            if name == "TYPE_CHECKING":
                skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def import_graph(sources: Mapping[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """The module graph of ``sources`` (see the module docstring); edges only to modules in ``sources``."""
    graph: dict[str, set[str]] = {name: set() for name in sources}
    for name, (source, is_package) in sources.items():
        tree = ast.parse(source)
        skipped = _type_checking_nodes(tree)
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                for alias in node.names:
                    submodule = f"{origin}.{alias.name}"
                    targets.append(submodule if submodule in sources else origin)
            for target in targets:
                # ``import course_utils.a.b`` names the deepest module of the package it reaches
                while target and target not in sources:
                    target = target.rpartition(".")[0]
                if target and target != name and target.split(".")[0] == ROOT:
                    graph[name].add(target)
    return graph


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_check_finds_a_planted_cycle_through_a_function_level_import() -> None:
    planted = {
        "course_utils": ("", True),
        "course_utils.a": ("from course_utils.b import x\n", False),
        "course_utils.b": ("def f():\n    from . import c\n", False),
        "course_utils.c": ("import os\n\ndef g():\n    import course_utils.a\n", False),
        "course_utils.d": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from course_utils.a import x\n",
            False,
        ),
    }
    graph = import_graph(planted)
    assert graph["course_utils.b"] == {"course_utils.c"} and graph["course_utils.d"] == set()
    assert find_cycles(graph) == [["course_utils.a", "course_utils.b", "course_utils.c"]]
    planted["course_utils.c"] = ("import os\n", False)
    assert find_cycles(import_graph(planted)) == []


def test_the_graph_sees_the_real_package() -> None:
    graph = import_graph(package_sources())
    assert "course_utils.runtime.run" in graph["course_utils.runtime.providers"]
    assert "course_utils.bench.harness" in graph["course_utils.quantize.evaluate"]


def test_course_utils_has_no_import_cycles() -> None:
    cycles = find_cycles(import_graph(package_sources()))
    assert cycles == [], "break these import circles (move the shared part to a lower module):\n" + "\n".join(
        " <-> ".join(group) for group in cycles
    )
