"""graphrec load|generate|stats|reset through click's CliRunner against the test Neo4j."""

from __future__ import annotations

import gzip
import json

from click.testing import CliRunner

from graphrec import loader
from graphrec.cli import cli
from graphrec.io import clean, read_follows


def _invoke(args, env, input=None):
    return CliRunner().invoke(cli, args, env=env, input=input, catch_exceptions=False)


def test_generate_then_load_json(graph, tmp_path, cli_env):
    out = tmp_path / "follows.csv"
    gen = _invoke(
        ["generate", "--users", "400", "--out", str(out), "--seed", "3", "--json"], cli_env
    )
    assert gen.exit_code == 0, gen.output
    info = json.loads(gen.stdout)
    expected = clean(read_follows(out))
    assert info["follows"] == len(expected) and info["users"] == 400
    assert 0 < info["reciprocity"] < 1
    assert info["process"]["seconds"] > 0 and info["process"]["peak_rss_mb"] > 0

    result = _invoke(["load", str(out), "--json", "--batch-size", "1000"], cli_env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout holds only the JSON
    assert {"users", "follows", "skipped", "seconds"} <= report.keys()
    assert report["follows"] == len(expected) == report["follows_created"]
    assert report["users"] == expected.users().size
    assert report["skipped"] == 0

    again = _invoke(["load", str(out), "--json"], cli_env)
    assert json.loads(again.stdout)["follows_created"] == 0
    assert loader.graph_counts(graph) == {"users": report["users"], "follows": report["follows"]}


def test_load_table_output_and_progress_on_stderr(graph, tmp_path, cli_env):
    path = tmp_path / "f.edges.gz"
    path.write_bytes(gzip.compress(b"# edge list\n1 2\n2 1\n2 2\n1 2\n3 1\n"))
    result = _invoke(["load", str(path)], cli_env)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["users"].strip() == "3"
    assert lines["follows"].strip() == "3"
    assert lines["skipped"].strip() == "2"
    assert lines["self_loops"].strip() == "1" and lines["duplicates"].strip() == "1"
    assert "follows/s" in result.stderr


def test_bad_input_is_one_error_line_and_nothing_written(graph, tmp_path, cli_env):
    path = tmp_path / "bad.csv"
    path.write_text("uid,fid\n1,2\n2,3\n3,three\n4,5\n")
    result = _invoke(["load", str(path)], cli_env)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path}, line 4: non-integer id 'three' in fid\n"
    assert loader.graph_counts(graph) == {"users": 0, "follows": 0}

    path.write_text("1,2\n2\n")
    result = _invoke(["load", str(path)], cli_env)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path}, line 2: missing column: expected 2 fields, found 1\n"

    path.write_text("")
    result = _invoke(["load", str(path)], cli_env)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path}: empty file: no follow rows\n"

    missing = tmp_path / "missing.csv"
    result = _invoke(["load", str(missing)], cli_env)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {missing}: cannot read file: no such file\n"
    assert loader.graph_counts(graph) == {"users": 0, "follows": 0}


def test_bulk_on_a_non_empty_database_is_refused(graph, tmp_path, cli_env, neo4j_server):
    path = tmp_path / "f.csv"
    path.write_text("1,2\n")
    _invoke(["load", str(path), "--silent"], cli_env)
    env = {
        **cli_env,
        "GRAPHREC_SERVER_DIR": str(neo4j_server.home),
        "GRAPHREC_BOLT_PORT": str(neo4j_server.bolt_port),
        "GRAPHREC_HTTP_PORT": str(neo4j_server.http_port),
    }
    result = _invoke(["load", str(path), "--bulk"], env)
    assert result.exit_code == 1
    assert result.stderr == (  # the two users; graphrec's own bookkeeping does not count
        "Error: --bulk imports into an empty database only, and 'neo4j' holds 2 nodes: "
        "run `graphrec reset` first, or load without --bulk\n"
    )
    assert neo4j_server.is_running()


def test_stats_json_and_table_on_a_known_graph(graph, tmp_path, cli_env):
    path = tmp_path / "f.csv"
    path.write_text("uid,fid\n1,2\n1,3\n2,3\n4,3\n3,1\n")
    assert _invoke(["load", str(path), "--silent"], cli_env).exit_code == 0
    result = _invoke(["stats", "--json", "--top", "2"], cli_env)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["users"] == 4 and stats["follows"] == 5
    assert stats["in_degree"]["max"] == 3 and stats["out_degree"]["max"] == 2
    assert stats["top_accounts"] == [{"uid": 3, "followers": 3}, {"uid": 1, "followers": 1}]
    assert stats["process"]["peak_rss_mb"] > 0
    table = _invoke(["stats"], cli_env).stdout
    assert table.splitlines()[0].split() == ["users", "4"]
    assert "p99" in table and "followers" in table


def test_reset_asks_first_and_yes_skips_the_prompt(graph, tmp_path, cli_env):
    path = tmp_path / "f.csv"
    path.write_text("1 2\n2 3\n")
    _invoke(["load", str(path), "--silent"], cli_env)

    declined = _invoke(["reset"], cli_env, input="n\n")
    assert declined.exit_code == 1
    assert "Delete 3 users and 2 follows" in declined.stderr
    assert "Aborted!" in declined.stderr
    assert loader.graph_counts(graph) == {"users": 3, "follows": 2}

    accepted = _invoke(["reset", "--json"], cli_env, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.stdout) == {"deleted_users": 3, "deleted_follows": 2}
    assert loader.graph_counts(graph) == {"users": 0, "follows": 0}

    _invoke(["load", str(path), "--silent"], cli_env)
    forced = _invoke(["reset", "--yes"], cli_env)
    assert forced.exit_code == 0
    assert "Delete" not in forced.stderr
    assert loader.graph_counts(graph) == {"users": 0, "follows": 0}


def test_generate_is_deterministic_through_the_cli(tmp_path, cli_env):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (a, b):
        result = _invoke(
            ["generate", "--users", "500", "--out", str(out), "--seed", "9", "--avg-follows", "5"],
            cli_env,
        )
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().startswith("uid,fid\n")


def test_generate_shows_its_phases_unless_silent(tmp_path, cli_env):
    out = tmp_path / "g.csv"
    args = ["generate", "--users", "300", "--out", str(out), "--seed", "2"]
    shown = _invoke(args, cli_env)
    assert shown.exit_code == 0, shown.output
    assert "drawing the graph: done in" in shown.stderr
    assert f"writing {out}: " in shown.stderr and " follows/s" in shown.stderr
    quiet = _invoke([*args, "--silent"], cli_env)
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_generate_rejects_bad_options(tmp_path, cli_env):
    result = _invoke(["generate", "--users", "1", "--out", str(tmp_path / "x.csv")], cli_env)
    assert result.exit_code == 2
    assert "Invalid value for '--users'" in result.stderr


def test_help_texts(cli_env):
    for command in ("load", "generate", "stats", "reset"):
        result = _invoke([command, "--help"], cli_env)
        assert result.exit_code == 0
        assert result.stdout.startswith(f"Usage: cli {command} [OPTIONS]")
        assert len(result.stdout.splitlines()[2].strip()) > 20  # a real one-line summary
