import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphrec import store
from graphrec.cli import cli
from graphrec.errors import ServerError
from graphrec.server.process import LocalServer, set_initial_password
from graphrec.server.state import read_state
from graphrec.settings import Settings


def test_server_answers_on_loopback_with_generated_password(neo4j_server, driver):
    state_file = neo4j_server.home / "state.json"
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    assert read_state(neo4j_server.home)["password_source"] == "generated"
    config = (neo4j_server.conf_dir / "neo4j.conf").read_text()
    assert f"server.bolt.listen_address=127.0.0.1:{neo4j_server.bolt_port}" in config
    records = store.read(driver, "dbms_components")
    assert records[0]["version"].startswith("5.26")
    assert records[0]["edition"] == "community"


def test_status_reports_running_server(neo4j_server):
    info = neo4j_server.status()
    assert info["running"] is True
    assert info["bolt_uri"] == f"bolt://127.0.0.1:{neo4j_server.bolt_port}"


def test_wrong_password_is_a_clear_error(settings):
    runner = CliRunner()
    result = runner.invoke(cli, ["--uri", settings.uri, "--password", "not-the-password", "stats"])
    assert result.exit_code == 1
    assert "refused the credentials for user 'neo4j'" in result.output


def test_password_on_the_command_line_is_warned_about_and_the_environment_is_not(settings):
    runner = CliRunner()
    args = ["--uri", settings.uri, "stats"]
    flagged = runner.invoke(cli, ["--password", settings.password, *args])
    assert flagged.exit_code == 0, flagged.output
    assert "Warning: --password is visible to other local users" in flagged.stderr
    assert settings.password not in flagged.output
    quiet = runner.invoke(cli, args, env={"NEO4J_PASSWORD": settings.password})
    assert quiet.exit_code == 0, quiet.output
    assert "Warning" not in quiet.stderr


def test_unreachable_server_is_a_clear_error():
    unreachable = Settings(uri="bolt://127.0.0.1:1", user="neo4j", password="x" * 8)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--uri", unreachable.uri, "--password", unreachable.password, "stats"]
    )
    assert result.exit_code == 1
    assert "cannot reach Neo4j at bolt://127.0.0.1:1" in result.output


def _neo4j_auth_hash(password: str, salt_hex: str, iterations: int) -> str:
    """Neo4j's stored credential: SHA-256 over salt + password, re-hashed ITERATIONS times."""
    digest = hashlib.sha256(bytes.fromhex(salt_hex) + password.encode()).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


@pytest.mark.parametrize("password", ["-starts-like-an-option", 'sp ace "quote" back\\slash'])
def test_initial_password_is_set_exactly_and_leaves_no_file(tmp_path, password):
    server = LocalServer(home=tmp_path)
    server.conf_dir.mkdir()
    (server.conf_dir / "neo4j.conf").write_text(f"server.directories.data={tmp_path / 'data'}\n")
    set_initial_password(server, password)
    user, credential = (tmp_path / "data" / "dbms" / "auth.ini").read_text().split(":", 2)[:2]
    _, stored, salt, iterations = credential.split(",")
    assert user == "neo4j"
    assert _neo4j_auth_hash(password, salt, int(iterations)) == stored
    assert list((tmp_path / "run").iterdir()) == []


def test_password_with_a_line_break_is_refused(tmp_path):
    with pytest.raises(ServerError, match="line break"):
        set_initial_password(LocalServer(home=tmp_path), "two\nlines")


def test_page_cache_is_sized_from_the_store_within_bounds(tmp_path, monkeypatch):
    from graphrec.server import process

    store = tmp_path / "data" / "databases" / "neo4j"
    store.mkdir(parents=True)
    assert process.page_cache_size(tmp_path) == f"{process.MIN_PAGECACHE // 2**20}m"
    big = store / "neostore.relationshipstore.db"
    with open(big, "wb") as f:  # sparse: a 3 GiB store on disk without writing it
        f.truncate(3 * 2**30)
    assert (
        process.page_cache_size(tmp_path)
        == f"{int(3 * 2**30 * process.PAGECACHE_HEADROOM) // 2**20}m"
    )
    monkeypatch.setattr(process, "PAGECACHE_RAM_SHARE", 1e-3)  # a machine too small for it
    memory = process.machine_memory()
    assert process.page_cache_size(tmp_path) == f"{int(memory * 1e-3) // 2**20}m"


def test_a_repair_start_may_grow_the_heap_within_the_machine(monkeypatch):
    from graphrec.server import process

    memory = process.machine_memory()
    room = min(process.REPAIR_HEAP_BYTES, int(memory * process.REPAIR_RAM_SHARE))
    assert process.repair_heap("512m") == f"{max(room, 2**29) // 2**20}m"
    assert process.repair_heap("64g") == "65536m"  # never below the usual heap
    monkeypatch.setattr(process, "REPAIR_RAM_SHARE", 1e-4)  # a machine with little room
    assert process.repair_heap("1g") == "1024m"


def test_routing_uri_works_against_the_local_server(graph, cli_env, neo4j_server, tmp_path):
    """A cluster is reached through neo4j:// with reads routed to secondaries; the same code
    path must work against one local server, for writes and reads."""
    env = {**cli_env, "NEO4J_URI": f"neo4j://127.0.0.1:{neo4j_server.bolt_port}"}
    follows = tmp_path / "follows.csv"
    follows.write_text("uid,fid\n1,2\n2,3\n")
    runner = CliRunner()
    loaded = runner.invoke(cli, ["load", str(follows), "--json"], env=env, catch_exceptions=False)
    assert loaded.exit_code == 0, loaded.output
    result = runner.invoke(cli, ["stats", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["follows"] == 2


def test_the_reason_a_database_did_not_start_is_read_from_the_debug_log(tmp_path):
    server = LocalServer(home=tmp_path)
    assert server.failure_cause() is None  # no log yet
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "debug.log").write_text(
        "2026-12-02 19:01:49.747+0000 ERROR [o.n.d.d.DatabaseLifecycles] Failed to start X\n"
        "org.neo4j.kernel.lifecycle.LifecycleException: first\n"
        "Caused by: java.lang.RuntimeException: old cause\n"
        "2026-12-02 19:02:31.360+0000 ERROR [o.n.d.d.DatabaseLifecycles] Failed to start Y\n"
        "org.neo4j.kernel.lifecycle.LifecycleException: outer\n"
        "Caused by: java.lang.RuntimeException: middle\n"
        "Caused by: java.io.IOException: the root of it\n"
        "2026-12-02 19:02:32.000+0000 INFO  [o.n.s.CommunityNeoWebServer] unrelated\n"
        "Caused by: not this one\n"
    )
    assert server.failure_cause() == "java.io.IOException: the root of it"


def test_jvm_options_from_the_environment_reach_the_server(neo4j_server):
    # conftest sets GRAPHREC_NEO4J_JVM_OPTIONS for every server the tests start
    wanted = os.environ["GRAPHREC_NEO4J_JVM_OPTIONS"].split()
    args = Path(f"/proc/{neo4j_server.pid()}/cmdline").read_bytes().decode().split("\0")
    assert wanted and all(option in args for option in wanted), args
