"""Benchmark recommendation quality: NeuMF vs popularity, friends-of-friends, Adamic-Adar and
implicit ALS, with one leave-one-out split per dataset (no Neo4j needed).

For each dataset: read the gzip edge list, drop self-loops and duplicates, train NeuMF with
the default NeuMFConfig (or --set overrides) holding out one follow per user with >= 3
follows, then rank each held-out follow for 2,000 sampled users against every account the
user does not follow (HR@10, NDCG@10, HR@50) and with the NCF protocol (99 sampled
negatives). All methods share the split, the users and the code path (graphrec.evaluate).

    .venv/bin/python bench/quality.py [--quick] [--datasets wiki-vote] [--set learning_rate=0.01]

Results: bench/results/quality.json (or --out) and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice; set before numpy


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train import read_edges  # noqa: E402  (bench/train.py)

DATASETS = ["higgs-social-prefix", "wiki-vote", "slashdot0902"]
COLUMNS = ["hr@10", "ndcg@10", "hr@50", "ncf_hr@10", "ncf_ndcg@10"]


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = tuple(json.loads(f"[{value}]")) if "," in value else json.loads(value)
    return out


def run_dataset(name: str, overrides: dict, n_users: int, seed: int, als: dict) -> dict:
    from graphrec.evaluation import methods, metrics
    from graphrec.model import splits
    from graphrec.model.artifacts import NeuMFConfig, read_pairs
    from graphrec.model.scorer import NumpyScorer
    from graphrec.model.train import train

    src, dst = read_edges(name)
    config = dataclasses.replace(NeuMFConfig(), **overrides)
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work) / "model"
        figures = train(src, dst, tmp, config, silent=True)
        scorer = NumpyScorer.load(tmp)
        history = scorer.meta["history"]
        held = read_pairs(tmp)
        split = splits.split_from_holdout(scorer.uids, src, dst, held[:, 0], held[:, 1])
    recs = [
        methods.NeuMFRecommender(scorer, split),
        methods.Popularity(split),
        methods.FriendsOfFriends(split),
        methods.AdamicAdar(split),
    ]
    recs.append(methods.ImplicitALS(split, **als))
    results = metrics.ranking_metrics(recs, split, n_users=n_users, seed=seed)
    results["neumf"].update(metrics.classification_metrics(scorer, split, seed=seed))
    return {
        "dataset": name,
        "follows": int(src.size),
        "held_out_users": int(split.test_users.size),
        "config": config.to_dict(),
        "training": {
            **{
                k: figures[k]
                for k in (
                    "epochs",
                    "best_epoch",
                    "examples_per_second",
                    "seconds",
                    "best_val_loss",
                    "best_val_hr@10",
                    "early_stopping",
                )
            },
            "val_hr@10": [round(h["val_hr@10"], 4) for h in history],
        },
        "metrics": results,
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "| dataset | method | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        for method, m in r["metrics"].items():
            lines.append(
                f"| {r['dataset']} | {method} | "
                + " | ".join(f"{m[c]:.3f}" for c in COLUMNS)
                + " |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="NeuMFConfig override (repeatable)",
    )
    parser.add_argument(
        "--als",
        dest="als",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="ImplicitALS override, e.g. factors=128 (repeatable)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: bitcoin-alpha, 200 users, 2 epochs, latent 8 without the search",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quality.json")
    args = parser.parse_args()
    overrides = parse_overrides(args.overrides)
    datasets = args.datasets.split(",")
    n_users = args.users
    if args.quick:
        datasets, n_users = ["bitcoin-alpha"], 200
        overrides.update(epochs=2, search=(), two_tower=False, multi_interest=False)
    rows = []
    for name in datasets:
        started = time.perf_counter()
        print(f"{name}: training and evaluating ...", file=sys.stderr, flush=True)
        rows.append(run_dataset(name, overrides, n_users, args.seed, parse_overrides(args.als)))
        rows[-1]["seconds"] = round(time.perf_counter() - started, 1)
        print(
            json.dumps({k: v["hr@10"] for k, v in rows[-1]["metrics"].items()}),
            json.dumps(rows[-1]["training"]),
            file=sys.stderr,
            flush=True,
        )
    result = {
        "benchmark": "quality",
        "quick": args.quick,
        "users": n_users,
        "seed": args.seed,
        "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "datasets": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))
    print(markdown(rows))


if __name__ == "__main__":
    main()
