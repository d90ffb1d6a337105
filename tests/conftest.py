"""Tests run against a real Neo4j that the project itself installs and starts.

The test server is separate from the demo one: its own folder (GRAPHREC_HOME/test-server, or
GRAPHREC_TEST_SERVER_DIR) and ports (GRAPHREC_TEST_BOLT_PORT / GRAPHREC_TEST_HTTP_PORT,
default 17687 / 17474), so running the tests never touches a user's graph. It is started
once per session and stopped at the end unless it was already running (or
GRAPHREC_TEST_KEEP_SERVER=1). Each test that takes ``graph`` gets an empty database.

scripts/test runs the tests on pytest-xdist workers: each worker has a server of its own, on
ports ``worker_port`` moves up by ten per worker, in a folder of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graphrec import store
from graphrec.paths import graphrec_home
from graphrec.server.process import LocalServer
from graphrec.settings import Settings

# Every server the tests start (and those the commands they run start) lives a few minutes at
# most: with the JIT's first tier alone it starts on much less CPU, and the suite starts many.
os.environ.setdefault("GRAPHREC_NEO4J_JVM_OPTIONS", "-XX:TieredStopAtLevel=1")


# scripts/test hands whole modules to the workers (--dist loadfile: a module's fixtures are set
# up once). The longest go first, longest first, so that no worker is left with one of them
# at the end while the other has finished.
LONG_MODULES = ("test_bench_smoke", "test_faults", "test_model", "test_model_dir", "test_terminal")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.module.__name__ if item.module else ""
        return LONG_MODULES.index(name) if name in LONG_MODULES else len(LONG_MODULES)

    items.sort(key=rank)  # stable: the rest keep their order


def worker_index() -> int:
    """0, or which pytest-xdist worker (gw0, gw1, ...) runs this process."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def worker_port(base: int) -> int:
    """A port of this worker's own: workers run at once, each with its own servers."""
    return base + 10 * worker_index()


def _test_server() -> LocalServer:
    env = os.environ
    home = Path(env.get("GRAPHREC_TEST_SERVER_DIR") or graphrec_home() / "test-server")
    if worker_index():
        home = home.with_name(f"{home.name}-{worker_index()}")
    return LocalServer(
        home=home.resolve(),
        bolt_port=worker_port(int(env.get("GRAPHREC_TEST_BOLT_PORT", "17687"))),
        http_port=worker_port(int(env.get("GRAPHREC_TEST_HTTP_PORT", "17474"))),
        heap="1g",
        pagecache="512m",
    )


@pytest.fixture(scope="session")
def neo4j_server():
    server = _test_server()
    was_running = server.is_running()
    saved = os.environ.pop("NEO4J_PASSWORD", None)  # the test server always generates its own
    try:
        server.start(log=lambda m: None)
    finally:
        if saved is not None:
            os.environ["NEO4J_PASSWORD"] = saved
    yield server
    if not was_running and os.environ.get("GRAPHREC_TEST_KEEP_SERVER") != "1":
        server.stop(log=lambda m: None)


@pytest.fixture(scope="session")
def settings(neo4j_server) -> Settings:
    from graphrec.server.state import read_state

    state = read_state(neo4j_server.home)
    return Settings(uri=neo4j_server.bolt_uri, user="neo4j", password=state["password"])


@pytest.fixture(scope="session")
def driver(settings):
    d = store.open_driver(settings)  # fails loudly (not a skip) when the server is unreachable
    yield d
    d.close()


@pytest.fixture
def graph(driver):
    """An empty database with graphrec's schema, for one test."""
    store.reset_graph(driver)
    store.ensure_schema(driver)
    return driver


@pytest.fixture
def cli_env(settings, tmp_path) -> dict:
    """Environment for CliRunner so the CLI talks to the test server."""
    return {
        "NEO4J_URI": settings.uri,
        "NEO4J_USER": settings.user,
        "NEO4J_PASSWORD": settings.password,
        "GRAPHREC_MODEL_DIR": str(tmp_path / "model"),
    }
