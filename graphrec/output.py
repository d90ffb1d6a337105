"""Results as a readable table (default) or JSON (``--json``): one render path for both."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from graphrec import memory


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and paths into JSON-able values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float):
        return round(value, 6)
    return str(value)


_STARTED = time.perf_counter()  # imported as the CLI starts


def with_process_figures(result: dict) -> dict:
    """``result`` plus ``process``: the command's wall time so far and the process's peak
    resident memory (what the scale benchmark reads from every long stage's --json), and
    that of the largest process it ran and waited for (``train``'s training processes)."""
    process = {
        "seconds": round(time.perf_counter() - _STARTED, 3),
        "peak_rss_mb": memory.peak_rss_mb(),
    }
    child = memory.child_peak_mb()
    if child is not None:
        process["child_peak_rss_mb"] = child
    return {**result, "process": process}


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_plain, indent=2))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if value is None:
        return ""
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain-text table with a header and right-aligned numbers."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)
        for c in columns
    ]

    def fmt(values: Sequence[str]) -> str:
        out = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(out).rstrip()

    lines = [fmt(columns), fmt(["-" * w for w in widths])]
    lines += [fmt(row) for row in cells]
    return "\n".join(lines)


def key_values(data: Mapping[str, Any]) -> str:
    """A two-column table for one record (stats, load summaries)."""
    width = max(len(k) for k in data)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in data.items())


def render(data: Any, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print a list of rows or one record, as a table or as JSON."""
    if as_json:
        emit_json(data)
    elif isinstance(data, Mapping):
        click.echo(key_values(data))
    else:
        click.echo(table(data, columns))
