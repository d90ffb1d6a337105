"""Every Cypher statement lives in cypher/<name>.cypher: each file is used, each name used exists,
and no Python file carries Cypher text of its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from graphrec import store
from graphrec.errors import UnknownQuery
from graphrec.paths import PROJECT_ROOT, cypher_dir

RUNNERS = {"read": 1, "write": 1, "run_in_transactions": 1, "query": 0}
CYPHER_TEXT = re.compile(r"\b(MATCH|MERGE|UNWIND|DETACH DELETE)\b\s*[\(\$a-z]")


def _python_files() -> list[Path]:
    return sorted((PROJECT_ROOT / "graphrec").rglob("*.py"))


def _string_constants() -> set[str]:
    found = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def _names_passed_to_runners() -> set[tuple[str, str]]:
    used = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in RUNNERS or len(node.args) <= RUNNERS[name]:
                continue
            arg = node.args[RUNNERS[name]]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                used.add((path.name, arg.value))
    return used


def _product_files() -> list[Path]:
    """Cypher the product runs; Browser guides (first line says so) are for people."""
    return [
        p
        for p in sorted(cypher_dir().glob("*.cypher"))
        if "Neo4j Browser" not in p.read_text().splitlines()[0]
    ]


def test_every_cypher_file_is_used_by_name():
    constants = _string_constants()
    unused = [p.name for p in _product_files() if p.stem not in constants]
    assert unused == []


def test_every_name_run_exists():
    missing = [
        f"{where}: {name}"
        for where, name in _names_passed_to_runners()
        if not (cypher_dir() / f"{name}.cypher").exists()
    ]
    assert missing == []
    assert _names_passed_to_runners(), "the scan found no named queries at all"


def test_no_cypher_text_in_python():
    offenders = [
        s[:60]
        for s in _string_constants()
        if CYPHER_TEXT.search(s)
        and "\n" in s
        or s.lstrip().upper().startswith(("MATCH (", "MERGE (", "UNWIND $", "CREATE (", "CALL {"))
    ]
    assert offenders == []


def test_unknown_query_name_raises():
    with pytest.raises(UnknownQuery, match="no Cypher file named 'no_such_query'"):
        store.query("no_such_query")


def test_cypher_files_take_values_as_parameters_only():
    # Quoted literals in product Cypher are only fixed names (labels, index options), never data.
    for path in _product_files():
        text = path.read_text()
        assert "{}" not in text and "%s" not in text, f"{path.name} looks like a format template"
