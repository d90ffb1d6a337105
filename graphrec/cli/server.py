"""``graphrec neo4j start|stop|status|install``: the local Neo4j server."""

from __future__ import annotations

from typing import Any

import click

from graphrec.cli.common import App, json_option, pass_app
from graphrec.errors import GraphrecError
from graphrec.output import render
from graphrec.server.distribution import ensure_distribution
from graphrec.server.process import LocalServer


def _log(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def neo4j() -> None:
    """Run a local Neo4j 5.26 Community server (fetched once from Maven Central with mvn).

    Data, logs and the generated password live under GRAPHREC_HOME/server
    (.graphrec/server in a checkout). Bolt and HTTP listen on 127.0.0.1 only.
    """


@neo4j.command()
def install() -> None:
    """Fetch the Neo4j jars with mvn into GRAPHREC_HOME/dist (start does this too)."""
    click.echo(ensure_distribution(log=_log))


@neo4j.command()
@click.option("--bolt-port", type=int, help="Bolt port [env GRAPHREC_BOLT_PORT; default 7687].")
@click.option("--http-port", type=int, help="HTTP port [env GRAPHREC_HTTP_PORT; default 7474].")
@click.option("--wait", "wait_seconds", default=180, show_default=True, help="Seconds to wait.")
@click.option(
    "--repair",
    is_flag=True,
    help="Let recovery cut an unreadable end off the transaction log (what a full disk "
    "leaves: a write that never committed) instead of keeping the database offline, with a "
    "larger heap for that start; then restart as usual.",
)
@json_option
def start(bolt_port, http_port, wait_seconds, repair, as_json) -> None:
    """Start the server, wait until Bolt answers, and check that its databases are online.

    The first start sets the password from NEO4J_PASSWORD, or generates one and keeps it in
    the server's state.json (mode 0600), where every graphrec command finds it.
    """
    server = LocalServer.from_env(bolt_port=bolt_port, http_port=http_port)
    info = server.start(wait_seconds=wait_seconds, log=_log, repair=repair)
    offline = _offline_databases(server)
    if repair and not offline:  # recovered: run on as configured, without the repair's heap
        _log("recovered; restarting without the repair settings")
        server.stop(log=_log)
        info = server.start(wait_seconds=wait_seconds, log=_log)
        offline = _offline_databases(server)
    if offline:
        reasons = "; ".join(f"{r['name']}: {(r['message'] or r['status'])[:300]}" for r in offline)
        hint = (
            ""
            if repair
            else (
                " If the disk filled up while it ran, free some room and run "
                "`graphrec neo4j start --repair` (after `graphrec neo4j stop`)."
            )
        )
        cause = server.failure_cause()
        if cause:
            reasons += f"; Neo4j's reason: {cause} (logs/debug.log in {server.home})"
        raise GraphrecError(f"Neo4j started, but not every database is online ({reasons}).{hint}")
    render(info, as_json)


def _offline_databases(server: LocalServer) -> list[Any]:
    from graphrec.settings import resolve_settings
    from graphrec.store import offline_databases, open_driver

    # this server's own address and credentials (a first start has just made the password)
    driver = open_driver(resolve_settings(uri=server.bolt_uri))
    try:
        return offline_databases(driver)
    finally:
        driver.close()


@neo4j.command()
def stop() -> None:
    """Stop the server."""
    LocalServer.from_env().stop(log=_log)


@neo4j.command()
@json_option
@pass_app
def status(app: App, as_json) -> None:
    """Say whether the server runs, where, and which version. Exits 1 when it is stopped."""
    info = LocalServer.from_env().status()
    if info["running"]:
        from graphrec.store import server_version

        info["server_version"] = server_version(app.driver)
    render(info, as_json)
    if not info["running"]:
        raise SystemExit(1)
