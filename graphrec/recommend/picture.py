"""The why-graph of ``graphrec.recommend.why`` as a PNG a person can read, or as GraphML.

The PNG is drawn with networkx onto a plain matplotlib ``Figure`` rendered by the Agg canvas:
no pyplot figure, no window, no display needed. It reads from left to right, one column per
role: the user, the accounts they follow, the accounts that proposed a recommendation (via),
and the recommendations, by rank from the top; each account sits level with the
recommendations it explains.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import networkx as nx

from graphrec.errors import GraphrecError
from graphrec.recommend import why
from graphrec.recommend.why import KINDS, ROLES, recommended

# role: (colour, marker, size in points^2, legend)
NODE_STYLE = {
    "user": ("#222222", "*", 1100, "the user"),
    "follows": ("#4C78A8", "o", 240, "an account the user follows"),
    "via": ("#BAB0AC", "D", 110, "an account that proposed one (via)"),
    "recommended": ("#F58518", "s", 560, "recommended (#rank)"),
}
# kind: (colour, line style, legend)
EDGE_STYLE: dict[str, tuple[str, Literal["solid", "dashed"], str]] = {
    "follows": ("#4C78A8", "solid", "the user follows"),
    "friend_of_friend": ("#F58518", "solid", "followed by an account the user follows"),
    "shared_follow": ("#54A24B", "solid", "follows an account the user follows"),
    "via": ("#B279A2", "solid", "followed by an account that proposed it"),
    "follows_you": ("#E45756", "dashed", "follows the user"),
}
COLUMNS = {"user": 0.0, "follows": 2.0, "via": 4.0, "recommended": 6.0}


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise GraphrecError(f"cannot write {path}: {e.strerror or e}") from e


def check_writable(path: Path) -> None:
    """Fail now, before any work, when ``path`` cannot be written."""
    folder = path.parent
    if path.is_dir():
        raise GraphrecError(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        raise GraphrecError(f"cannot write {path}: no folder {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise GraphrecError(f"cannot write {path}: permission denied")


def write_graphml(graph: nx.DiGraph, path: Path) -> None:
    """``graph`` as GraphML (every attribute is a str, int, float or bool)."""
    with _writing(path):
        nx.write_graphml(graph, path)


def _column(wanted: dict[int, float], height: float) -> dict[int, float]:
    """Heights in a column, in the order wanted, at most one row apart, centred on the mean
    of the heights wanted and kept within ``height``."""
    if not wanted:
        return {}
    order = sorted(wanted, key=lambda n: (wanted[n], n))
    step = min(1.0, height / (len(order) - 1)) if len(order) > 1 else 0.0
    span = step * (len(order) - 1)
    centre = sum(wanted.values()) / len(order)
    centre = min(max(centre, span / 2), height - span / 2)
    return {n: centre - span / 2 + i * step for i, n in enumerate(order)}


def layout(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Positions: one column per role (see the module's docstring)."""
    role = nx.get_node_attributes(graph, "role")
    recs = recommended(graph)
    rows = max(sum(1 for r in role.values() if r == name) for name in ROLES)
    height = float(max(rows - 1, 1))
    step = height / (len(recs) - 1) if len(recs) > 1 else 0.0
    y = {u: height - i * step if step else height / 2 for i, u in enumerate(recs)}

    def mean(nodes: Iterable[int]) -> float:
        found = [y[n] for n in nodes if n in y]
        return sum(found) / len(found) if found else height / 2

    via = {n: mean(graph.successors(n)) for n in graph if role[n] == "via"}
    y.update(_column(via, height))
    follows = {
        n: mean([*graph.successors(n), *graph.predecessors(n)])
        for n in graph
        if role[n] == "follows"
    }
    y.update(_column(follows, height))
    columns = dict(COLUMNS)
    if not via:
        columns["recommended"] = columns["via"]
    return {n: (columns[role[n]], y.get(n, height / 2)) for n in graph}


def draw(graph: nx.DiGraph, path: Path, dpi: int = 100) -> None:
    """Draw ``graph`` to the PNG ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    pos = layout(graph)
    role = nx.get_node_attributes(graph, "role")
    top = max((y for _, y in pos.values()), default=1.0)
    height = min(max(2.6 + 0.62 * top, 6.0), 16.0)  # inches
    fig = Figure(figsize=(11.0, height))
    FigureCanvasAgg(fig)
    legend, title = 0.9 / height, 0.8 / height  # their bands, as fractions of the height
    ax = fig.add_axes((0.01, legend, 0.98, 1.0 - legend - title))
    ax.set_axis_off()
    right = max(x for x, _ in pos.values())
    ax.set_xlim(-0.7, right + 1.1)
    ax.set_ylim(-0.5, top + 0.5)

    nodes = list(graph)
    sizes = [NODE_STYLE[role[n]][2] for n in nodes]
    for kind in KINDS:
        colour, style, _ = EDGE_STYLE[kind]
        edges = [(a, b) for a, b, k in graph.edges(data="kind") if k == kind]
        # within a column (a recommended account following another): bow out to the left,
        # clear of the other accounts of the column and of the labels on its right
        for bend, subset in (
            (0.08, [(a, b) for a, b in edges if pos[a][0] != pos[b][0]]),
            (-0.45, [(a, b) for a, b in edges if pos[a][0] == pos[b][0] and pos[a][1] < pos[b][1]]),
            (0.45, [(a, b) for a, b in edges if pos[a][0] == pos[b][0] and pos[a][1] > pos[b][1]]),
        ):
            if not subset:
                continue
            nx.draw_networkx_edges(
                graph,
                pos,
                edgelist=subset,
                nodelist=nodes,
                node_size=sizes,
                ax=ax,
                edge_color=colour,
                style=style,
                width=1.0 if kind == "follows" else 1.3,
                alpha=0.75,
                arrows=True,
                arrowsize=10,
                connectionstyle=f"arc3,rad={bend}",
            )
    for r in ROLES:
        members = [n for n in nodes if role[n] == r]
        if not members:
            continue
        colour, marker, size, _ = NODE_STYLE[r]
        nx.draw_networkx_nodes(
            graph,
            pos,
            nodelist=members,
            node_color=colour,
            node_shape=marker,
            node_size=size,
            edgecolors="white",
            linewidths=1.0,
            ax=ax,
        )
    for n in nodes:
        x, y = pos[n]
        if role[n] == "recommended":
            rank = graph.nodes[n]["rank"]
            ax.text(
                x,
                y,
                f"#{rank}",
                ha="center",
                va="center",
                fontsize=7.5,
                color="white",
                fontweight="bold",
            )
            ax.text(x + 0.25, y, str(n), ha="left", va="center", fontsize=9)
        elif role[n] == "user":
            ax.text(x, y - 0.22, f"user {n}", ha="center", va="top", fontsize=10, fontweight="bold")
        else:
            ax.text(
                x,
                y - 0.16,
                str(n),
                ha="center",
                va="top",
                color="#333333",
                fontsize=8 if role[n] == "follows" else 7,
            )

    g = graph.graph
    n_recs = len(recommended(graph))
    fig.suptitle(
        f"Why user {g['user']} gets these {n_recs} accounts", fontsize=14, y=1.0 - 0.15 / height
    )
    fig.text(0.5, 1.0 - 0.5 / height, why.shown(graph), ha="center", fontsize=9, color="#555555")
    kinds = {k for _, _, k in graph.edges(data="kind")}
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=NODE_STYLE[r][1],
            markersize=9 if r != "user" else 13,
            markerfacecolor=NODE_STYLE[r][0],
            markeredgecolor="white",
            label=NODE_STYLE[r][3],
        )
        for r in ROLES
        if r in role.values()
    ] + [
        Line2D([], [], color=EDGE_STYLE[k][0], linestyle=EDGE_STYLE[k][1], label=EDGE_STYLE[k][2])
        for k in KINDS
        if k in kinds
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=8.5)
    with _writing(path):
        fig.savefig(path, format="png", dpi=dpi)
