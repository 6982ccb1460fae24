"""The architecture in the folders: a small app shell, one package per area, no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "openqr"
MAX_TOP_LEVEL_MODULES = 12


def _unit(module: str) -> str:
    """The top-level unit a dotted module belongs to: `openqr.codes.core` -> `codes`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(name: str) -> bool:
    return (PACKAGE / name / "__init__.py").exists() or (PACKAGE / f"{name}.py").exists()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:`: names for type checkers, never imported."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Every openqr module this file imports when it runs (relative imports resolved), lazy
    ones included."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from, for modules and __init__ alike
    found = set()
    for node in _run_time_nodes(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [a.name for a in node.names] if node.module is None else []
            elif node.module and node.module.startswith("openqr"):
                target, names = node.module, []
            else:
                continue
            if (
                names and target == "openqr"
            ):  # `from . import codes, create_app`: a unit, or the shell's __init__
                found.update(f"openqr.{name}" if _is_module(name) else "openqr" for name in names)
            else:
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("openqr"))
    return found


def unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        source = _unit(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
        for target in _imports(path):
            if (unit := _unit(target)) != source:
                graph.setdefault(source, set()).add(unit)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle between units, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_app_shell_has_at_most_twelve_modules():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


def test_every_area_is_a_package_that_says_what_it_owns():
    packages = [p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    areas = {
        "api",
        "assistant",
        "auth",
        "codes",
        "dashboard",
        "images",
        "ops",
        "redirect",
        "scans",
        "web",
        "webhooks",
    }
    assert {p.name for p in packages} >= areas
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring and len(docstring) > 60, (
            f"{package.name}/__init__.py needs a docstring saying what it owns"
        )


def test_no_two_top_level_units_import_each_other():
    assert _cycle(unit_graph()) is None


def test_the_circle_check_finds_a_circle():
    # The check itself must be able to fail: a made-up graph with a circle round three units.
    assert _cycle({"codes": {"scans"}, "scans": {"webhooks"}, "webhooks": {"codes"}}) == [
        "codes",
        "scans",
        "webhooks",
        "codes",
    ]


def test_imports_for_type_checkers_only_make_no_circle():
    # `openqr.services` names the areas' classes for type checkers while the areas import it.
    source = (
        "from typing import TYPE_CHECKING\n"
        "from .extensions import db\n"
        "if TYPE_CHECKING:\n"
        "    from .scans.recorder import ScanRecorder\n"
        "else:\n"
        "    from .models import Code\n"
        "def later():\n"
        "    from .codes import core\n"
    )
    found = _imports(PACKAGE / "services.py", source)
    assert found == {"openqr.extensions", "openqr.models", "openqr.codes"}
