"""Benchmark the simple baselines of `graphrec evaluate`, tuned on validation follows (no Neo4j,
no NeuMF training).

For each dataset: read the gzip edge list (graphrec.io read_follows + clean), index it, hold
out one follow per user with >= 3 follows (the split `graphrec train` makes with the same
seed), tune every baseline of graphrec.evaluation.baselines on validation follows carved out of the
training follows, and rank the held-out follow of the same sampled users with every method
(graphrec.evaluation.metrics.ranking_metrics): HR@10, NDCG@10, HR@50 and the NCF protocol.

    .venv/bin/python bench/baselines.py [--quick] [--datasets wiki-vote] [--users 2000]
        [--methods rp3beta,ease] [--grid 'ease=[{"l2": 100}, {"l2": 500}]']

Results: bench/results/baselines.json (--quick: baselines-quick.json; or --out) and a markdown
table on stdout: HR@10, NDCG@10, HR@50, the chosen parameters, the validation HR@10 and the
seconds to fit (the final fit), to tune (the whole grid) and to rank (the test users).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASETS = ["wiki-vote", "higgs-social-prefix", "slashdot0902"]
DATA_DIR = Path("/work/shared/datasets")
COLUMNS = ["hr@10", "ndcg@10", "hr@50"]
QUICK_GRIDS = {  # a smoke run: two cheap settings where there is a grid
    "rp3beta": [
        {"alpha": 1.0, "beta": 0.5, "neighbours": None},
        {"alpha": 0.5, "beta": 0.3, "neighbours": 100},
    ],
    "item_knn": [{"shrink": 10.0, "neighbours": None}, {"shrink": 100.0, "neighbours": 100}],
    "ease": [{"l2": 100.0, "max_items": 1000}, {"l2": 500.0, "max_items": 1000}],
    "als": [{"factors": 16, "iterations": 5}, {"factors": 32, "iterations": 5}],
}


def dataset_path(name: str, data_dir: Path) -> Path:
    path = Path(name)
    return path if path.exists() else data_dir / f"{name}.edges.gz"


def run_dataset(name: str, args: argparse.Namespace, grids: dict) -> dict:
    from graphrec.evaluation import methods, metrics
    from graphrec.evaluation.baselines import tuned_baselines
    from graphrec.io import clean, read_follows
    from graphrec.model import splits

    started = time.perf_counter()
    follows = clean(read_follows(dataset_path(name, args.data_dir)))
    uids, src, dst = splits.index_follows(follows.uid, follows.fid)
    split = splits.leave_one_out_split(src, dst, len(uids), seed=args.seed)
    recs: list = []
    if not args.methods:
        recs += [
            methods.Popularity(split),
            methods.FriendsOfFriends(split),
            methods.AdamicAdar(split),
        ]
    recs += tuned_baselines(
        split,
        seed=args.seed,
        grids=grids,
        validation_users=args.validation_users,
        only=args.methods,
    )
    results = metrics.ranking_metrics(recs, split, n_users=args.users, seed=args.seed)
    return {
        "dataset": name,
        "accounts": len(uids),
        "follows": int(src.size),
        "held_out_users": int(split.test_users.size),
        "metrics": results,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _params(figures: dict) -> str:
    params = figures.get("params")
    if not params:
        return "" if params is None else "-"
    return ", ".join(f"{k}={v}" for k, v in params.items())


def markdown(rows: list[dict]) -> str:
    head = ["dataset", "method", *COLUMNS, "params", "val hr@10", "fit s", "tune s", "rank s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        for method, m in r["metrics"].items():
            val = m.get("validation_hr@10")
            cells = [
                r["dataset"],
                method,
                *(f"{m[c]:.4f}" for c in COLUMNS),
                _params(m),
                "" if val is None else f"{val:.4f}",
                str(m.get("fit_seconds", "")),
                str(m.get("tune_seconds", "")),
                str(m["seconds"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma-separated names in --data-dir, or paths",
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--users", type=int, default=2000, help="test users ranked")
    parser.add_argument(
        "--validation-users",
        type=int,
        default=None,
        help="validation users per grid setting [graphrec.evaluation.baselines default]",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated tuned baselines only (no popularity/fof/aa)",
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="METHOD=JSON",
        help="replace a method's grid, e.g. 'ease=[{\"l2\": 100}]' (repeatable)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: wiki-vote, 300 users, two cheap settings per grid",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="[bench/results/baselines.json, or baselines-quick.json]",
    )
    args = parser.parse_args()

    from graphrec.evaluation.baselines import GRIDS, VALIDATION_USERS

    grids: dict = dict(QUICK_GRIDS) if args.quick else {}
    for item in args.grid:
        method, _, value = item.partition("=")
        grids[method] = json.loads(value)
    if args.quick:
        args.datasets, args.users = "wiki-vote", min(args.users, 300)
        args.validation_users = args.validation_users or 300
    args.validation_users = args.validation_users or VALIDATION_USERS
    results = ROOT / "bench" / "results"
    args.out = args.out or results / ("baselines-quick.json" if args.quick else "baselines.json")
    args.methods = args.methods.split(",") if args.methods else None
    rows = []
    for name in args.datasets.split(","):
        print(f"{name}: tuning and evaluating ...", file=sys.stderr, flush=True)
        rows.append(run_dataset(name, args, grids))
        print(
            json.dumps({k: v["hr@10"] for k, v in rows[-1]["metrics"].items()}),
            f"{rows[-1]['seconds']} s",
            file=sys.stderr,
            flush=True,
        )
    result = {
        "benchmark": "baselines",
        "quick": args.quick,
        "users": args.users,
        "validation_users": args.validation_users,
        "seed": args.seed,
        "grids": {**GRIDS, **grids},
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "datasets": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))
    print(markdown(rows))


if __name__ == "__main__":
    main()
