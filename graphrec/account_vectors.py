"""Two-tower account vectors on ``:User`` nodes, and the node vector index the two_tower pool
queries.

``write_account_vectors`` sets ``u.account_embedding`` (the producer tower's unit vector,
``TowerScorer.vectors``) and ``u.account_embedding_model`` on every user the model knows whose
vector is missing or from another model, then makes sure the cosine index
``account_embedding`` exists with the right dimensions. Like the relation embeddings, a bulk
write drops the index first and builds it once at the end.
"""

from __future__ import annotations

import neo4j
import numpy as np

from graphrec import store
from graphrec.embed import ensure_index, model_tag
from graphrec.model.scorer import NumpyScorer
from graphrec.progress import Progress

BATCH = 5_000


def ensure_account_index(
    driver: neo4j.Driver, dims: int, database: str | None, wait: bool, silent: bool
) -> dict:
    """``account_embedding`` (cosine, ``dims``): see embed.ensure_index."""
    return ensure_index(
        driver, store.ACCOUNT_INDEX, "create_account_vector_index", dims, database, wait, silent
    )


def write_account_vectors(
    driver: neo4j.Driver,
    scorer: NumpyScorer,
    database: str | None = None,
    silent: bool = False,
    wait: bool = True,
) -> dict | None:
    """Write what is missing; None when the model has no two-tower part."""
    towers = scorer.towers
    if towers is None:
        return None
    tag = model_tag(scorer.version)
    records = store.read(driver, "read_accounts_to_embed", database, model=tag)
    uids = np.asarray(records[0]["uids"] if records else [], np.int64)
    rows = scorer.index_of(uids)
    known = rows >= 0
    uids, rows = uids[known], rows[known]
    users = int(store.read(driver, "count_graph", database)[0]["users"])
    rebuild = uids.size > users / 2
    if rebuild:
        store.write(driver, "drop_index", database, name=store.ACCOUNT_INDEX)
    total = int(uids.size)
    with Progress("writing account vectors", total=total, unit="users", silent=silent) as p:
        for start in range(0, uids.size, BATCH):
            sl = slice(start, start + BATCH)
            vectors = np.asarray(towers.vectors[rows[sl]], np.float64).tolist()
            batch = [[u, v] for u, v in zip(uids[sl].tolist(), vectors, strict=True)]
            store.write(driver, "set_account_embeddings", database, rows=batch, model=tag)
            p.update(len(batch))
    index = ensure_account_index(driver, towers.dim, database, wait, silent)
    return {
        "written": int(uids.size),
        "unknown_to_model": int((~known).sum()),
        "index": store.ACCOUNT_INDEX,
        "index_rebuilt": rebuild,
        "index_state": index.get("state"),
    }


def account_status(driver: neo4j.Driver, scorer: NumpyScorer, database: str | None = None) -> dict:
    """How many users lack this model's account vector, and the node index's state."""
    missing = store.read(
        driver, "count_accounts_without_vector", database, model=model_tag(scorer.version)
    )[0]["missing"]
    index = store.index_state(driver, store.ACCOUNT_INDEX, database) or {}
    return {
        "without_account_vector": int(missing),
        "account_index_state": index.get("state"),
        "account_index_percent": index.get("percent"),
    }
