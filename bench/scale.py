"""How every stage of the default path grows with the graph: generated graphs of 0.1M, 1M,
3M, 10M and 30M follows (fixed seed), each taken through

    generate -> reset -> load (transactional, up to --load-max) -> reset -> load --bulk
    -> stats -> train -> embed -> fit-ranker -> evaluate --pipeline
    -> recommend (fresh process) -> recommend --users FILE (batch) -> warm latency

against the bench server (GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT; start it with
`graphrec neo4j start`). Each stage is one `graphrec ... --json` process; for each the
script records its wall time, the peak RSS of that process (from wait4), Neo4j's resident
and peak memory after it, and the store's size on disk. A stage that fails stops that size
and is recorded with its exit code and last error line; larger sizes are then skipped.

Results go to bench/results/scale.json, a table on stdout with the log-log slope of every
stage's time and memory against the follows, and a log-log plot (scale.png). `train` runs
at the defaults except `--epochs` (the bench default keeps a run within an hour or so; the
time per epoch is what grows with the graph).

    .venv/bin/python bench/scale.py [--sizes 0.1,1,3,10,30] [--epochs 3] [--quick] [--add]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("GRAPHREC_BENCH_RESULTS", ROOT / "bench" / "results"))
GRAPHREC = [sys.executable, "-m", "graphrec"]
AVG_FOLLOWS = 20.0
# users per million follows at AVG_FOLLOWS with the generator's follow-backs (measured)
USERS_PER_MILLION = 54_300
STAGES = (
    "generate",
    "load",
    "load_bulk",
    "stats",
    "train",
    "embed",
    "fit_ranker",
    "evaluate_pipeline",
    "recommend_fresh",
    "recommend_batch",
)


class StageFailed(Exception):
    pass


def run_stage(args: list[str], log: Path) -> tuple[dict, float, float]:
    """(its JSON, wall seconds, peak RSS in MB) of one `graphrec ARGS --json` process.

    The peak is what the command measured of itself and of the processes it ran (``process``
    in its JSON: graphrec/memory.py). wait4's figure is the fallback, for the commands whose
    JSON has none (`reset`, `recommend --user`): it counts this script's own memory at the
    fork, so it is an upper bound."""
    started = time.perf_counter()
    with open(log, "ab") as err, tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([*GRAPHREC, *args, "--json"], cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise StageFailed(f"exit {proc.returncode}: {(tail or [''])[-1][:300]}")
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as e:
        raise StageFailed(f"not JSON on stdout ({e}): {text[:300]!r}") from None
    process = data.get("process") if isinstance(data, dict) else None
    if process:
        peaks = (process.get("peak_rss_mb"), process.get("child_peak_rss_mb"))
        return data, seconds, max(p for p in peaks if p is not None)
    return data, seconds, usage.ru_maxrss / 1024


def neo4j_memory() -> dict:
    """Resident and peak resident memory of the bench server's JVM, in MB."""
    from graphrec.server.process import LocalServer

    pid = LocalServer.from_env().pid()
    if pid is None:
        return {}
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"neo4j_rss_mb": fields.get("VmRSS"), "neo4j_peak_rss_mb": fields.get("VmHWM")}


def store_mb() -> float:
    from graphrec.server.process import LocalServer, disk_usage

    path = LocalServer.from_env().home / "data" / "databases" / "neo4j"
    return round(disk_usage(path) / 2**20, 1)


def one_size(millions: float, args: argparse.Namespace, work: Path, done: list[dict]) -> dict:
    """Every stage at one size; ``done``: the sizes before it, written again with this
    size's stages so far after each stage (a run stopped by hand keeps them)."""
    from graphrec.model.artifacts import remove_model

    users = max(200, round(millions * USERS_PER_MILLION))
    csv = work / f"follows-{millions:g}M.csv"
    model = work / f"model-{millions:g}M"
    log = work / f"scale-{millions:g}M.log"
    row: dict = {"target_millions": millions, "users_generated": users, "stages": {}}

    def stage(name: str, cli_args: list[str]) -> dict:
        print(f"[{millions:g}M] {name} ...", file=sys.stderr, flush=True)
        data, seconds, rss = run_stage(cli_args, log)
        row["stages"][name] = {
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(rss, 1),
            **neo4j_memory(),
            "store_mb": store_mb(),
        }
        write([*done, row], args)
        return data

    try:
        generated = stage(
            "generate",
            ["generate", "--users", str(users), "--seed", str(args.seed), "--out", str(csv)],
        )
        row["follows"] = generated["follows"]
        if millions <= args.load_max:
            stage("reset", ["reset", "--yes"])
            stage("load", ["load", str(csv)])
        stage("reset", ["reset", "--yes"])
        stage("load_bulk", ["load", str(csv), "--bulk"])
        stats = stage("stats", ["stats"])
        row["users"] = stats.get("users")
        trained = stage(
            "train",
            [
                "train",
                "--model-dir",
                str(model),
                "--epochs",
                str(args.epochs),
                "--eval-users",
                str(args.eval_users),
                "--no-write-embeddings",
                "--no-fit-ranker",
                *args.train_args,
            ],
        )
        row["train"] = {
            k: trained.get(k)
            for k in (
                "examples_per_second",
                "fit_seconds",
                "seconds",
                "epochs",
                "search_epochs",
                "latent_dim",
                "evaluate_seconds",
            )
        }
        row["train"]["process"] = trained.get("process")
        row["train"]["mf_seconds"] = (trained.get("mf") or {}).get("seconds")
        row["train"]["evaluate_methods"] = {  # where the end-of-train evaluation spends
            name: {k: f.get(k) for k in ("tune_seconds", "fit_seconds", "seconds")}
            for name, f in (trained.get("metrics") or {}).items()
        }
        embedded = stage("embed", ["embed", "--model-dir", str(model)])
        row["embed"] = {k: embedded.get(k) for k in ("written", "write_seconds", "index_seconds")}
        stage(
            "fit_ranker",
            ["fit-ranker", "--model-dir", str(model), "--users", str(args.ranker_users)],
        )
        evaluated = stage(
            "evaluate_pipeline",
            ["evaluate", "--model-dir", str(model), "--pipeline", "--users", str(args.eval_users)],
        )
        row["quality"] = {
            m: evaluated.get(m, {}).get("hr@10") for m in ("pipeline", "neumf", "follow_back")
        }
        uids = sample_uids(csv, args.batch_users, args.seed)
        fresh = []
        for uid in uids[:3]:
            stage("recommend_fresh", ["recommend", "--user", str(uid), "--model-dir", str(model)])
            fresh.append(row["stages"]["recommend_fresh"]["seconds"])
        row["stages"]["recommend_fresh"]["seconds"] = round(statistics.median(fresh), 3)
        users_file = work / "users.txt"
        users_file.write_text("\n".join(map(str, uids)) + "\n")
        batch = stage(
            "recommend_batch",
            [
                "recommend",
                "--users",
                str(users_file),
                "--out",
                str(work / "recs.csv"),
                "--model-dir",
                str(model),
            ],
        )
        row["batch_users_per_second"] = batch.get("users_per_second")
        print(f"[{millions:g}M] recommend_warm ...", file=sys.stderr, flush=True)
        warm = subprocess.run(
            [sys.executable, __file__, "--warm-latency", str(model), str(users_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if warm.returncode != 0:
            raise StageFailed(f"warm latency: {warm.stderr.strip()[-300:]}")
        row["recommend_warm"] = json.loads(warm.stdout)
    except StageFailed as e:
        row["failed"] = str(e)
    finally:
        csv.unlink(missing_ok=True)
        if not args.keep_last or millions != args.last:
            remove_model(model)
    return row


def warm_latency(model: Path, users_file: Path, k: int = 20) -> dict:
    """Warm p50/p95 of one Recommender in this process: the first half of the users of
    ``users_file`` are recommended for untimed (Neo4j compiles and pages in), the second
    half timed."""
    sys.path.insert(0, str(ROOT / "bench"))
    from recommend import logging_quiet, open_driver, percentile

    from graphrec.recommend.service import Recommender

    logging_quiet()
    uids = [int(u) for u in users_file.read_text().split()]
    driver = open_driver()
    try:
        recommender = Recommender(driver, None, model)
        half = len(uids) // 2
        for uid in uids[:half]:
            recommender.recommend(uid, k)
        times = []
        for uid in uids[half:]:
            started = time.perf_counter()
            recommender.recommend(uid, k)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        driver.close()
    return {
        "users": len(times),
        "k": k,
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
    }


def sample_uids(csv: Path, n: int, seed: int) -> list[int]:
    import numpy as np
    import pandas as pd

    uids = pd.read_csv(csv, usecols=[0]).iloc[:, 0].unique()
    rng = np.random.default_rng(seed)
    return sorted(int(u) for u in rng.choice(uids, min(n, uids.size), replace=False))


def slopes(rows: list[dict]) -> dict:
    """Least-squares slope of log(seconds) and log(peak RSS) on log(follows), per stage,
    over the sizes that completed it (at least two)."""
    out: dict = {}
    for name in STAGES:
        points = [
            (r["follows"], r["stages"][name])
            for r in rows
            if r.get("follows") and name in r["stages"]
        ]
        if len(points) < 2:
            continue
        x = [math.log(f) for f, _ in points]
        out[name] = {
            "time": round(_slope(x, [math.log(max(s["seconds"], 1e-3)) for _, s in points]), 2),
            "memory": round(_slope(x, [math.log(s["peak_rss_mb"]) for _, s in points]), 2),
        }
    return out


def _slope(x: list[float], y: list[float]) -> float:
    mx, my = statistics.fmean(x), statistics.fmean(y)
    var = sum((a - mx) ** 2 for a in x)
    return sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / var if var else 0.0


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(13, 5))
    for name in STAGES:
        pts = [
            (r["follows"], r["stages"][name])
            for r in rows
            if name in r["stages"] and "follows" in r
        ]
        if not pts:
            continue
        xs = [f for f, _ in pts]
        ax_t.plot(xs, [s["seconds"] for _, s in pts], marker="o", label=name)
        ax_m.plot(xs, [s["peak_rss_mb"] for _, s in pts], marker="o", label=name)
    for ax, label in ((ax_t, "wall seconds"), (ax_m, "peak RSS of the graphrec process (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("follows")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.suptitle("graphrec stages against graph size (bench/scale.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(rows: list[dict], fitted: dict) -> str:
    lines = ["| stage | " + " | ".join(f"{r.get('follows', 0):,}" for r in rows) + " | slope |"]
    lines.append("|---|" + "---:|" * (len(rows) + 1))
    for name in STAGES:
        if not any(name in r.get("stages", {}) for r in rows):
            continue
        cells = []
        for r in rows:
            s = r.get("stages", {}).get(name)
            cells.append(f"{s['seconds']:,.1f} s / {s['peak_rss_mb']:,.0f} MB" if s else "")
        f = fitted.get(name)
        slope = f"{f['time']} / {f['memory']}" if f else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {slope} |")
    for r in rows:
        if "failed" in r:
            lines.append(f"\n{r['target_millions']:g}M stopped: {r['failed']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0.1,1,3,10,30", help="millions of follows")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--eval-users", type=int, default=1000)
    parser.add_argument("--ranker-users", type=int, default=1000)
    parser.add_argument("--batch-users", type=int, default=500)
    parser.add_argument("--load-max", type=float, default=1.0, help="largest transactional load")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="scale")
    parser.add_argument("--quick", action="store_true", help="0.02M follows, small settings")
    parser.add_argument(
        "--keep-last", action="store_true", help="keep the largest size's model (in --work)"
    )
    parser.add_argument("--work", type=Path, help="working folder [default: a temporary one]")
    parser.add_argument(
        "--add",
        action="store_true",
        help="keep the other sizes already in the results file (a size at a time)",
    )
    parser.add_argument("--warm-latency", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_latency:  # the recommend_warm stage, in a process of its own
        print(json.dumps(warm_latency(*args.warm_latency)))
        return
    args.train_args = []
    if args.quick:  # a smoke run (CI): every stage once, with training cut to the bone
        args.sizes, args.epochs, args.eval_users = "0.02", 1, 100
        args.ranker_users, args.batch_users = 100, 20
        args.train_args = ["--latent-dim", "8", "--no-two-tower", "--no-multi-interest"]
    sizes = [float(s) for s in args.sizes.split(",")]
    args.last = sizes[-1]
    rows = []
    previous = RESULTS / f"{args.out}.json"
    if args.add and previous.exists():
        rows = [
            r
            for r in json.loads(previous.read_text())["sizes"]
            if r["target_millions"] not in sizes
        ]
    with tempfile.TemporaryDirectory(prefix="graphrec-scale-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for millions in sizes:
            row = one_size(millions, args, work, rows)
            rows.append(row)
            rows.sort(key=lambda r: r["target_millions"])
            write(rows, args)  # after every size: a long run stopped later keeps the rest
            if "failed" in row:
                print(f"{millions:g}M stopped: {row['failed']}", file=sys.stderr)
                break
    print(report(rows, slopes(rows)))
    print(f"\nresults: {RESULTS / (args.out + '.json')}, plot: {RESULTS / (args.out + '.png')}")


def write(rows: list[dict], args: argparse.Namespace) -> None:
    fitted = slopes(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    data = {"args": settings, "machine": machine(), "sizes": rows, "slopes": fitted}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(data, indent=2) + "\n")
    plot(rows, RESULTS / f"{args.out}.png")


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


if __name__ == "__main__":
    main()
