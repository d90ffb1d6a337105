"""Relation-embedding write-back throughput (target >= 50,000 relationships/s).

Against the bench server (GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT, graph already loaded and
MODEL_DIR trained on it): each run is ``write_embeddings(rebuild_index=True)``, the path of
`graphrec embed` (its default): drop the vector index, write every FOLLOWS embedding, build
the index once. The first run is reported apart (cold server
caches and JIT); the median is over the runs after it. After each run it also counts the
index's Lucene segments on disk (local server only: one HNSW graph per segment, and a query
searches them all) and times vector queries (k = 30) against the fresh index.

    .venv/bin/python bench/embed.py models/bench/slashdot0902 [--runs 3] [--batch-size 10000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrec import store  # noqa: E402
from graphrec.embed import DEFAULT_BATCH, write_embeddings  # noqa: E402
from graphrec.model.scorer import NumpyScorer  # noqa: E402
from graphrec.settings import resolve_settings  # noqa: E402


def index_segments() -> int | None:
    """Lucene segments of the local server's vector indexes (None when not a local server)."""
    from graphrec.server.process import LocalServer

    root = LocalServer.from_env().home / "data" / "databases" / "neo4j" / "schema" / "index"
    folders = list(root.glob("vector-*/*/*"))
    return sum(len(list(f.glob("*.si"))) for f in folders) if folders else None


def query_ms(driver, database: str | None, queries: int = 200, k: int = 30) -> float:
    """Median ms of one vector index query from a random relation's own embedding."""
    rows = driver.execute_query(
        "MATCH ()-[r:FOLLOWS]->() WHERE r.embedding IS NOT NULL RETURN r.embedding AS e LIMIT 5000",
        database_=database,
    ).records
    vectors = [r["e"] for r in rows]
    random.Random(0).shuffle(vectors)
    times = []
    for v in (vectors * 2)[:queries]:
        start = time.perf_counter()
        driver.execute_query(
            "CALL db.index.vector.queryRelationships($index, $k, $v) YIELD score RETURN count(*)",
            index=store.VECTOR_INDEX,
            k=k,
            v=v,
            database_=database,
        )
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embed.json")
    args = parser.parse_args()

    settings = resolve_settings()
    driver = store.open_driver(settings)
    scorer = NumpyScorer.load(args.model_dir)
    runs = []
    try:
        for i in range(args.runs + 1):
            report = write_embeddings(
                driver,
                scorer,
                settings.database,
                batch_size=args.batch_size,
                silent=True,
                rebuild_index=True,
                full=True,
            )
            report["index_segments"] = index_segments()
            report["query_ms_k30"] = query_ms(driver, settings.database)
            runs.append(report)
            label = "warm-up" if i == 0 else f"run {i}"
            print(
                f"{label}: {report['written']:,} relationships, "
                f"{report['relationships_per_second']:,}/s, index {report['index_seconds']}s, "
                f"{report['index_segments']} segments, query {report['query_ms_k30']} ms"
            )
    finally:
        driver.close()
    timed = runs[1:]
    result = {
        "benchmark": "embed",
        "model_dir": str(args.model_dir),
        "batch_size": args.batch_size,
        "relationships": timed[0]["written"],
        "first_run_per_second": runs[0]["relationships_per_second"],
        "median_per_second": statistics.median(r["relationships_per_second"] for r in timed),
        "median_write_seconds": statistics.median(r["write_seconds"] for r in timed),
        "median_index_seconds": statistics.median(r["index_seconds"] for r in timed),
        "index_segments": timed[-1]["index_segments"],
        "median_query_ms_k30": statistics.median(r["query_ms_k30"] for r in timed),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        f"| write-back | median {result['median_per_second']:,} relationships/s "
        f"(first run {result['first_run_per_second']:,}/s) | index build "
        f"{result['median_index_seconds']} s, {result['index_segments']} segments | "
        f"vector query k=30 {result['median_query_ms_k30']} ms |"
    )


if __name__ == "__main__":
    main()
