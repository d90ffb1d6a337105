"""The package's imports run one way: CLI, then services, then core, with no cycle.

The import graph is read from the source with ``ast`` (imports inside functions included, since
a lazy import is still a dependency), so a new cycle fails here before it fails at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "graphrec"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in modules:  # `from a import b`: b a module or a name
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
                break
    return found


@pytest.fixture(scope="module")
def imports() -> nx.DiGraph:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(paths)
    for name, path in paths.items():
        graph.add_edges_from((name, target) for target in _imports(path, name, set(paths)))
    return graph


def _area(module: str) -> str:
    """``graphrec.model.train`` -> ``graphrec.model``; a top-level module is its own area."""
    return ".".join(module.split(".")[:2])


def test_the_import_graph_is_read(imports):
    assert ("graphrec.cli.model", "graphrec.model.train_worker") in imports.edges  # a lazy import
    assert ("graphrec.model.train_worker", "graphrec.model.train") in imports.edges
    assert ("graphrec.evaluation.offline", "graphrec.evaluation.baselines") in imports.edges


def test_no_module_imports_itself_through_others(imports):
    assert list(nx.simple_cycles(imports)) == []


def test_no_two_areas_import_each_other(imports):
    areas = nx.DiGraph()
    areas.add_edges_from((_area(a), _area(b)) for a, b in imports.edges if _area(a) != _area(b))
    assert list(nx.simple_cycles(areas)) == []


@pytest.mark.parametrize(
    ("module", "must_not_reach"),
    [
        # only the CLI (and `python -m graphrec`) sit above the CLI
        ("graphrec.recommend.service", "graphrec.cli"),
        ("graphrec.evaluation.offline", "graphrec.cli"),
        # the models are core: evaluation uses them, never the other way round
        ("graphrec.model.train", "graphrec.evaluation"),
        # the online path does not reach offline evaluation
        ("graphrec.recommend.service", "graphrec.evaluation"),
        # connecting reads the server's state file, not its process manager
        ("graphrec.store", "graphrec.server.process"),
        ("graphrec.settings", "graphrec.server.process"),
        # training from a file needs no Neo4j driver (checked at run time in test_model)
        ("graphrec.model.train", "graphrec.store"),
    ],
)
def test_layers_run_one_way(imports, module, must_not_reach):
    reached = nx.descendants(imports, module)
    assert not {m for m in reached if m == must_not_reach or m.startswith(must_not_reach + ".")}
