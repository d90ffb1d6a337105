"""Recommendation quality of the whole pipeline vs. every single method, per shared dataset.

For each dataset (default: every directed graph of ../shared/datasets) in the local bench
server (GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT): load it (reset first when another dataset
is loaded), train NeuMF with its default hold-out, write the embeddings, fit the ranker on
training follows, then run `graphrec evaluate --pipeline` (same held-out users for NeuMF, the
baselines, the pipeline and each pool). Reports HR@10 / NDCG@10 / HR@50, the pipeline's
candidate-pool recall, pipeline HR@10 / the best baseline's HR@10 (target >= 1.0, goal 1.1),
and the ablation: the pipeline without each pool, and each pool alone with its recall.
Results: bench/results/pipeline.json and a markdown table on stdout.

    .venv/bin/python bench/pipeline.py [--datasets wiki-vote,slashdot0902] [--quick]
        [--retrain] [--train-args="--latent-dim 32" --out pipeline-latent32]
        [--optional-pools]

--optional-pools evaluates once more with every optional pool (similar_relations, two_tower,
multi_interest) forced on, for their ablation and their pool recall by out-degree, next to the
pools `fit-ranker` chose on validation follows.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as rb  # noqa: E402  (bench/recommend.py: shared helpers)

from graphrec.recommend.pools import OPTIONAL_POOLS as OPTIONAL  # noqa: E402

# every directed graph in ../shared/datasets, smallest first (the undirected ones have no
# follow direction to recommend along)
DEFAULT = (
    "bitcoin-alpha",
    "twitter-wsdm21-hersheycareers",
    "bitcoin-otc",
    "twitter-wsdm21-bofa_careers",
    "wiki-vote",
    "higgs-social-prefix",
    "slashdot0902",
)
BASELINES = (
    "neumf",
    "popularity",
    "fof",
    "adamic_adar",
    "follow_back",
    "rp3beta",
    "item_knn",
    "ease",
    "als",
)


def run_dataset(name: str, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    info = rb.ensure_loaded(name)
    model_root = args.model_root
    old = model_root / name
    if args.retrain and old.is_symlink():
        old.unlink()
    elif args.retrain and old.exists():
        shutil.rmtree(old)
    model_dir = rb.ensure_model(
        name,
        args.epochs,
        model_root,
        args.fit_users,
        shlex.split(args.train_args),
        eval_users=args.eval_users,
    )
    evaluate = (
        "evaluate",
        "--pipeline",
        "--model-dir",
        str(model_dir),
        "--users",
        str(args.users),
        "--seed",
        str(args.seed),
        "--silent",
    )
    metrics = rb.cli(*evaluate)
    optional = None
    if args.optional_pools:
        on = rb.cli(
            *evaluate, "--similar-relations-pool", "--two-tower-pool", "--multi-interest-pool"
        )
        ranker = json.loads((model_dir / "ranker.json").read_text())
        optional = {
            "chosen": ranker.get("pools", {}),
            "choice": ranker.get("info", {}).get("pool_choice", {}),
            "all_on": {
                name: on[name]
                for name in (
                    "pipeline",
                    *(f"{kind}:{pool}" for kind in ("pool", "without") for pool in OPTIONAL),
                )
                if name in on
            },
        }

    def best(names) -> tuple[str, float]:
        found = [(m, metrics[m].get("hr@10", 0.0)) for m in names if m in metrics]
        return max(found, key=lambda t: t[1]) if found else ("-", 0.0)

    best_name, best_hr = best(BASELINES)
    # our own single signals too: NeuMF over the merged pool, and each pool in its own order
    any_name, any_hr = best([*BASELINES, *(m for m in metrics if m.startswith("pool"))])
    pipe = metrics["pipeline"]["hr@10"]
    if not metrics["pipeline"].get("ranker"):
        print(
            f"warning: {name}: no fitted ranker; the pipeline figure understates it",
            file=sys.stderr,
        )
    return {
        "dataset": info,
        "model_dir": str(model_dir),
        "metrics": metrics,
        "best_single": best_name,
        "best_single_hr@10": best_hr,
        "pipeline_hr@10": pipe,
        "ratio": round(pipe / best_hr, 3) if best_hr else None,
        "best_any_single": any_name,
        "best_any_single_hr@10": any_hr,
        "ratio_any": round(pipe / any_hr, 3) if any_hr else None,
        "optional_pools": optional,
        "seconds": round(time.perf_counter() - started, 1),
    }


def method_rows(metrics: dict) -> list[dict]:
    """The pipeline, NeuMF over the merged pool, and every baseline."""
    rows = []
    for m in ["pipeline", "pool_model", *BASELINES]:
        f = metrics.get(m)
        if f:
            rows.append(
                {
                    "method": m,
                    "hr@10": f.get("hr@10"),
                    "ndcg@10": f.get("ndcg@10"),
                    "hr@50": f.get("hr@50"),
                    "pool_recall": f.get("pool_recall", ""),
                    "params": _params(f.get("params")),
                }
            )
    return rows


def _params(params: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items())


def ablation_rows(metrics: dict) -> list[dict]:
    pools = [m.split(":", 1)[1] for m in metrics if m.startswith("pool:")]
    return [
        {
            "pool": p,
            "without: hr@10": metrics.get(f"without:{p}", {}).get("hr@10", ""),
            "alone: hr@10": metrics[f"pool:{p}"].get("hr@10"),
            "alone: pool_recall": metrics[f"pool:{p}"].get("pool_recall", ""),
        }
        for p in pools
    ]


def optional_rows(runs: dict) -> list[dict]:
    """Per graph: the optional pools fit-ranker chose, and the pipeline with them, with all on,
    and with all on but one."""
    rows = []
    for name, run in runs.items():
        opt = run.get("optional_pools")
        if not opt:
            continue
        on = opt["all_on"]
        rows.append(
            {
                "graph": name,
                "chosen": ", ".join(p for p, used in opt["chosen"].items() if used) or "none",
                "HR@10 as chosen": run["pipeline_hr@10"],
                "all on": on["pipeline"]["hr@10"],
                **{
                    f"on, without {p}": on.get(f"without:{p}", {}).get("hr@10", "")
                    for p in OPTIONAL
                },
                **{
                    f"{p} alone: HR@10 / recall": (
                        f"{on[f'pool:{p}']['hr@10']} / {on[f'pool:{p}'].get('pool_recall', '')}"
                        if f"pool:{p}" in on
                        else ""
                    )
                    for p in OPTIONAL
                },
                "merged recall": on["pipeline"].get("pool_recall", ""),
            }
        )
    return rows


def recall_by_degree_rows(run: dict) -> list[dict]:
    """Pool recall by the user's out-degree, every optional pool on."""
    on = (run.get("optional_pools") or {}).get("all_on", {})
    rows = []
    for name in (*(f"pool:{p}" for p in OPTIONAL), "pipeline"):
        buckets = on.get(name, {}).get("pool_recall_by_out_degree")
        if buckets:
            rows.append(
                {
                    "pool": "merged" if name == "pipeline" else name.split(":", 1)[1],
                    **{f"follows {b} ({v['users']})": v["pool_recall"] for b, v in buckets.items()},
                }
            )
    return rows


def report(runs: dict, quick: bool = False) -> str:
    """Markdown: one summary table, then per graph its methods and its ablation."""
    lines = [
        "| graph | follows | pipeline HR@10 | best baseline | its HR@10 | ratio | pool recall |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {name} | {run['dataset']['follows']:,} | {run['pipeline_hr@10']:.4f} | "
            f"{run['best_single']} | {run['best_single_hr@10']:.4f} | **{run['ratio']}x** | "
            f"{run['metrics']['pipeline'].get('pool_recall', '')} |"
        )
    optional = optional_rows(runs)
    if optional:
        lines += [
            "\nOptional pools (chosen by fit-ranker on validation follows; then all "
            "forced on, and all on but one):\n",
            rb.markdown(optional, list(optional[0])),
        ]
        for name, run in runs.items():
            by_degree = recall_by_degree_rows(run)
            if by_degree:
                lines += [
                    f"\nPool recall by out-degree, {name}, all on:\n",
                    rb.markdown(by_degree, list(by_degree[0])),
                ]
    for name, run in runs.items():
        lines += [
            f"\n### {name} ({run['dataset']['users']:,} users, "
            f"{run['dataset']['follows']:,} follows){' — quick' if quick else ''}\n",
            rb.markdown(
                method_rows(run["metrics"]),
                ["method", "hr@10", "ndcg@10", "hr@50", "pool_recall", "params"],
            ),
            "\nAblation: the pipeline without each pool, and each pool alone (in its own order):\n",
            rb.markdown(
                ablation_rows(run["metrics"]),
                ["pool", "without: hr@10", "alone: hr@10", "alone: pool_recall"],
            ),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DEFAULT))
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--model-root", type=Path, default=rb.ROOT / "models" / "bench")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--fit-users", type=int, default=1000)
    parser.add_argument(
        "--eval-users", type=int, default=500, help="users of train's end-of-train evaluation"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--retrain", action="store_true", help="train even if a model exists")
    parser.add_argument(
        "--train-args",
        default="",
        metavar="ARGS",
        help='extra `graphrec train` options, e.g. --train-args="--latent-dim 32"',
    )
    parser.add_argument("--out", default="pipeline", help="results name in bench/results/")
    parser.add_argument(
        "--optional-pools",
        action="store_true",
        help="also evaluate with every optional pool on (their ablation and recall by out-degree)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="only print the markdown report of an earlier results file",
    )
    args = parser.parse_args()
    if args.report:
        data = json.loads(args.report.read_text())
        print(report(data["runs"], data.get("quick", False)))
        return
    if args.quick:
        args.epochs, args.users, args.fit_users = min(args.epochs, 2), 100, 100
        args.eval_users = args.users
    rb.logging_quiet()
    runs = {}
    for name in args.datasets.split(","):
        runs[name] = run_dataset(name.strip(), args)
        path = rb.write_results(
            args.out,
            {
                "quick": args.quick,
                "users": args.users,
                "seed": args.seed,
                "train_args": args.train_args,
                "runs": runs,
            },
        )
    print(report(runs, args.quick))
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
