"""Start-up time of `graphrec --help` (target < 0.5 s): median of N fresh processes.

.venv/bin/python bench/cli_start.py [--runs 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRAPHREC = ROOT / ".venv" / "bin" / "graphrec"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "cli_start.json")
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([str(GRAPHREC), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    result = {
        "benchmark": "cli_start",
        "command": "graphrec --help",
        "runs": args.runs,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "python": sys.version.split()[0],
    }
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| `graphrec --help` | median {result['median_s']} s | max {result['max_s']} s |")


if __name__ == "__main__":
    main()
