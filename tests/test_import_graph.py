"""The package has no import cycles, counting every import (also those inside functions,
which would otherwise hide a cycle until the function runs)."""
from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    """Dotted name of a source file; ``compilers/`` installs as ``neurodeploy.compilers``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "compilers":
        parts.insert(0, "neurodeploy")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    """Every source file once (a checkout may link neurodeploy/compilers to ../compilers)."""
    links = (ROOT / "neurodeploy" / "compilers", ROOT / "neurodeploy" / "hw_profiles")
    files = [p for p in (ROOT / "neurodeploy").rglob("*.py")
             if not any(p.is_relative_to(link) for link in links)]
    return {_module_name(p): p for p in [*files, *(ROOT / "compilers").rglob("*.py")]}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a package import counts as its ``__init__``)."""
    sources = _sources()
    graph: dict[str, set[str]] = {m: set() for m in sources}
    for mod, path in sources.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [target, *(f"{target}.{a.name}" for a in node.names)]
            else:
                continue
            graph[mod] |= {n for n in names if n in graph and n != mod}
    return graph


def test_the_graph_is_read():
    """Known edges are found, so an empty graph cannot pass the cycle test."""
    graph = import_graph()
    assert "neurodeploy.ir.fields" in graph["neurodeploy.ir.models"]
    assert "neurodeploy.compilers.plan" in graph["neurodeploy.compilers.lava.build"]
    assert "neurodeploy.learning.updates" in graph["neurodeploy.validation.finetune"]
    assert len(graph) > 150


def test_no_import_cycles():
    try:
        list(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
