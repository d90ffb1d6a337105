"""Benchmark `graphrec recommend` on a shared dataset (default: slashdot0902, the largest
directed one).

Measures, against the local bench server (GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT; start it
with `graphrec neo4j start`):

* warm latency per user (one process, Recommender reused): p50 / p95 / mean
* a fresh `graphrec recommend --user U --json` process (CLI start included): median
* the reference "complex logic": pure-Python cosine of each of the user's relation vectors
  against every relation vector in the graph (5 relations timed, one after each fifth of the
  warm users, times the users' mean follow count), and the same brute force in numpy, vs.
  ours: the ratio
* side by side, alternating blocks of users in one process: warm latency and the process's
  CPU per request as the ranker chose the pools, with pool 1 forced on, and with BLAS on
  every core (what `Recommender` prevents: docs/recommend.md, "CPU")
* batch mode (`recommend --users FILE --out CSV`) users/s with 1 and 2 workers
* eight concurrent callers (threads sharing one driver): errors and calls/s

The dataset is loaded (`graphrec load`) and a model trained (`graphrec train`, with hold-out)
and embedded (`graphrec embed`) when not already there. Results go to
bench/results/recommend.json and a markdown table on stdout.

    .venv/bin/python bench/recommend.py [--dataset slashdot0902] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("GRAPHREC_DATASETS", ROOT.parent / "shared" / "datasets"))
RESULTS = Path(os.environ.get("GRAPHREC_BENCH_RESULTS", ROOT / "bench" / "results"))
GRAPHREC = [sys.executable, "-m", "graphrec"]


# --------------------------------------------------------------------------- shared helpers
# (bench/pipeline.py imports these)


def dataset_path(name: str) -> Path:
    path = DATASETS / f"{name}.edges.gz"
    if not path.exists():
        raise SystemExit(f"no dataset {path}")
    return path


def cli(*args: str, quiet: bool = False) -> dict | list:
    """Run `graphrec ARGS --json` and return its JSON (progress goes to our stderr)."""
    result = subprocess.run(
        [*GRAPHREC, *args, "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"graphrec {' '.join(args)} failed (exit {result.returncode})")
    return json.loads(result.stdout)


def ensure_loaded(name: str) -> dict:
    """The dataset in the bench server's graph (reset + load when another one is there)."""
    from graphrec.io import clean, read_follows

    follows = clean(read_follows(dataset_path(name)))
    want = {"users": int(follows.users().size), "follows": len(follows)}
    have = cli("stats", quiet=True)
    if have.get("users") == want["users"] and have.get("follows") == want["follows"]:
        return {"dataset": name, **want, "load": "reused"}
    from graphrec import store

    driver = open_driver()
    try:  # small batches: a FOLLOWS-heavy graph with embeddings overflows big delete batches
        store.reset_graph(driver, batch_size=500)
    finally:
        driver.close()
    loaded = cli("load", str(dataset_path(name)), "--silent")
    return {"dataset": name, **want, "load": loaded}


def open_driver():
    from graphrec.settings import resolve_settings
    from graphrec.store import open_driver as _open

    return _open(resolve_settings())


def ensure_model(
    name: str,
    epochs: int,
    model_root: Path,
    fit_users: int,
    train_args: list[str] | tuple[str, ...] = (),
    eval_users: int = 500,
) -> Path:
    """A hold-out model for the dataset, its embeddings in the graph, and a fitted ranker."""
    from graphrec.embed import embedding_status
    from graphrec.model.scorer import NumpyScorer
    from graphrec.recommend.rank import Ranker

    model_dir = model_root / name
    if not (model_dir / "weights.npz").exists():
        cli(
            "train",
            "--model-dir",
            str(model_dir),
            "--epochs",
            str(epochs),
            "--eval-users",
            str(eval_users),
            "--ranker-users",
            str(fit_users),
            "--silent",
            *train_args,
        )
    scorer = NumpyScorer.load(model_dir)
    driver = open_driver()
    try:
        status = embedding_status(driver, scorer)["status"]
    finally:
        driver.close()
    if status != "fresh":
        cli("embed", "--model-dir", str(model_dir), "--silent")
    ranker = Ranker.load(model_dir)
    if ranker is None or ranker.model_version != scorer.version:
        cli("fit-ranker", "--model-dir", str(model_dir), "--users", str(fit_users), "--silent")
    return model_dir


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def write_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")
    return path


def markdown(rows: list[dict], columns: list[str]) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 10000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- measurements


def sample_users(driver, n: int, seed: int) -> list[int]:
    """Users with at least one follow, seeded."""
    from graphrec import store

    rows = store.read(driver, "sample_followers", None, min_follows=1)
    uids = sorted(int(r["uid"]) for r in rows)
    return random.Random(seed).sample(uids, min(n, len(uids)))


def warm_latency(
    recommender,
    users: list[int],
    k: int,
    warmup: list[int],
    reference: ReferenceComplexLogic | None = None,
    scans: int = 0,
) -> dict:
    """Latency per user once the server is warm: Neo4j compiles and caches its query code
    paths and pages in the vector index over its first few hundred requests (a server that
    was just restarted or just loaded a graph answers 1.5-2x slower for a while), so other
    users are recommended for first and are not timed. With ``reference``, ``scans``
    reference scans run after the timed users: each pulls every relation vector through the
    driver, and Neo4j answers slower for a while after one, which is not what a warm server
    in use sees."""
    for uid in warmup:
        recommender.recommend(uid, k)
    times = []
    for uid in users:
        start = time.perf_counter()
        recommender.recommend(uid, k)
        times.append((time.perf_counter() - start) * 1000)
    if reference is not None:
        for c in range(scans):
            reference.scan(c)
    return {
        "users": len(users),
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "max_ms": round(max(times), 2),
    }


def side_by_side(variants: dict, users: list[int], k: int, block: int = 25) -> dict:
    """Warm latency and the process's CPU per request of each variant, measured in turns of
    ``block`` users on the same users in the same order, so that what changes on the machine
    meanwhile falls on all of them. A variant is (recommender, BLAS threads or None)."""
    from threadpoolctl import threadpool_limits

    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu = dict.fromkeys(variants, 0.0)
    for start in range(0, len(users), block):
        chunk = users[start : start + block]
        for name, (recommender, blas) in variants.items():
            limits = threadpool_limits(blas, "blas") if blas else None
            began = time.process_time()
            for uid in chunk:
                t = time.perf_counter()
                recommender.recommend(uid, k)
                times[name].append((time.perf_counter() - t) * 1000)
            cpu[name] += time.process_time() - began
            if limits is not None:
                limits.restore_original_limits()
                time.sleep(0.5)  # the extra BLAS threads spin a while before they sleep
    return {
        name: {
            "users": len(t),
            "p50_ms": round(percentile(t, 50), 2),
            "p95_ms": round(percentile(t, 95), 2),
            "cpu_ms_per_request": round(cpu[name] / max(len(t), 1) * 1000, 2),
        }
        for name, t in times.items()
    }


def fresh_process(users: list[int], model_dir: Path, runs: int) -> dict:
    times = []
    for uid in users[:runs]:
        start = time.perf_counter()
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "graphrec"),
                "recommend",
                "--user",
                str(uid),
                "--model-dir",
                str(model_dir),
                "--json",
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
    return {
        "runs": len(times),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
    }


class ReferenceComplexLogic:
    """The reference's brute force: cosine of one relation vector against every relation
    vector in the graph, in pure Python (lists), then per user = that x the user's follows.
    Prepared once; ``scan`` times one relation, so the scans can be interleaved with our own
    timings and both see the same machine (this VM's speed drifts by 10-20% over minutes)."""

    def __init__(self, driver, scorer) -> None:
        import numpy as np

        from graphrec.graph import fetch_follows

        src, dst = fetch_follows(driver, None, silent=True)
        u, i = scorer.index_of(src), scorer.index_of(dst)
        ok = (u >= 0) & (i >= 0)
        self.src = src[ok]
        self.vectors = scorer.index_embedding(u[ok], i[ok]).astype(np.float64)
        self.as_lists = self.vectors.tolist()
        self.norms = [math.sqrt(sum(x * x for x in v)) or 1.0 for v in self.as_lists]
        self.seconds: list[float] = []
        gc.freeze()  # 870k lists must not slow down the collections during our own timings

    def scan(self, n: int) -> None:
        q = self.as_lists[n % len(self.as_lists)]
        qn = math.sqrt(sum(x * x for x in q)) or 1.0
        start = time.perf_counter()
        sims = [
            sum(a * b for a, b in zip(q, v, strict=True)) / (qn * m)
            for v, m in zip(self.as_lists, self.norms, strict=True)
        ]
        sorted(range(len(sims)), key=sims.__getitem__, reverse=True)[:200]
        self.seconds.append(time.perf_counter() - start)

    def summary(self, users: list[int], numpy_users: int) -> dict:
        import numpy as np

        unit = self.vectors / np.linalg.norm(self.vectors, axis=1, keepdims=True).clip(1e-12)
        numpy_times = []  # numpy brute force for whole users (all their follows at once)
        for uid in users[:numpy_users]:
            mine = np.flatnonzero(self.src == uid)
            start = time.perf_counter()
            sims = unit[mine] @ unit.T
            np.argpartition(-sims, min(200, sims.shape[1] - 1), axis=1)[:, :200]
            numpy_times.append(time.perf_counter() - start)
        follows_per_user = [int((self.src == uid).sum()) for uid in users]
        python_relation_s = statistics.median(self.seconds)
        return {
            "relations_in_graph": int(len(self.as_lists)),
            "python_seconds_per_relation": round(python_relation_s, 3),
            "python_relation_scans": [round(t, 3) for t in self.seconds],
            "mean_follows_per_user": round(statistics.fmean(follows_per_user), 1),
            "python_seconds_per_user": round(
                python_relation_s * statistics.fmean(follows_per_user), 2
            ),
            "numpy_ms_per_user": round(statistics.fmean(numpy_times) * 1000, 1),
        }


def batch_rate(model_dir: Path, users: list[int], workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        users_file = Path(tmp) / "users.txt"
        users_file.write_text("\n".join(str(u) for u in users) + "\n")
        start = time.perf_counter()
        summary = cli(
            "recommend",
            "--users",
            str(users_file),
            "--out",
            str(Path(tmp) / "r.csv"),
            "--model-dir",
            str(model_dir),
            "--workers",
            str(workers),
            "--silent",
        )
        wall = time.perf_counter() - start
    return {
        "workers": workers,
        "users": summary["users"],
        "users_per_second": summary["users_per_second"],
        "wall_users_per_second": round(len(users) / wall, 1),
    }


def concurrent_callers(recommender, users: list[int], k: int, callers: int) -> dict:
    errors: list[str] = []

    def call(uid: int) -> None:
        try:
            recommender.recommend(uid, k)
        except Exception as e:  # noqa: BLE001 - counting every failure is the point
            errors.append(f"{type(e).__name__}: {e}")

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=callers) as pool:
        list(pool.map(call, users))
    seconds = time.perf_counter() - start
    return {
        "callers": callers,
        "calls": len(users),
        "errors": len(errors),
        "calls_per_second": round(len(users) / seconds, 1),
        "first_error": errors[0] if errors else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="slashdot0902")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--model-root", type=Path, default=ROOT / "models" / "bench")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quick = args.quick
    sizes = {
        "warm": 50 if quick else 500,
        "warmup": 10 if quick else 300,
        "fresh": 3 if quick else 10,
        "relations": 1 if quick else 5,
        "numpy_users": 5 if quick else 50,
        "batch": 100 if quick else 1000,
        "concurrent": 40 if quick else 400,
        "epochs": 2 if quick else args.epochs,
        "fit_users": 100 if quick else 1000,
    }
    logging_quiet()
    info = ensure_loaded(args.dataset)
    model_dir = ensure_model(args.dataset, sizes["epochs"], args.model_root, sizes["fit_users"])

    from graphrec.model.scorer import NumpyScorer
    from graphrec.recommend.pools import PoolConfig
    from graphrec.recommend.service import Recommender

    driver = open_driver()
    try:
        users = sample_users(
            driver,
            max(sizes["warm"] + sizes["warmup"], sizes["batch"], sizes["concurrent"]),
            args.seed,
        )
        recommender = Recommender(driver, None, model_dir)
        ref = ReferenceComplexLogic(driver, NumpyScorer.load(model_dir))
        warmup = users[sizes["warm"] : sizes["warm"] + sizes["warmup"]]
        warm = warm_latency(
            recommender, users[: sizes["warm"]], args.k, warmup, ref, sizes["relations"]
        )
        reference = ref.summary(users[: sizes["warm"]], sizes["numpy_users"])
        del ref
        forced = Recommender(driver, None, model_dir, PoolConfig(similar_relations=True))
        variants = {
            "pools as chosen": (recommender, None),
            "pool 1 forced on": (forced, None),
            "BLAS on every core": (recommender, os.cpu_count()),
        }
        compared = side_by_side(variants, users[: sizes["warm"]], args.k)
        model_strategy = warm_latency_model(recommender, users[: sizes["warm"] // 2], args.k)
        concurrent = concurrent_callers(recommender, users[: sizes["concurrent"]], args.k, 8)
    finally:
        driver.close()
    fresh = fresh_process(users, model_dir, sizes["fresh"])
    batch = [batch_rate(model_dir, users[: sizes["batch"]], w) for w in (1, 2)]
    ours_s = warm["mean_ms"] / 1000
    result = {
        "dataset": info,
        "quick": quick,
        "k": args.k,
        "ranker": recommender.ranker is not None,
        "warm": warm,
        "pool_1_runs": recommender.config.similar_relations,
        "side_by_side": compared,
        "warm_strategy_model": model_strategy,
        "fresh_process": fresh,
        "reference_complex_logic": reference,
        "speedup_vs_python_reference": round(reference["python_seconds_per_user"] / ours_s),
        "speedup_vs_numpy_brute_force": round(reference["numpy_ms_per_user"] / 1000 / ours_s, 2),
        "batch": batch,
        "concurrent": concurrent,
        "machine": {"cpus": os.cpu_count()},
    }
    path = write_results("recommend", result)
    rows = [
        {"measure": "warm p50 per user (ms)", "value": warm["p50_ms"], "target": "<= 50"},
        {"measure": "warm p95 per user (ms)", "value": warm["p95_ms"], "target": "<= 200"},
        {
            "measure": "fresh `graphrec recommend` (s, median)",
            "value": fresh["median_s"],
            "target": "<= 1.5",
        },
        {
            "measure": "reference complex logic, Python (s per user)",
            "value": reference["python_seconds_per_user"],
            "target": "",
        },
        {
            "measure": "speed-up vs reference",
            "value": result["speedup_vs_python_reference"],
            "target": ">= 1000x",
        },
        {
            "measure": "numpy brute force (ms per user)",
            "value": reference["numpy_ms_per_user"],
            "target": "",
        },
        *(
            {
                "measure": f"side by side, {name}: p50 / p95 ms, CPU ms per request",
                "value": f"{v['p50_ms']} / {v['p95_ms']}, {v['cpu_ms_per_request']}",
                "target": "",
            }
            for name, v in compared.items()
        ),
        {
            "measure": "--strategy model warm p50 (ms)",
            "value": model_strategy["p50_ms"],
            "target": "",
        },
        *(
            {
                "measure": f"batch users/s, {b['workers']} worker(s)",
                "value": b["users_per_second"],
                "target": "",
            }
            for b in batch
        ),
        {
            "measure": "8 concurrent callers: errors / calls",
            "value": f"{concurrent['errors']} / {concurrent['calls']}",
            "target": "0 errors",
        },
        {
            "measure": "8 concurrent callers: calls/s",
            "value": concurrent["calls_per_second"],
            "target": "",
        },
    ]
    print(
        f"## recommend on {args.dataset} ({info['users']:,} users, {info['follows']:,} "
        f"follows){' — quick' if quick else ''}\n"
    )
    print(markdown(rows, ["measure", "value", "target"]))
    print(f"\nresults: {path}")


def warm_latency_model(recommender, users: list[int], k: int) -> dict:
    times = []
    for uid in users:
        start = time.perf_counter()
        recommender.recommend(uid, k, strategy="model")
        times.append((time.perf_counter() - start) * 1000)
    return {
        "users": len(users),
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
    }


def logging_quiet() -> None:
    import logging

    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


if __name__ == "__main__":
    main()
