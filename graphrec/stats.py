"""What is in the graph: users, follows, degree percentiles, the most-followed accounts."""

from __future__ import annotations

import neo4j
import numpy as np

from graphrec import store
from graphrec.graph import fetch_follows

PERCENTILES = ("p50", "p90", "p99", "max")


def graph_stats(driver: neo4j.Driver, database: str | None = None, top: int = 10) -> dict:
    """Whole-database figures: ``{"users", "follows", "out_degree", "in_degree", "top_accounts"}``.

    Degree percentiles run over every user (a user who follows nobody has out-degree 0);
    on an empty graph they are all 0.
    """
    counts = store.read(driver, "count_graph", database)[0]
    degrees = store.read(driver, "degree_percentiles", database)[0]
    top_rows = store.read(driver, "top_followed", database, limit=top) if top > 0 else []
    return {
        "users": counts["users"],
        "follows": counts["follows"],
        "out_degree": {p: degrees[f"out_{p}"] or 0 for p in PERCENTILES},
        "in_degree": {p: degrees[f"in_{p}"] or 0 for p in PERCENTILES},
        "top_accounts": [{"uid": r["uid"], "followers": r["followers"]} for r in top_rows],
    }


def follow_pairs(
    driver: neo4j.Driver, database: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every FOLLOWS relationship as (uid, fid) int64 arrays sorted by (uid, fid).

    One row per relationship, so a duplicated follow shows up twice.
    """
    uid, fid = fetch_follows(driver, database)
    order = np.lexsort((fid, uid))
    return uid[order], fid[order]
