"""The relation vector index's build settings: build time, query time and recall, side by side.

Against the bench server (GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT) with a dataset loaded and
embedded by bench/recommend.py's helpers (default slashdot0902 and models/bench/slashdot0902).
For each setting (HNSW links per vector ``m``, build-time search width ``ef``, 8-bit
quantisation ``q``) it drops the index, creates it with ``embed.ensure_vector_index`` and
times the build until ONLINE. Then it counts the Lucene segments, times ``--queries`` vector
queries (k = 30, each from a stored relation vector) and measures their recall@30 against an
exact cosine search over every stored vector in numpy. The product's setting is built
last, so the index is left as `graphrec embed` builds it.

    .venv/bin/python bench/vector_index.py [--dataset slashdot0902] [--model-dir DIR]
        [--configs m=16,ef=100,q=0 m=16,ef=100,q=1 ...] [--queries 200] [--quick]

A model directory that holds no model is trained first (one epoch, no hold-out). --quick is
the smoke run: bitcoin-alpha, one setting besides the product's, 20 queries.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as rb  # noqa: E402  (bench/recommend.py: shared helpers)
from embed import index_segments  # noqa: E402

from graphrec import store  # noqa: E402
from graphrec.embed import (  # noqa: E402
    VectorIndexConfig,
    embedding_status,
    ensure_vector_index,
    write_embeddings,
)
from graphrec.model.scorer import NumpyScorer  # noqa: E402

DEFAULT_CONFIGS = ("m=16,ef=100,q=0", "m=16,ef=100,q=1", "m=8,ef=40,q=0")
K = 30
TRAIN_QUICKLY = (
    "train",
    "--epochs",
    "1",
    "--no-holdout",
    "--no-search",
    "--no-two-tower",
    "--no-write-embeddings",
    "--no-fit-ranker",
)


def parse_config(text: str) -> VectorIndexConfig:
    fields = dict(part.split("=", 1) for part in text.split(","))
    return VectorIndexConfig(
        m=int(fields.get("m", 16)),
        ef_construction=int(fields.get("ef", 100)),
        quantization=fields.get("q", "0") in ("1", "true"),
    )


def all_vectors(driver, database) -> tuple[np.ndarray, np.ndarray]:
    """(pair keys uid * 2**32 + fid, unit vectors) of every stored relation embedding."""
    keys, vectors = [], []
    with driver.session(database=database) as session:
        result = session.run(
            "MATCH (a)-[r:FOLLOWS]->(b) WHERE r.embedding IS NOT NULL "
            "RETURN a.uid AS u, b.uid AS f, r.embedding AS e"
        )
        for record in result:
            keys.append((record["u"] << 32) + record["f"])
            vectors.append(record["e"])
    v = np.asarray(vectors, np.float32)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.asarray(keys, np.int64), v


def measure(driver, database, keys, unit, probes) -> dict:
    """Median query ms and mean recall@K of the live index over the probe vectors."""
    times, recalls = [], []
    for j in probes:
        start = time.perf_counter()
        records = driver.execute_query(
            "CALL db.index.vector.queryRelationships($index, $k, $v) YIELD relationship AS s "
            "RETURN startNode(s).uid AS u, endNode(s).uid AS f",
            index=store.VECTOR_INDEX,
            k=K,
            v=unit[j].tolist(),
            database_=database,
        ).records
        times.append((time.perf_counter() - start) * 1000)
        found = {(r["u"] << 32) + r["f"] for r in records}
        sims = unit @ unit[j]
        exact = np.argpartition(-sims, K)[:K]
        # ties at the K-th similarity count as found whichever of them the index returned
        threshold = sims[exact].min()
        tied = set(keys[sims >= threshold - 1e-6].tolist())
        recalls.append(min(len(found & tied), K) / K)
    return {
        "query_ms_median": round(statistics.median(times), 2),
        "recall_at_30": round(float(np.mean(recalls)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="slashdot0902")
    parser.add_argument("--model-dir", type=Path, default=rb.ROOT / "models/bench/slashdot0902")
    parser.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=rb.RESULTS / "vector_index.json")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    args = parser.parse_args()
    if args.quick:
        args.dataset, args.configs, args.queries = "bitcoin-alpha", ["m=8,ef=20,q=0"], 20
    configs = [parse_config(c) for c in args.configs]

    info = rb.ensure_loaded(args.dataset)
    if not (args.model_dir / "weights.npz").exists():
        rb.cli(*TRAIN_QUICKLY, "--model-dir", str(args.model_dir))
    driver = rb.open_driver()
    database = None
    scorer = NumpyScorer.load(args.model_dir)
    try:
        if embedding_status(driver, scorer, database)["status"] != "fresh":
            write_embeddings(driver, scorer, database, silent=True)
        keys, unit = all_vectors(driver, database)
        probes = np.random.default_rng(0).choice(keys.size, args.queries, replace=False)
        product = VectorIndexConfig()
        # the product's setting last, so the index is left as `graphrec embed` builds it
        order = [c for c in configs if c != product] + [product]
        runs = []
        for config in order:
            store.write(driver, "drop_index", database, name=store.VECTOR_INDEX)
            start = time.perf_counter()
            ensure_vector_index(driver, unit.shape[1], database, config=config)
            run = {
                "m": config.m,
                "ef_construction": config.ef_construction,
                "quantization": config.quantization,
                "build_seconds": round(time.perf_counter() - start, 1),
                "segments": index_segments(),
                **measure(driver, database, keys, unit, probes),
            }
            run["product_setting"] = config == product
            runs.append(run)
            print(json.dumps(run), flush=True)
    finally:
        driver.close()
    result = {
        "benchmark": "vector_index",
        "dataset": info["dataset"],
        "relationships": int(keys.size),
        "queries": args.queries,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| m | ef_construction | quantised | build s | segments | query ms, median | recall@30 |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for r in runs:
        print(
            f"| {r['m']} | {r['ef_construction']} | {'yes' if r['quantization'] else 'no'} | "
            f"{r['build_seconds']} | {r['segments']} | {r['query_ms_median']} | "
            f"{r['recall_at_30']} |"
        )


if __name__ == "__main__":
    main()
