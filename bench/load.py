"""Load throughput (follows/s) of ``graphrec load``: online and ``--bulk`` paths.

Each run empties the database (``graphrec reset --yes``, not timed), then times a fresh
``graphrec load DATASET --json --silent [--bulk]`` process, wall clock, CLI start included.
follows/s = distinct non-self follows written / wall seconds; the median of --runs is reported.
CPU seconds of the CLI process (with neo4j-admin under --bulk) and, for the online path, of
the Neo4j server are recorded too: on a busy machine they show what the load itself costs.

The server is the one ``graphrec neo4j start`` runs for the current environment
(GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT / GRAPHREC_HTTP_PORT); it is started if it is not
running. --bulk stops and restarts it, so its time includes a server restart.

    .venv/bin/python bench/load.py                      # slashdot0902, 3 runs per path
    .venv/bin/python bench/load.py --dataset wiki-vote --runs 5
    .venv/bin/python bench/load.py --quick              # smoke run: wiki-vote, 1 run

Writes bench/results/load.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("GRAPHREC_DATASETS", ROOT.parent / "shared" / "datasets"))
RESULTS = ROOT / "bench" / "results" / "load.json"
GRAPHREC = [sys.executable, "-m", "graphrec"]


def _graphrec(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*GRAPHREC, *args], cwd=ROOT, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"graphrec {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done


def _ensure_server() -> None:
    if _graphrec("neo4j", "status", "--json", check=False).returncode != 0:
        _graphrec("neo4j", "start")


def _server_pid() -> int | None:
    done = _graphrec("neo4j", "status", "--json", check=False)
    return json.loads(done.stdout).get("pid") if done.returncode == 0 else None


def _cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (the Neo4j server), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _one_run(dataset: Path, mode: str, batch_size: int, workers: int) -> dict:
    _graphrec("reset", "--yes")
    args = ["load", str(dataset), "--json", "--silent"]
    args += (
        ["--bulk"]
        if mode == "bulk"
        else ["--batch-size", str(batch_size), "--workers", str(workers)]
    )
    pid = _server_pid()
    server_before, client_before = _cpu_seconds(pid), _children_cpu()
    start = time.perf_counter()
    done = _graphrec(*args)
    wall = time.perf_counter() - start
    client_cpu = _children_cpu() - client_before  # the CLI (and neo4j-admin under --bulk)
    server_after = _cpu_seconds(pid)
    server_cpu = None
    if mode == "online" and server_before is not None and server_after is not None:
        server_cpu = round(server_after - server_before, 2)
    report = json.loads(done.stdout)
    return {
        "wall_seconds": round(wall, 3),
        "client_cpu_seconds": round(client_cpu, 2),
        "server_cpu_seconds": server_cpu,
        "loader_seconds": report["seconds"],
        "follows": report["follows"],
        "users": report["users"],
        "skipped": report["skipped"],
        "follows_created": report["follows_created"],
        "follows_per_s": round(report["follows"] / wall),
        **({"bulk_phases": report["phases"]} if "phases" in report else {}),
    }


def _machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "commit": commit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", help="name of a *.edges.gz in the shared datasets folder")
    parser.add_argument("--runs", type=int, help="runs per path (median reported)")
    parser.add_argument("--paths", default="online,bulk", help="comma list: online,bulk")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="wiki-vote, 1 run: a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    name = args.dataset or ("wiki-vote" if args.quick else "slashdot0902")
    runs = args.runs or (1 if args.quick else 3)
    dataset = DATASETS / f"{name}.edges.gz"
    if not dataset.exists():
        raise SystemExit(f"no dataset {dataset}")
    _ensure_server()
    results = {}
    for mode in [m.strip() for m in args.paths.split(",") if m.strip()]:
        if mode not in ("online", "bulk"):
            raise SystemExit(f"unknown path {mode!r}: use online and/or bulk")
        samples = []
        for i in range(runs):
            sample = _one_run(dataset, mode, args.batch_size, args.workers)
            print(
                f"{mode} run {i + 1}/{runs}: {sample['follows_per_s']:,} follows/s "
                f"({sample['wall_seconds']:.1f}s)",
                file=sys.stderr,
            )
            samples.append(sample)
        walls = [s["wall_seconds"] for s in samples]
        follows = samples[0]["follows"]
        median = statistics.median(walls)
        results[mode] = {
            "median_wall_seconds": round(median, 3),
            "median_follows_per_s": round(follows / median),
            "min_wall_seconds": min(walls),
            "runs": samples,
        }
    first = next(iter(results.values()))["runs"][0]
    out = {
        "benchmark": "load",
        "dataset": name,
        "file": str(dataset),
        "follows": first["follows"],
        "users": first["users"],
        "skipped_rows": first["skipped"],
        "runs_per_path": runs,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "machine": _machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "paths": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"\nLoad throughput, {name} ({first['follows']:,} follows, {first['users']:,} users; "
        f"{first['skipped']:,} rows skipped), median of {runs}, CLI start included:\n"
    )
    print("| path | median wall s | median follows/s | runs (wall s) | CPU s: client / server |")
    print("|---|---:|---:|---|---|")
    for mode, r in results.items():
        walls = ", ".join(f"{s['wall_seconds']:.1f}" for s in r["runs"])
        cpu = "; ".join(
            f"{s['client_cpu_seconds']} / {s['server_cpu_seconds'] or '-'}" for s in r["runs"]
        )
        print(
            f"| {mode} | {r['median_wall_seconds']:.2f} | {r['median_follows_per_s']:,} | "
            f"{walls} | {cpu} |"
        )
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
