"""Relation-embedding write-back throughput (target >= 50,000 relationships/s).

Against the bench server (GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT, graph already loaded and
MODEL_DIR trained on it): each run is ``write_embeddings(rebuild_index=True)``, the path of
`graphrec embed --rebuild-index`: drop the vector index, write every FOLLOWS embedding, build
the index once. The first run is reported apart (cold server
caches and JIT); the median is over the runs after it.

    .venv/bin/python bench/embed.py models/bench/slashdot0902 [--runs 3] [--batch-size 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrec import store  # noqa: E402
from graphrec.embed import DEFAULT_BATCH, write_embeddings  # noqa: E402
from graphrec.model.scorer import NumpyScorer  # noqa: E402
from graphrec.settings import resolve_settings  # noqa: E402


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
            report = write_embeddings(driver, scorer, settings.database,
                                      batch_size=args.batch_size, silent=True, rebuild_index=True)
            runs.append(report)
            label = "warm-up" if i == 0 else f"run {i}"
            print(f"{label}: {report['written']:,} relationships, "
                  f"{report['relationships_per_second']:,}/s, index {report['index_seconds']}s")
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
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"| write-back | median {result['median_per_second']:,} relationships/s "
          f"(first run {result['first_run_per_second']:,}/s) | index build "
          f"{result['median_index_seconds']} s |")


if __name__ == "__main__":
    main()
