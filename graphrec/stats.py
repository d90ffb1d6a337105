"""What is in the graph: users, follows, degree percentiles, the most-followed accounts,
reciprocity."""

from __future__ import annotations

import neo4j
import numpy as np

from graphrec import store
from graphrec.numeric import unique_sorted

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
    records = store.read(driver, "read_follow_pairs", database)
    uid = np.fromiter((r["uid"] for r in records), dtype=np.int64, count=len(records))
    fid = np.fromiter((r["fid"] for r in records), dtype=np.int64, count=len(records))
    order = np.lexsort((fid, uid))
    return uid[order], fid[order]


def reciprocity(uid: np.ndarray, fid: np.ndarray) -> float:
    """Share of distinct non-self follows (u, v) whose reverse (v, u) is present too."""
    keep = uid != fid
    ids, dense = np.unique(np.concatenate((uid[keep], fid[keep])), return_inverse=True)
    if ids.size == 0:
        return 0.0
    n = np.int64(ids.size)
    u, v = dense[: dense.size // 2], dense[dense.size // 2 :]
    pairs = unique_sorted(u * n + v)
    reverse = (pairs % n) * n + pairs // n
    return float(np.isin(reverse, pairs).mean())
