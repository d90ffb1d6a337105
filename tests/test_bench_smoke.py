"""Smoke runs of the benchmarks, so that they cannot rot: each runs its --quick mode end to
end and must write results with everything in them.

The quality ones need ../shared/datasets (CI has it beside the clone); the pipeline run also
needs the test Neo4j, which it resets and loads like the benchmark does with its own server.
The scale run bulk-imports, which stops and restarts its server, so it gets a server of its
own rather than the one the other tests share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import worker_port

from graphrec.server.process import LocalServer

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


def test_pipeline_and_serve_benchmarks_quick_run(cli_env, tmp_path):
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
            "--optional-pools",
            "--train-args=--latent-dim 8",  # no capacity search: other tests cover it
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
    optional = run["optional_pools"]
    assert set(optional["chosen"]) == {"similar_relations", "two_tower", "multi_interest"}
    assert optional["choice"]["hr@10"]  # the combinations fit-ranker compared
    for pool in ("similar_relations", "two_tower", "multi_interest"):
        on = optional["all_on"]
        assert 0.0 <= on[f"without:{pool}"]["hr@10"] <= 1.0
        assert on[f"pool:{pool}"]["pool_recall_by_out_degree"]
    assert "Optional pools" in result.stdout

    # bench/serve.py on the same graph and model (trained above): wrk against graphrec serve
    served = _run(
        [
            "bench/serve.py",
            "--quick",
            "--dataset",
            SMALLEST,
            "--model-root",
            str(tmp_path / "models"),
            "--out",
            "serve-smoke",
        ],
        env,
        timeout=600,
    )
    serve = json.loads((tmp_path / "results" / "serve-smoke.json").read_text())
    assert serve["reads"]["requests"] > 0 and serve["reads"]["errors"] == 0
    mixed = serve["writers_and_readers"]
    assert mixed["none_lost"] and mixed["none_duplicated"], mixed
    assert serve["live_follow"]["writes"] == serve["live_follow"]["embedded"] > 0
    assert "throughput / batch" in served.stdout

    # bench/recommend.py and bench/embed.py, on the same graph and model
    model_dir = tmp_path / "models" / SMALLEST
    _run(
        [
            "bench/recommend.py",
            "--quick",
            "--dataset",
            SMALLEST,
            "--model-root",
            str(tmp_path / "models"),
        ],
        env,
        timeout=600,
    )
    rec = json.loads((tmp_path / "results" / "recommend.json").read_text())
    assert rec["ranker"] and 0 < rec["warm"]["p50_ms"] <= rec["warm"]["p95_ms"]
    assert rec["concurrent"]["errors"] == 0
    assert [b["workers"] for b in rec["batch"]] == [1, 2]
    assert all(b["users_per_second"] > 0 for b in rec["batch"])
    _run(
        ["bench/embed.py", str(model_dir), "--runs", "1", "--out", str(tmp_path / "embed.json")],
        env,
        timeout=600,
    )
    embedded = json.loads((tmp_path / "embed.json").read_text())
    assert embedded["relationships"] > 20_000 and embedded["median_per_second"] > 0

    # bench/vector_index.py, on the same graph and model (last: it rebuilds the index)
    out = tmp_path / "vector_index.json"
    args = ["--quick", "--model-dir", str(model_dir), "--out", str(out)]
    _run(["bench/vector_index.py", *args], env, timeout=600)
    data = json.loads(out.read_text())
    assert data["dataset"] == SMALLEST and data["relationships"] > 20_000
    assert [r["product_setting"] for r in data["runs"]] == [False, True]
    for run in data["runs"]:
        assert run["build_seconds"] > 0 and 0.0 < run["recall_at_30"] <= 1.0


def test_vector_index_benchmark_trains_a_model_train_accepts():
    """bench/vector_index.py trains a model when given none (the smoke run above gives it
    one): every option it passes is one of `graphrec train`'s."""
    bench = str(ROOT / "bench")
    sys.path.insert(0, bench)
    try:
        from vector_index import TRAIN_QUICKLY
    finally:  # the script puts its folder on the path too
        sys.path[:] = [p for p in sys.path if p != bench]
    from graphrec.cli import cli

    command, *options = TRAIN_QUICKLY
    train = cli.commands[command]
    context = train.make_context(command, [*options, "--model-dir", "m"])
    assert context.params["epochs"] == 1 and context.params["model_dir"] is not None


def test_scale_benchmark_quick_run(tmp_path):
    server = LocalServer(
        home=tmp_path / "server",
        bolt_port=worker_port(17787),
        http_port=worker_port(17574),
        heap="1g",
        pagecache="512m",
    )
    env = {
        "GRAPHREC_SERVER_DIR": str(server.home),
        "GRAPHREC_BOLT_PORT": str(server.bolt_port),
        "GRAPHREC_HTTP_PORT": str(server.http_port),
        "GRAPHREC_NEO4J_HEAP": server.heap,
        "GRAPHREC_NEO4J_PAGECACHE": server.pagecache,
        "GRAPHREC_BENCH_RESULTS": str(tmp_path / "results"),
    }
    saved = os.environ.pop("NEO4J_PASSWORD", None)
    try:
        server.start(log=lambda m: None)
        unset = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
        result = subprocess.run(
            [sys.executable, "bench/scale.py", "--quick"],
            cwd=ROOT,
            env={**unset, **env},
            capture_output=True,
            text=True,
            timeout=900,
        )
        # bench/load.py's online path into the same server (scale.py covered --bulk)
        loaded = subprocess.run(
            [sys.executable, "bench/load.py", "--dataset", SMALLEST, "--runs", "1"]
            + ["--paths", "online", "--out", str(tmp_path / "load.json")],
            cwd=ROOT,
            env={**unset, **env, "GRAPHREC_DATASETS": str(DATASETS)},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.stop(log=lambda m: None)
        if saved is not None:
            os.environ["NEO4J_PASSWORD"] = saved
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    online = json.loads((tmp_path / "load.json").read_text())["paths"]["online"]
    assert online["median_follows_per_s"] > 0 and online["runs"][0]["follows"] > 20_000
    data = json.loads((tmp_path / "results" / "scale.json").read_text())
    (size,) = data["sizes"]
    assert "failed" not in size, size["failed"]
    assert 10_000 < size["follows"] < 40_000
    for stage in ("generate", "load", "load_bulk", "train", "embed", "evaluate_pipeline"):
        figures = size["stages"][stage]
        assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert size["stages"]["load_bulk"]["store_mb"] > 0
    assert size["embed"]["written"] > 0 and 0 <= size["quality"]["pipeline"] <= 1
    assert (tmp_path / "results" / "scale.png").stat().st_size > 0


def test_training_benchmarks_quick_run(tmp_path):
    """bench/train.py, bench/quality.py, bench/optimizer_step.py and bench/cli_start.py."""
    env = {"GRAPHREC_DATASETS": str(DATASETS)}
    _run(["bench/train.py", "--quick", "--out", str(tmp_path / "train.json")], env, timeout=300)
    (trained,) = json.loads((tmp_path / "train.json").read_text())["datasets"]
    assert trained["dataset"] == SMALLEST and trained["examples_per_second"] > 0
    quality = tmp_path / "quality.json"
    _run(["bench/quality.py", "--quick", "--out", str(quality)], env, timeout=300)
    (row,) = json.loads(quality.read_text())["datasets"]
    for method in ("neumf", "popularity", "adamic_adar", "als"):
        assert 0.0 <= row["metrics"][method]["hr@10"] <= 1.0
    steps = tmp_path / "optimizer_step.json"
    _run(["bench/optimizer_step.py", "--quick", "--out", str(steps)], env, timeout=300)
    (timed,) = json.loads(steps.read_text())["rows"]
    assert timed["adam_ms"] > 0 and timed["lazy_adam_ms"] > 0
    cli_start = tmp_path / "cli_start.json"
    _run(["bench/cli_start.py", "--runs", "2", "--out", str(cli_start)], env, timeout=120)
    assert json.loads(cli_start.read_text())["median_s"] > 0
