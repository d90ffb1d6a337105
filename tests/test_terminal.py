"""A clean terminal: with --silent, a successful `train` and `embed` print nothing on stderr
(no TensorFlow, absl or oneDNN start-up lines, no library warnings), and training from a file
never loads the Neo4j driver. Each runs in a fresh process, where those lines would appear."""

from __future__ import annotations

import os
import subprocess
import sys

from test_model import community_follows

# runs the CLI, then exits 97 if the Neo4j driver was imported along the way
RUN_CLI = (
    "import sys\n"
    "from graphrec.cli import cli\n"
    "try:\n"
    "    cli.main(sys.argv[1:], prog_name='graphrec')\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "sys.exit(97 if '--from-csv' in sys.argv and 'neo4j' in sys.modules else code)\n"
)


def _graphrec(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_train_and_embed_print_nothing_on_stderr_when_silent(graph, cli_env, tmp_path):
    src, dst = community_follows(communities=2, size=30, follows=6)
    csv = tmp_path / "follows.csv"
    csv.write_text("uid,fid\n" + "".join(f"{u},{f}\n" for u, f in zip(src, dst, strict=True)))
    model = tmp_path / "model"

    trained = _graphrec(
        ["train", "--from-csv", str(csv), "--model-dir", str(model), "--epochs", "1", "--silent"],
        cli_env,
    )
    assert trained.returncode == 0, trained.stderr  # 97: the Neo4j driver was imported
    assert trained.stderr == ""

    loaded = _graphrec(["load", str(csv), "--silent"], cli_env)
    assert loaded.returncode == 0, loaded.stderr
    embedded = _graphrec(["embed", "--model-dir", str(model), "--silent"], cli_env)
    assert embedded.returncode == 0, embedded.stderr
    assert embedded.stderr == ""
