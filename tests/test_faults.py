"""Faults against a real Neo4j of the tests' own: the server killed with SIGKILL in the middle
of `load`, of `embed` and of a batch `recommend`, and its disk filling up during `embed`.

Each command must fail with a clear `Error:` and a non-zero exit, and running it again once
the server is back must converge to the right graph: every follow once, every FOLLOWS with an
embedding of the current model. The server's data folder is a tmpfs of its own, so that the
disk-full case can shrink it under a running server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import worker_port
from test_pools import random_model, test_query

from graphrec import store
from graphrec.embed import model_tag
from graphrec.generate import generate_follows
from graphrec.io import write_follows_csv
from graphrec.model import artifacts
from graphrec.server.process import LocalServer
from graphrec.server.state import read_state
from graphrec.settings import Settings

USERS = 4000  # enough follows that each command is still running when the server dies
DATA_ROOM = 1 << 30


def _mount_tmpfs(path: Path, size: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _resize_tmpfs(path: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LocalServer]:
    home = tmp_path_factory.mktemp("fault-server")
    server = LocalServer(
        home=home.resolve(),
        bolt_port=worker_port(int(os.environ.get("GRAPHREC_TEST_FAULT_BOLT_PORT", "17887"))),
        http_port=worker_port(int(os.environ.get("GRAPHREC_TEST_FAULT_HTTP_PORT", "17674"))),
        heap="1g",
        pagecache="512m",
    )
    server.tmpfs = _mount_tmpfs(home / "data", DATA_ROOM)  # type: ignore[attr-defined]
    saved = os.environ.pop("NEO4J_PASSWORD", None)
    try:
        server.start(log=lambda m: None)
        yield server
    finally:
        if saved is not None:
            os.environ["NEO4J_PASSWORD"] = saved
        server.stop(log=lambda m: None)
        if server.tmpfs:  # type: ignore[attr-defined]
            subprocess.run(["umount", "--lazy", str(home / "data")], check=False)


@pytest.fixture
def env(server, tmp_path) -> dict:
    return {
        **os.environ,
        "NEO4J_URI": server.bolt_uri,
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": read_state(server.home)["password"],
        "GRAPHREC_MODEL_DIR": str(tmp_path / "model"),
        "GRAPHREC_NEO4J_RETRY_SECONDS": "2",  # give up on the dead server quickly
    }


@pytest.fixture
def driver(server, env):
    driver = store.open_driver(Settings(server.bolt_uri, "neo4j", env["NEO4J_PASSWORD"]))
    store.reset_graph(driver)
    store.ensure_schema(driver)
    yield driver
    driver.close()


def _graphrec(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "graphrec", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graphrec", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _kill_when(server: LocalServer, proc: subprocess.Popen, ready: Callable[[], bool]) -> None:
    """SIGKILL Neo4j as soon as ``ready()`` holds while ``proc`` still runs."""
    deadline = time.monotonic() + 180
    while not ready():
        assert proc.poll() is None, f"finished before the fault: {proc.communicate()}"
        assert time.monotonic() < deadline, "the command never got going"
        time.sleep(0.05)
    pid = server.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while server.pid() is not None:
        time.sleep(0.05)


def _assert_failed_clearly(proc: subprocess.Popen) -> str:
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode != 0
    assert "Traceback" not in stderr
    last = [line for line in stderr.splitlines() if line.strip()][-1]
    assert last.startswith("Error: "), stderr
    return last


def _count(driver, name: str, **params) -> int:
    records, _, _ = driver.execute_query(test_query(name), params)
    return int(records[0][0])


def _follows_file(tmp_path: Path) -> tuple[Path, set[tuple[int, int]]]:
    graph = generate_follows(USERS, seed=11, avg_follows=12)
    path = tmp_path / "follows.csv"
    write_follows_csv(path, graph.uid, graph.fid)
    return path, set(zip(graph.uid.tolist(), graph.fid.tolist(), strict=True))


def _assert_graph_holds(driver, pairs: set[tuple[int, int]]) -> None:
    from graphrec.graph import fetch_follows

    src, dst = fetch_follows(driver)
    assert len(src) == len(pairs)  # no duplicates ...
    assert set(zip(src.tolist(), dst.tolist(), strict=True)) == pairs  # ... and none missing


def _load(tmp_path: Path, driver, env: dict) -> set[tuple[int, int]]:
    path, pairs = _follows_file(tmp_path)
    assert _run("load", str(path), "--silent", env=env).returncode == 0
    return pairs


def _model_for(driver, tmp_path: Path) -> Path:
    from graphrec.graph import fetch_follows

    src, dst = fetch_follows(driver)
    return random_model(tmp_path / "model", np.unique(np.concatenate([src, dst])), latent=4)


def _start_failure(server: LocalServer, lines: int = 80) -> str:
    """Where the last database start failed, as debug.log tells it (for a failing test)."""
    log = (server.home / "logs" / "debug.log").read_text(errors="replace")
    block = log.rsplit("Failed to start", 1)[-1]
    return "\ndebug.log, last failed start:\n" + "\n".join(block.splitlines()[:lines])


def _restart(server: LocalServer) -> None:
    server.start(log=lambda m: None)


def test_neo4j_killed_during_load_then_the_load_again(server, driver, env, tmp_path):
    path, pairs = _follows_file(tmp_path)
    proc = _graphrec("load", str(path), "--workers", "1", "--batch-size", "2000", env=env)
    _kill_when(server, proc, lambda: _count(driver, "count_follows") > 0)
    assert "Neo4j" in _assert_failed_clearly(proc)
    _restart(server)

    again = _run("load", str(path), "--silent", env=env)
    assert again.returncode == 0, again.stderr
    _assert_graph_holds(driver, pairs)


def test_neo4j_killed_during_embed_then_embed_again(server, driver, env, tmp_path):
    _load(tmp_path, driver, env)
    model = _model_for(driver, tmp_path)
    tag = model_tag(artifacts.read_meta(model)["version"])
    total = _count(driver, "count_follows")
    args = ("embed", "--model-dir", str(model), "--batch-size", "2000")
    proc = _graphrec(*args, env=env)
    _kill_when(server, proc, lambda: _count(driver, "count_stale_embeddings", model=tag) < total)
    _assert_failed_clearly(proc)
    _restart(server)
    assert 0 < _count(driver, "count_stale_embeddings", model=tag) < total  # caught part-way

    again = _run(*args, "--silent", env=env)
    assert again.returncode == 0, again.stderr
    assert _count(driver, "count_stale_embeddings", model=tag) == 0
    assert _count(driver, "count_follows") == total


def test_neo4j_killed_during_batch_recommend_then_recommend_again(server, driver, env, tmp_path):
    pairs = _load(tmp_path, driver, env)
    users = sorted({u for u, _ in pairs})[:300]
    (tmp_path / "users.txt").write_text("".join(f"{u}\n" for u in users))
    out = tmp_path / "recs.csv"
    args = ("recommend", "--users", str(tmp_path / "users.txt"), "--out", str(out))
    proc = _graphrec(*args, "--workers", "1", env=env)
    _kill_when(server, proc, lambda: any(tmp_path.glob("recs.csv*")) or out.exists())
    _assert_failed_clearly(proc)
    assert not out.exists()  # no half-written file in its place
    _restart(server)

    again = _run(*args, "--silent", env=env)
    assert again.returncode == 0, again.stderr
    lines = out.read_text().splitlines()
    assert {int(line.split(",")[0]) for line in lines[1:]} == set(users)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("recs.csv") and p != out]


def test_disk_full_during_embed_then_embed_again(server, driver, env, tmp_path):
    if not server.tmpfs:
        pytest.skip("cannot mount a tmpfs for the server's data (needs root): disk full untested")
    _load(tmp_path, driver, env)
    model = _model_for(driver, tmp_path)
    tag = model_tag(artifacts.read_meta(model)["version"])
    total = _count(driver, "count_follows")
    data = server.home / "data"
    fs = os.statvfs(data)  # what the tmpfs counts (pages), not the files' apparent sizes
    _resize_tmpfs(data, (fs.f_blocks - fs.f_bfree) * fs.f_frsize + (4 << 20))
    try:
        failed = _run("embed", "--model-dir", str(model), "--batch-size", "2000", env=env)
    finally:
        _resize_tmpfs(data, DATA_ROOM)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines()[-1].startswith("Error: "), failed.stderr

    # Neo4j took the database offline when the write failed; the room is back: restart it
    server_env = {
        **env,
        "GRAPHREC_SERVER_DIR": str(server.home),
        "GRAPHREC_BOLT_PORT": str(server.bolt_port),
        "GRAPHREC_HTTP_PORT": str(server.http_port),
        "GRAPHREC_NEO4J_HEAP": server.heap,
        "GRAPHREC_NEO4J_PAGECACHE": server.pagecache,
    }
    assert _run("neo4j", "stop", env=server_env).returncode == 0
    started = _run("neo4j", "start", env=server_env)
    if started.returncode != 0:  # recovery met the torn end of the log: says what to do
        assert started.stderr.strip().splitlines()[-1].startswith("Error: Neo4j started, but")
        assert "graphrec neo4j start --repair" in started.stderr
        assert _run("neo4j", "stop", env=server_env).returncode == 0
        repaired = _run("neo4j", "start", "--repair", env=server_env)
        assert repaired.returncode == 0, repaired.stderr + _start_failure(server)
        # ... and then runs as configured again, without the repair's larger heap
        cmdline = Path(f"/proc/{server.pid()}/cmdline").read_bytes().split(b"\0")
        assert f"-Xmx{server.heap}".encode() in cmdline
    assert _count(driver, "count_follows") == total  # every follow survived

    again = _run("embed", "--model-dir", str(model), "--silent", env=env)
    assert again.returncode == 0, again.stderr
    assert _count(driver, "count_stale_embeddings", model=tag) == 0
    assert _count(driver, "count_follows") == total
