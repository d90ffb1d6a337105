"""The model directory is replaced whole or not at all, and a damaged one is named in a clear
error, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_model import community_follows
from test_pools import ME, random_model
from test_recommend import world  # noqa: F401  (the shared tiny-graph fixture)

from graphrec.cli import cli
from graphrec.errors import GraphrecError
from graphrec.model import artifacts


def _csv(tmp_path: Path) -> Path:
    src, dst = community_follows(communities=2, size=30, follows=6)
    path = tmp_path / "follows.csv"
    path.write_text("uid,fid\n" + "".join(f"{u},{f}\n" for u, f in zip(src, dst, strict=True)))
    return path


def _train_args(csv: Path, model_dir: Path, epochs: int = 1) -> list[str]:
    return [
        "train",
        "--from-csv",
        str(csv),
        "--model-dir",
        str(model_dir),
        "--epochs",
        str(epochs),
        "--latent-dim",
        "4",
        "--no-two-tower",
        "--json",
    ]


def _training_caught_part_way(
    csv: Path, model_dir: Path, env: dict, ignore_sigint: bool = False
) -> tuple:
    """A silent `graphrec train` process (the worker writes nothing to a caller that is
    gone), and the pid of its training worker once the worker has written its new
    hold-out into the staging folder."""
    ignored = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphrec", *_train_args(csv, model_dir, epochs=30), "--silent"],
        env={**os.environ, **env},
        preexec_fn=ignored,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    versions = model_dir.parent / f".{model_dir.name}.versions"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if list(versions.glob(f"tmp.*/{artifacts.HOLDOUT}")):
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for child in map(int, children):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return proc, child
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the training was not caught part-way")


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_killed_training_process_leaves_the_old_model_whole(cli_env, tmp_path):
    csv, model_dir = _csv(tmp_path), tmp_path / "model"
    first = CliRunner().invoke(cli, _train_args(csv, model_dir), env=cli_env)
    assert first.exit_code == 0, first.output
    version = artifacts.read_meta(model_dir)["version"]
    before = {
        p.relative_to(model_dir): p.read_bytes()
        for p in sorted(model_dir.rglob("*"))
        if p.is_file()
    }
    assert model_dir.is_symlink()

    # a second training whose worker is killed as the kernel kills one out of memory
    proc, worker = _training_caught_part_way(csv, model_dir, cli_env)
    os.kill(worker, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Error: the training process was killed by SIGKILL" in stderr
    assert "Traceback" not in stderr
    versions = tmp_path / ".model.versions"
    assert not any(versions.glob("tmp.*")), "the caller removes the unfinished model"

    assert artifacts.read_meta(model_dir)["version"] == version
    after = {
        p.relative_to(model_dir): p.read_bytes()
        for p in sorted(model_dir.rglob("*"))
        if p.is_file()
    }
    assert after == before  # holdout.npz and validation.npz included

    again = CliRunner().invoke(cli, _train_args(csv, model_dir), env=cli_env)
    assert again.exit_code == 0, again.output
    assert artifacts.read_meta(model_dir)["version"] != version
    assert sorted(p.name for p in versions.iterdir()) == [model_dir.resolve().name]


def test_killing_train_stops_its_worker_and_publishes_nothing(cli_env, tmp_path):
    csv, model_dir = _csv(tmp_path), tmp_path / "model"
    # started as in the background, where SIGINT is passed on ignored
    proc, worker = _training_caught_part_way(csv, model_dir, cli_env, ignore_sigint=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _gone(worker, 60), "the worker trains on without its caller"
    assert not model_dir.exists()  # only the caller publishes
    staged = list((tmp_path / ".model.versions").glob("tmp.*"))
    assert staged and not (staged[0] / artifacts.META).exists(), "NeuMF's stage ran to its end"

    # the next training publishes, and clears the staging folder the killed one left
    again = CliRunner().invoke(cli, _train_args(csv, model_dir), env=cli_env)
    assert again.exit_code == 0, again.output
    versions = tmp_path / ".model.versions"
    assert sorted(p.name for p in versions.iterdir()) == [model_dir.resolve().name]


def test_a_plain_model_folder_is_replaced_but_a_folder_of_other_files_is_not(tmp_path):
    legacy = random_model(tmp_path / "legacy", [1, 2, 3])
    assert not legacy.is_symlink()
    staged = artifacts.staging_dir(legacy)
    random_model(staged, [4, 5, 6])
    artifacts.publish(staged, legacy, "v2")
    assert legacy.is_symlink() and artifacts.load_weights(legacy)["uids"].tolist() == [4, 5, 6]
    assert sorted(p.name for p in (tmp_path / ".legacy.versions").iterdir()) == ["v2"]

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(GraphrecError, match=r"notes holds files that are not a graphrec model"):
        artifacts.staging_dir(tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def _recommend(cli_env, model_dir: Path):
    return CliRunner().invoke(
        cli, ["recommend", "--user", str(ME), "--model-dir", str(model_dir)], env=cli_env
    )


@pytest.mark.parametrize(
    "damage",
    ["weights.npz", "meta.json", "ranker.json", "tables/gmf_user.npy", "meta-not-a-model"],
)
def test_a_damaged_model_file_is_named_in_a_clear_error(world, cli_env, damage):  # noqa: F811
    if damage == "ranker.json":
        (world / "ranker.json").write_text(json.dumps({"features": ["x"], "coef": []})[:20])
    elif damage == "meta-not-a-model":
        (world / "meta.json").write_text("[1, 2]")
        damage = "meta.json"
    else:
        path = world / damage
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = _recommend(cli_env, world)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and str(world / damage) in result.output
    assert "unreadable" in result.output and "Traceback" not in result.output


def test_an_explicit_model_dir_without_a_model_is_an_error(world, cli_env, tmp_path):  # noqa: F811
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _recommend(cli_env, empty)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no trained model in {empty}")
    # without --model-dir, no model just means graph-only ranking
    env = {**cli_env, "GRAPHREC_MODEL_DIR": str(tmp_path / "none")}
    plain = CliRunner().invoke(cli, ["recommend", "--user", str(ME), "--json"], env=env)
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)


def test_holdout_pairs_have_one_reader(tmp_path):
    np.savez(tmp_path / artifacts.HOLDOUT, users=np.array([1, 2]), items=np.array([3, 4]))
    assert artifacts.read_pairs(tmp_path).tolist() == [[1, 3], [2, 4]]
    assert artifacts.read_pairs(tmp_path, artifacts.VALIDATION).shape == (0, 2)
    np.savez(tmp_path / artifacts.HOLDOUT, users=np.array([1, 2]), fids=np.array([3, 4]))
    with pytest.raises(GraphrecError, match="holdout.npz: unreadable"):
        artifacts.read_pairs(tmp_path)
