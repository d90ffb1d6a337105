"""One NeuMF training step with Keras's Adam and with lazy Adam, as the uids grow (no Neo4j).

Keras's Adam updates every row of every embedding table at each step; lazy Adam
(graphrec/model/optimizers.py) only the rows the batch looked up. This times a step of each
through Keras's `fit`, as `graphrec train` runs it (XLA, the default batch), on random
batches over N uids: users uniform, accounts Zipf-skewed like a follow graph's. The
crossover it finds is where `train --optimizer auto` switches (train.LAZY_ADAM_FROM_UIDS).

    .venv/bin/python bench/optimizer_step.py [--uids 50000,500000,1600000] [--latents 8,32]
        [--steps 10] [--repeats 3]

Results: bench/results/optimizer_step.json (or --out) and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrec.model.artifacts import NeuMFConfig  # noqa: E402
from graphrec.model.keras_model import build_neumf  # noqa: E402
from graphrec.model.train import LAZY_ADAM_FROM_UIDS, MAX_BATCH, _compiled  # noqa: E402
from graphrec.model.train import OPTIMIZERS as CHOICES  # noqa: E402

OPTIMIZERS = tuple(o for o in CHOICES if o != "auto")  # what train resolves "auto" to


def _fitting(
    n_ids: int, latent: int, optimizer: str, batch: int, steps: int, tie: str
) -> Callable[[], float]:
    """A function that times one `fit` of a compiled model over ``steps`` batches, in
    milliseconds per step (a first `fit` has compiled the step)."""
    rng = np.random.default_rng(0)
    config = NeuMFConfig(latent_dim=latent, tie=tie)
    model = _compiled(build_neumf(n_ids, config), config.learning_rate, optimizer)
    n = batch * steps
    x = {
        "user": rng.integers(0, n_ids, n, dtype=np.int32),
        "item": ((rng.zipf(1.3, n) - 1) % n_ids).astype(np.int32),
    }
    y = rng.integers(0, 2, n).astype(np.float32)
    first = {k: v[: 2 * batch] for k, v in x.items()}
    model.fit(first, y[: 2 * batch], batch_size=batch, epochs=1, verbose=0, shuffle=False)

    def timed() -> float:
        started = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        return (time.perf_counter() - started) / steps * 1000

    return timed


def step_ms(
    n_ids: int, latent: int, batch: int, steps: int, tie: str, repeats: int
) -> dict[str, list[float]]:
    """Milliseconds per step of each optimizer, ``repeats`` times, the optimizers taking turns
    so that a slow spell of the machine falls on both."""
    timers = {o: _fitting(n_ids, latent, o, batch, steps, tie) for o in OPTIMIZERS}
    times: dict[str, list[float]] = {o: [] for o in OPTIMIZERS}
    for _ in range(repeats):
        for optimizer, timed in timers.items():
            times[optimizer].append(round(timed(), 1))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uids", default="50000,500000,1600000")
    parser.add_argument("--latents", default="8,32")
    parser.add_argument("--batch-size", type=int, default=MAX_BATCH)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed fit")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per optimizer")
    parser.add_argument("--tie", default="none", help="none: four tables, the larger case")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny and fast")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "optimizer_step.json"
    )
    args = parser.parse_args()
    if args.quick:
        args.uids, args.latents, args.batch_size, args.steps, args.repeats = "2000", "8", 4096, 4, 1
    rows = []
    for n_ids in [int(u) for u in args.uids.split(",")]:
        for latent in [int(d) for d in args.latents.split(",")]:
            row: dict = {"uids": n_ids, "latent": latent}
            times = step_ms(n_ids, latent, args.batch_size, args.steps, args.tie, args.repeats)
            for optimizer, ms in times.items():
                row[f"{optimizer}_ms"] = round(float(np.median(ms)), 1)
                row[f"{optimizer}_runs_ms"] = ms
            row["lazy_faster"] = row["lazy_adam_ms"] < row["adam_ms"]
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    result = {
        "benchmark": "optimizer_step",
        "batch_size": args.batch_size,
        "steps": args.steps,
        "repeats": args.repeats,
        "tie": args.tie,
        "lazy_adam_from_uids": LAZY_ADAM_FROM_UIDS,
        "machine": {"cpus": os.cpu_count()},
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Medians of {args.repeats} timed fits of {args.steps} steps each:\n")
    print("| uids | latent | Keras Adam ms/step | lazy Adam ms/step | examples/s (Adam / lazy) |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        rates = " / ".join(f"{args.batch_size / r[f'{o}_ms'] * 1000:,.0f}" for o in OPTIMIZERS)
        print(f"| {r['uids']:,} | {r['latent']} | {r['adam_ms']} | {r['lazy_adam_ms']} | {rates} |")
    print(f"\nresults: {args.out}")


if __name__ == "__main__":
    main()
