"""Smoke runs of the quality benchmarks, so that they cannot rot: each runs its --quick mode
end to end on a small shared graph and must write results with every method in them.

They need ../shared/datasets (CI has it beside the clone); the pipeline run also needs the
test Neo4j, which it resets and loads like the benchmark does with its own server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("GRAPHREC_DATASETS", ROOT.parent / "shared" / "datasets"))
SMALLEST = "bitcoin-alpha"


def _run(args: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def test_baselines_benchmark_quick_run(tmp_path):
    out = tmp_path / "baselines.json"
    _run(["bench/baselines.py", "--quick", "--out", str(out)], {}, timeout=300)
    data = json.loads(out.read_text())
    text = json.dumps(data)
    for method in ("follow_back", "rp3beta", "item_knn", "ease", "als"):
        assert f'"{method}"' in text


def test_pipeline_benchmark_quick_run(cli_env, tmp_path):
    env = {
        **cli_env,
        "GRAPHREC_DATASETS": str(DATASETS),
        "GRAPHREC_BENCH_RESULTS": str(tmp_path / "results"),
    }
    result = _run(
        [
            "bench/pipeline.py",
            "--quick",
            "--datasets",
            SMALLEST,
            "--model-root",
            str(tmp_path / "models"),
            "--out",
            "smoke",
        ],
        env,
        timeout=900,
    )
    run = json.loads((tmp_path / "results" / "smoke.json").read_text())["runs"][SMALLEST]
    metrics = run["metrics"]
    assert metrics["pipeline"]["ranker"] is True  # train fitted it
    for method in (
        "pipeline",
        "follow_back",
        "rp3beta",
        "ease",
        "pool:follows_you",
        "without:follows_you",
    ):
        assert 0.0 <= metrics[method]["hr@10"] <= 1.0
    assert run["ratio"] == round(run["pipeline_hr@10"] / run["best_single_hr@10"], 3)
    assert "Ablation" in result.stdout
