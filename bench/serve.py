"""`graphrec serve` under a real HTTP load generator (wrk), against the CLI's batch mode.

On one shared dataset in the bench server (default slashdot0902, with its bench model):
1. the CLI's batch mode (`graphrec recommend --users FILE --out CSV`) on a sample of users:
   users/s;
2. `graphrec serve`, then wrk for --seconds with --connections over a few thousand distinct
   users: p50 / p99 latency, requests/s, errors;
3. live follow writes (POST /follows, relationship + embedding + index), one at a time: p50;
4. 4 writers posting follows while wrk reads with 8 connections, then the follows counted
   against what was sent (none lost, none duplicated); every follow sent is removed again.
Targets (issue #15): p50 <= 15 ms, p99 <= 100 ms, zero errors, throughput >= 2x batch mode;
live follow p50 <= 20 ms. Results: bench/results/serve.json and a markdown table.

    .venv/bin/python bench/serve.py [--dataset slashdot0902] [--seconds 60] [--workers 1]
        [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as rb  # noqa: E402  (bench/recommend.py: shared helpers)

LUA = Path(__file__).resolve().parent / "lua" / "recommendations.lua"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _users(n: int, seed: int) -> tuple[list[int], set[tuple[int, int]]]:
    """``n`` distinct users who follow someone, and every follow of the graph."""
    import numpy as np

    from graphrec.graph import fetch_follows

    driver = rb.open_driver()
    try:
        src, dst = fetch_follows(driver)
    finally:
        driver.close()
    users = np.unique(src)
    rng = np.random.default_rng(seed)
    picked = rng.choice(users, size=min(n, users.size), replace=False)
    return [int(u) for u in picked], set(zip(src.tolist(), dst.tolist(), strict=True))


def _new_pairs(users: list[int], existing: set[tuple[int, int]], n: int, seed: int) -> list:
    """``n`` follows between known users that the graph does not have."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: list[tuple[int, int]] = []
    seen = set(existing)
    while len(out) < n:
        u, f = (int(x) for x in rng.choice(users, 2, replace=False))
        if (u, f) not in seen:
            seen.add((u, f))
            out.append((u, f))
    return out


class Api:
    def __init__(self, port: int) -> None:
        self.port = port
        self.key = os.environ.get("GRAPHREC_API_KEY")

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["X-API-Key"] = self.key
        try:
            conn.request(method, path, None if body is None else json.dumps(body), headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()


def _start_server(model_dir: Path, port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [*rb.GRAPHREC, "serve", "--port", str(port), "--model-dir", str(model_dir)]
        + ["--workers", str(workers)],
        cwd=rb.ROOT,
        stderr=subprocess.DEVNULL,
    )
    api, deadline = Api(port), time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise SystemExit("graphrec serve exited before it answered")
        try:
            if api.call("GET", "/healthz")[0] == 200:
                return proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("graphrec serve never answered /healthz")
        time.sleep(0.2)


def _wrk(port: int, uids_file: Path, seconds: int, connections: int) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: install it (apt-get install wrk); scripts/bootstrap tries")
    result = subprocess.run(
        [wrk, f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA)]
        + ["--timeout", "10s", f"http://127.0.0.1:{port}"],
        env={**os.environ, "UIDS_FILE": str(uids_file)},
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["requests_per_second"] = round(figures["requests"] / figures["seconds"], 1)
    figures["errors"] = sum(
        figures[k] for k in ("non_2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return figures


def _live_follows(api: Api, pairs: list) -> dict:
    """One POST /follows at a time: the write's latency, relationship + embedding + index."""
    seconds, embedded = [], 0
    for uid, fid in pairs:
        started = time.perf_counter()
        status, body = api.call("POST", "/follows", {"uid": uid, "fid": fid})
        seconds.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"POST /follows failed: {status} {body}")
        embedded += body[0]["embedding"] == "written"  # type: ignore[index]
    return {
        "writes": len(pairs),
        "p50_ms": round(1000 * statistics.median(seconds), 2),
        "p95_ms": round(1000 * statistics.quantiles(seconds, n=20)[-1], 2),
        "embedded": embedded,
    }


def _writers_and_readers(
    api: Api, uids_file: Path, pairs: list, seconds: int, connections: int
) -> dict:
    """4 threads post ``pairs`` (each pair sent twice, by two writers) while wrk reads."""
    errors: list = []
    sent = [0]
    lock = threading.Lock()

    def write(part: list) -> None:
        for start in range(0, len(part), 5):
            status, body = api.call(
                "POST", "/follows", [{"uid": u, "fid": f} for u, f in part[start : start + 5]]
            )
            with lock:
                sent[0] += len(part[start : start + 5])
                if status != 200:
                    errors.append((status, body))

    half = len(pairs) // 2
    parts = [pairs[:half], pairs[half:], pairs[half:], pairs[:half]]  # every pair twice
    threads = [threading.Thread(target=write, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    reads = _wrk(api.port, uids_file, seconds, connections)
    for t in threads:
        t.join()
    return {
        "writers": 4,
        "follows_sent": sent[0],
        "distinct_follows": len(pairs),
        "write_errors": len(errors),
        "reads": reads,
    }


def _count(pairs: list) -> tuple[int, int]:
    """(how many of ``pairs`` the graph has, how many FOLLOWS relationships they make)."""
    driver = rb.open_driver()
    try:
        records, _, _ = driver.execute_query(
            "UNWIND $pairs AS p MATCH (:User {uid: p[0]})-[r:FOLLOWS]->(:User {uid: p[1]}) "
            "RETURN count(DISTINCT p) AS pairs, count(r) AS rels",
            pairs=[list(p) for p in pairs],
        )
    finally:
        driver.close()
    return int(records[0]["pairs"]), int(records[0]["rels"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="slashdot0902")
    parser.add_argument("--model-root", type=Path, default=rb.ROOT / "models" / "bench")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="graphrec serve --workers")
    parser.add_argument("--users", type=int, default=3000, help="distinct users wrk asks for")
    parser.add_argument("--batch-users", type=int, default=500, help="users of the CLI batch")
    parser.add_argument("--writes", type=int, default=300, help="live follows timed one by one")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--out", default="serve", help="results name in bench/results/")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.users, args.batch_users, args.writes = 3, 200, 50, 20
        args.epochs = min(args.epochs, 2)
    rb.logging_quiet()
    info = rb.ensure_loaded(args.dataset)
    model_dir = rb.ensure_model(args.dataset, args.epochs, args.model_root, 1000)
    users, existing = _users(args.users, args.seed)
    work = Path(tempfile.mkdtemp(prefix="graphrec-serve-bench-"))
    uids_file = work / "uids.txt"
    uids_file.write_text("".join(f"{u}\n" for u in users))
    batch_file = work / "batch.txt"
    batch_file.write_text("".join(f"{u}\n" for u in users[: args.batch_users]))
    batch = rb.cli(
        "recommend",
        "--users",
        str(batch_file),
        "--out",
        str(work / "recs.csv"),
        "--model-dir",
        str(model_dir),
        "--workers",
        "2",
        "--silent",
    )
    port = _free_port()
    proc = _start_server(model_dir, port, args.workers)
    api = Api(port)
    live_pairs = _new_pairs(users, existing, args.writes, args.seed)
    mixed_pairs = _new_pairs(users, existing | set(live_pairs), 20 * args.writes, args.seed + 1)
    try:
        _wrk(port, uids_file, min(args.seconds, 5), args.connections)  # warm-up
        reads = _wrk(port, uids_file, args.seconds, args.connections)
        live = _live_follows(api, live_pairs)
        mixed = _writers_and_readers(api, uids_file, mixed_pairs, args.seconds, args.connections)
        have, rels = _count(mixed_pairs)
        mixed.update(
            {
                "follows_found": have,
                "relationships": rels,
                "none_lost": have == len(mixed_pairs),
                "none_duplicated": rels == have,
            }
        )
    finally:
        for start in range(0, len(live_pairs) + len(mixed_pairs), 500):
            chunk = (live_pairs + mixed_pairs)[start : start + 500]
            api.call("DELETE", "/follows", [{"uid": u, "fid": f} for u, f in chunk])
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    ratio = reads["requests_per_second"] / max(batch["users_per_second"], 1e-9)
    results = {
        "dataset": info,
        "quick": args.quick,
        "connections": args.connections,
        "workers": args.workers,
        "seconds": args.seconds,
        "distinct_users": len(users),
        "cli_batch": {k: batch[k] for k in ("users", "seconds", "users_per_second")},
        "reads": reads,
        "throughput_vs_batch": round(ratio, 2),
        "live_follow": live,
        "writers_and_readers": mixed,
    }
    path = rb.write_results(args.out, results)
    print(
        rb.markdown(
            [
                {
                    "figure": "p50 / p99 (ms)",
                    "value": f"{reads['p50_us'] / 1000:.2f} / {reads['p99_us'] / 1000:.2f}",
                    "target": "<= 15 / <= 100",
                },
                {
                    "figure": "requests/s (8 connections)",
                    "value": reads["requests_per_second"],
                    "target": "",
                },
                {"figure": "CLI batch users/s", "value": batch["users_per_second"], "target": ""},
                {"figure": "throughput / batch", "value": f"{ratio:.2f}x", "target": ">= 2x"},
                {"figure": "errors", "value": reads["errors"], "target": "0"},
                {"figure": "live follow p50 (ms)", "value": live["p50_ms"], "target": "<= 20"},
                {
                    "figure": "4 writers + 8 readers: lost / duplicated",
                    "value": f"{len(mixed_pairs) - have} / {rels - have}",
                    "target": "0 / 0",
                },
                {
                    "figure": "... read p99 (ms), errors",
                    "value": f"{mixed['reads']['p99_us'] / 1000:.2f}, {mixed['reads']['errors']}",
                    "target": "",
                },
            ],
            ["figure", "value", "target"],
        )
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
