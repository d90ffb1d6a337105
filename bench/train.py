"""Benchmark NeuMF training throughput on the shared directed datasets (no Neo4j needed).

For each dataset: read the gzip edge list, drop self-loops and duplicates, train NeuMF with
the default NeuMFConfig (hold-out on, as `graphrec train` does; the search over embedding size
and learning rate and the batch race included, each run for a fixed number of epochs, early
stopping off), and report the kept run's embedding size, batch, examples/s and seconds per
epoch. The first epoch includes XLA compilation and is reported apart; examples/s is the kept
run's steady state over later epochs. ``--latent-dim N`` trains NeuMF alone at that size
instead, without the search: the training loop's own throughput at a fixed size.

Optionally (--embed) also times `graphrec embed` write-back against the bench Neo4j server
(GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT; the graph must already be loaded).

    .venv/bin/python bench/train.py [--quick] [--datasets wiki-vote,slashdot0902] [--epochs 4]
        [--latent-dim 8 --batch-size 65536 --out PATH]

Results: bench/results/train.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = Path(os.environ.get("GRAPHREC_DATASETS", ROOT.parent / "shared" / "datasets"))
RESULTS = ROOT / "bench" / "results"
DIRECTED = [
    "higgs-social-prefix",
    "slashdot0902",
    "wiki-vote",
    "twitter-wsdm21-bofa_careers",
    "twitter-wsdm21-hersheycareers",
    "bitcoin-otc",
    "bitcoin-alpha",
]


def read_edges(name: str) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(DATASETS / f"{name}.edges.gz", "rt") as f:
        edges = np.loadtxt(f, dtype=np.int64).reshape(-1, 2)
    keep = edges[:, 0] != edges[:, 1]
    return edges[keep, 0], edges[keep, 1]


def bench_dataset(name: str, epochs: int, overrides: dict) -> dict:
    from graphrec.model.artifacts import NeuMFConfig
    from graphrec.model.train import train

    src, dst = read_edges(name)
    config = dataclasses.replace(NeuMFConfig(), epochs=epochs, patience=epochs + 1, **overrides)
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work) / "model"
        figures = train(src, dst, tmp, config, silent=True)
        meta = json.loads((tmp / "meta.json").read_text())
    history = meta["history"]
    steady = history[1:] or history
    return {
        "dataset": name,
        "follows": int(meta["n_follows"]),
        "ids": int(meta["n_ids"]),
        "examples_per_epoch": int(history[-1]["examples"]),
        "latent_dim": figures["latent_dim"],
        "learning_rate": figures["learning_rate"],
        "batch_size": figures["batch_size"],
        "epochs": len(history),
        "first_epoch_s": history[0]["seconds"],
        "seconds_per_epoch": round(sum(h["seconds"] for h in steady) / len(steady), 3),
        "examples_per_second": figures["examples_per_second"],
        "examples_per_second_incl_compile": figures["examples_per_second_incl_compile"],
        "total_seconds": figures["seconds"],
        "search": figures["search"],
    }


def bench_embed(model_dir: Path) -> dict:
    from graphrec.embed import write_embeddings
    from graphrec.model.scorer import NumpyScorer
    from graphrec.settings import resolve_settings
    from graphrec.store import open_driver

    settings = resolve_settings(None, None, None, None)
    driver = open_driver(settings)
    try:
        return write_embeddings(driver, NumpyScorer.load(model_dir), settings.database, silent=True)
    finally:
        driver.close()


def markdown(rows: list[dict]) -> str:
    cols = [
        "dataset",
        "follows",
        "examples_per_epoch",
        "latent_dim",
        "batch_size",
        "first_epoch_s",
        "seconds_per_epoch",
        "examples_per_second",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DIRECTED))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--latent-dim",
        type=int,
        default=None,
        help="train NeuMF alone at this embedding size, without the search",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: bitcoin-alpha, 2 epochs, latent 8 without the search, NeuMF only",
    )
    parser.add_argument(
        "--embed",
        type=Path,
        default=None,
        metavar="MODEL_DIR",
        help="also time `embed` of MODEL_DIR into the bench Neo4j server",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "train.json")
    args = parser.parse_args()
    datasets = ["bitcoin-alpha"] if args.quick else args.datasets.split(",")
    epochs = 2 if args.quick else args.epochs
    overrides: dict = {"batch_size": args.batch_size} if args.batch_size else {}
    if args.latent_dim:
        overrides["latent_dim"] = args.latent_dim
    if args.quick or args.latent_dim:
        overrides.update(search=(), mf=False, two_tower=False, multi_interest=False)
    rows = []
    for name in datasets:
        print(f"training {name} ...", file=sys.stderr, flush=True)
        rows.append(bench_dataset(name, epochs, overrides))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {
        "benchmark": "train",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "quick": args.quick,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "datasets": rows,
    }
    if args.embed:
        result["embed"] = bench_embed(args.embed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown(rows))
    if "embed" in result:
        e = result["embed"]
        print(
            f"\nembed: {e['written']:,} relationships in {e['write_seconds']}s = "
            f"{e['relationships_per_second']:,} rels/s (index {e['index_seconds']}s)"
        )


if __name__ == "__main__":
    main()
