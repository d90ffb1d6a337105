"""Reading the follow graph out of Neo4j as numpy arrays (for training and embedding)."""

from __future__ import annotations

import neo4j
import numpy as np

from graphrec import store
from graphrec.progress import Progress

PAGE_USERS = 20_000
INT64_MIN = -(2**63)


def fetch_follows(
    driver: neo4j.Driver,
    database: str | None = None,
    page_users: int = PAGE_USERS,
    silent: bool = True,
    to_embed_for: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every FOLLOWS as (src uids, dst uids), int64, read in pages of users by uid.

    ``to_embed_for``: only the follows whose embedding is missing or comes from another
    model than this tag (``embed.model_tag``).
    """
    src_parts: list[np.ndarray] = []
    dst_parts: list[np.ndarray] = []
    after = INT64_MIN
    query, extra = "read_follows_page", {}
    if to_embed_for is not None:
        query, extra = "read_follows_to_embed_page", {"model": to_embed_for}
    with Progress("reading follows", unit="follows", silent=silent) as progress:
        while True:
            records = store.read(driver, query, database, after=after, limit=page_users, **extra)
            if not records:
                break
            for record in records:
                fids = record["fids"]
                if fids:
                    src_parts.append(np.full(len(fids), record["uid"], np.int64))
                    dst_parts.append(np.asarray(fids, np.int64))
                    progress.update(len(fids))
            after = max(r["uid"] for r in records)
            if len(records) < page_users:
                break
    if not src_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(src_parts), np.concatenate(dst_parts)
