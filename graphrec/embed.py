"""Relation embeddings on FOLLOWS: computed with the numpy scorer, written back to Neo4j.

``write_embeddings`` sets ``r.embedding`` (``NumpyScorer.index_embedding``) and
``r.embedding_model`` on every FOLLOWS that has no vector of this model yet and whose two
endpoints the model knows, keyed by (uid, fid), in one transaction per batch; follows the model
cannot embed lose any old vector. It then makes sure the cosine vector index
``follow_embedding`` exists with the right dimensions (waiting for it to come ONLINE, or not),
and records the model version on ``(:GraphrecMeta {key: 'model'})`` so ``embedding_status``
can tell a stale index from a fresh one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import neo4j
import numpy as np

from graphrec import store
from graphrec.bounded import map_bounded_retrying
from graphrec.errors import Deadlocked
from graphrec.graph import fetch_follows
from graphrec.model.scorer import NumpyScorer
from graphrec.progress import Progress

META_KEY = "model"
DEFAULT_BATCH = 10_000
DEFAULT_WORKERS = 2


def index_dims(
    driver: neo4j.Driver, database: str | None, name: str = store.VECTOR_INDEX
) -> int | None:
    """The dimensions of vector index ``name``, or None when there is no such index."""
    records = store.read(driver, "show_index_options", database, name=name)
    if not records:
        return None
    config = (records[0]["options"] or {}).get("indexConfig", {})
    dims = config.get("vector.dimensions")
    return int(dims) if dims is not None else None


@dataclass(frozen=True)
class VectorIndexConfig:
    """How the HNSW graph of the relation vector index is built. bench/vector_index.py
    measures each setting's build time, query time and recall (docs/benchmarks.md): a build
    search width below Neo4j's default builds the index more than twice as fast for about one
    point of recall, and quantisation loses a third of the recall and makes queries slower,
    so it stays off."""

    m: int = 16  # links per vector (Neo4j's default)
    ef_construction: int = 40  # Neo4j's default is 100
    quantization: bool = False


def ensure_index(
    driver: neo4j.Driver,
    name: str,
    statement: str,
    dims: int,
    database: str | None = None,
    wait: bool = True,
    silent: bool = True,
    **options: object,
) -> dict:
    """Create vector index ``name`` with the Cypher file ``statement`` (its parameters: name,
    dims and ``options``) unless it exists with ``dims``; one with other dims is dropped first.

    ``wait``: until it is ONLINE, however long the build takes, with its progress on stderr;
    otherwise return at once. Returns the index's state and population percentage.
    """
    existing = index_dims(driver, database, name)
    failed = (store.index_state(driver, name, database) or {}).get("state") == "FAILED"
    if (existing is not None and existing != dims) or failed:  # a FAILED one never recovers
        store.write(driver, "drop_index", database, name=name)
    store.write(driver, statement, database, name=name, dims=dims, **options)
    if wait:
        return store.wait_for_index(driver, name, database, silent=silent)
    return store.index_state(driver, name, database) or {}


def ensure_vector_index(
    driver: neo4j.Driver,
    dims: int,
    database: str | None = None,
    wait: bool = True,
    silent: bool = True,
    config: VectorIndexConfig = VectorIndexConfig(),
) -> dict:
    """``follow_embedding`` (cosine, ``dims``, built as ``config`` says): see ensure_index."""
    return ensure_index(
        driver,
        store.VECTOR_INDEX,
        "create_follow_vector_index",
        dims,
        database,
        wait,
        silent,
        **dataclasses.asdict(config),
    )


def model_tag(version: str) -> int:
    """The int stored in r.embedding_model for a model version (a uuid hex): its first 60
    bits, stored inline where the version string would not be."""
    return int(version[:15], 16)


def _set_meta(
    driver: neo4j.Driver,
    database: str | None,
    scorer: NumpyScorer,
    state: str,
    count: int,
    skipped: int,
) -> None:
    store.write(
        driver,
        "merge_model_meta",
        database,
        key=META_KEY,
        version=scorer.version,
        dims=scorer.index_dim,
        state=state,
        written_at=datetime.now(UTC).isoformat(timespec="seconds"),
        count=count,
        skipped=skipped,
    )


def _user_batches(src_sorted: np.ndarray, batch_size: int) -> list[slice]:
    """Slices of about ``batch_size`` follows that never split one user's follows."""
    starts = np.flatnonzero(np.r_[True, src_sorted[1:] != src_sorted[:-1]])
    bounds = [0]
    for start in starts[1:]:
        if start - bounds[-1] >= batch_size:
            bounds.append(int(start))
    bounds.append(int(src_sorted.size))
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def _rows(src: np.ndarray, dst: np.ndarray, vectors: np.ndarray) -> list:
    """[uid, {str(fid): vector}] per user, for set_follow_embeddings (src sorted by user)."""
    if src.size == 0:
        return []
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    ends = np.r_[starts[1:], src.size]
    keys = list(map(str, dst.tolist()))
    vecs = vectors.tolist()
    return [
        [uid, dict(zip(keys[a:b], vecs[a:b], strict=True))]
        for uid, a, b in zip(src[starts].tolist(), starts.tolist(), ends.tolist(), strict=True)
    ]


def _write_batch(
    driver: neo4j.Driver, database: str | None, rows: list, count: int, tag: int
) -> int:
    store.write(driver, "set_follow_embeddings", database, rows=rows, model=tag)
    return count


def write_embeddings(
    driver: neo4j.Driver,
    scorer: NumpyScorer,
    database: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    silent: bool = False,
    workers: int = DEFAULT_WORKERS,
    rebuild_index: bool | None = None,
    full: bool = False,
    wait: bool = True,
) -> dict:
    """Write the relation embedding of every FOLLOWS that needs one; returns counts, timings.

    Only follows with no embedding, or one from another model, are written (r.embedding_model
    says which), unless ``full``: after a retrain that is every follow, after a load only the
    new ones. Batches hold whole users (about ``batch_size`` follows each) and ``workers``
    sessions write them at once, so computing and packing one batch overlaps the server's work.

    ``rebuild_index`` (default: when more than half the follows are written) drops the vector
    index first and builds it once at the end: bulk writes run many times faster without a
    live index, and the index built in one go is faster to query (docs/benchmarks.md).
    Recommendations run without pool 1 until it is ONLINE again. Otherwise the index stays up
    and takes every write as it comes. ``wait``: wait for the index build (with progress);
    otherwise return while it builds (``embed --status`` shows how far it has got).
    """
    if batch_size < 1 or workers < 1:
        raise ValueError("batch_size and workers must be positive")
    started = time.perf_counter()
    tag = model_tag(scorer.version)
    src, dst = fetch_follows(driver, database, silent=silent, to_embed_for=None if full else tag)
    total = int(store.read(driver, "count_graph", database)[0]["follows"])
    if rebuild_index is None:
        rebuild_index = src.size > total / 2
    users, items = scorer.index_of(src), scorer.index_of(dst)
    known = (users >= 0) & (items >= 0)
    skipped = int((~known).sum())
    _set_meta(driver, database, scorer, "writing", 0, skipped)
    if rebuild_index:
        store.write(driver, "drop_index", database, name=store.VECTOR_INDEX)

    k_src, k_dst, k_users, k_items = src[known], dst[known], users[known], items[known]
    order = np.argsort(k_src, kind="stable")  # one user's follows together
    k_src, k_dst, k_users, k_items = k_src[order], k_dst[order], k_users[order], k_items[order]
    write_started = time.perf_counter()

    def batches() -> Iterator[tuple[list, int]]:  # vectors computed here, one batch ahead
        for sl in _user_batches(k_src, batch_size):
            vectors = scorer.index_embedding(k_users[sl], k_items[sl]).astype(np.float64)
            yield _rows(k_src[sl], k_dst[sl], vectors), sl.stop - sl.start

    def write(batch: tuple[list, int]) -> int:
        return _write_batch(driver, database, batch[0], batch[1], tag)

    with Progress("writing embeddings", total=int(k_src.size), unit="rels", silent=silent) as p:
        for _, written_rows in map_bounded_retrying(write, batches(), workers, Deadlocked):
            p.update(written_rows)
    written = int(k_src.size)
    write_seconds = time.perf_counter() - write_started

    if skipped:
        unknown = list(zip(src[~known].tolist(), dst[~known].tolist(), strict=True))
        for batch in store.batched(unknown, batch_size):
            store.write(driver, "remove_follow_embeddings", database, rows=batch)

    index_started = time.perf_counter()
    index = ensure_vector_index(driver, scorer.index_dim, database, wait=wait, silent=silent)
    index_seconds = time.perf_counter() - index_started
    unchanged = total - int(src.size)  # these already carry this model's vectors
    _set_meta(driver, database, scorer, "complete", unchanged + written, skipped)
    return {
        "written": written,
        "skipped": skipped,
        "unchanged": unchanged,
        "dims": scorer.index_dim,
        "model_version": scorer.version,
        "index": store.VECTOR_INDEX,
        "index_rebuilt": rebuild_index,
        "index_state": index.get("state"),
        "index_percent": index.get("percent"),
        "write_seconds": round(write_seconds, 3),
        "relationships_per_second": round(written / write_seconds) if write_seconds > 0 else 0,
        "index_seconds": round(index_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }


def read_embeddings(
    driver: neo4j.Driver, src: np.ndarray, dst: np.ndarray, database: str | None = None
) -> np.ndarray:
    """The stored embeddings of the follows (src[j], dst[j]); NaN rows where there is none."""
    rows = list(zip(np.asarray(src).tolist(), np.asarray(dst).tolist(), strict=True))
    found = {
        (r["uid"], r["fid"]): r["embedding"]
        for r in store.read(driver, "read_follow_embeddings", database, rows=rows)
    }
    vectors = [found.get(pair) for pair in rows]
    dims = max((len(v) for v in vectors if v is not None), default=0)
    out = np.full((len(rows), dims), np.nan, np.float32)
    for j, v in enumerate(vectors):
        if v is not None:
            out[j] = v
    return out


def embedding_status(
    driver: neo4j.Driver, scorer: NumpyScorer, database: str | None = None
) -> dict:
    """Whether the FOLLOWS embeddings in the graph come from ``scorer``'s model.

    ``status`` is "fresh" (same model version, write completed), "stale" (another model, or
    an interrupted write) or "missing" (embed never ran). ``without_embedding`` counts
    follows that have no vector: added after the last embed, or unknown to the model.
    """
    records = store.read(driver, "read_model_meta", database, key=META_KEY)
    missing = store.read(driver, "count_follows_without_embedding", database)[0]["missing"]
    if not records:
        status, meta = "missing", {}
    else:
        meta = dict(records[0])
        same = meta.get("version") == scorer.version and meta.get("dims") == scorer.index_dim
        status = "fresh" if same and meta.get("state") == "complete" else "stale"
    index = store.index_state(driver, store.VECTOR_INDEX, database) or {}
    return {
        "status": status,
        "model_version": scorer.version,
        "graph_version": meta.get("version"),
        "written_at": meta.get("written_at"),
        "count": meta.get("count"),
        "without_embedding": int(missing),
        "index_dims": index_dims(driver, database),
        "index_state": index.get("state"),
        "index_percent": index.get("percent"),
    }
