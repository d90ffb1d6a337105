"""Everything that talks to Neo4j goes through here.

* ``query(name)`` loads ``cypher/<name>.cypher`` (cached) and raises on an unknown name.
* ``open_driver(settings)`` is the one place a driver is built; errors become GraphrecErrors.
* ``read``/``write`` run a named statement with ``execute_query`` and parameters only.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterable, Iterator
from typing import Any

import neo4j
from neo4j import exceptions as neo4j_errors

from graphrec.errors import AuthFailed, Deadlocked, GraphrecError, GraphUnavailable, UnknownQuery
from graphrec.paths import cypher_dir
from graphrec.progress import Progress
from graphrec.settings import Settings

DATABASE_UNAVAILABLE = "Neo.TransientError.General.DatabaseUnavailable"
DEADLOCK_DETECTED = "Neo.TransientError.Transaction.DeadlockDetected"
VECTOR_INDEX = "follow_embedding"
ACCOUNT_INDEX = "account_embedding"  # two-tower account vectors on :User (model/towers.py)


@functools.cache
def query(name: str) -> str:
    """The text of ``cypher/<name>.cypher``."""
    path = cypher_dir() / f"{name}.cypher"
    try:
        return path.read_text()
    except FileNotFoundError:
        raise UnknownQuery(f"no Cypher file named {name!r} in {cypher_dir()}") from None


def open_driver(settings: Settings) -> neo4j.Driver:
    """A connected driver, or GraphUnavailable/AuthFailed with a hint."""
    if not settings.password:
        raise AuthFailed(
            "no Neo4j password: set NEO4J_PASSWORD, or start the local server with "
            "`graphrec neo4j start`, which keeps a generated one in its state file"
        )
    driver = neo4j.GraphDatabase.driver(
        settings.uri,
        auth=(settings.user, settings.password),
        connection_timeout=5.0,
        max_transaction_retry_time=settings.retry_seconds,
        # Optional filters (User.active, :BLOCKS) name things a graph may not have; the server's
        # "unknown label/property" warnings about them are expected, not news for the user.
        notifications_disabled_classifications=[
            neo4j.NotificationDisabledClassification.UNRECOGNIZED
        ],
    )
    try:
        driver.verify_connectivity()
    except neo4j_errors.AuthError as e:
        driver.close()
        raise AuthFailed(
            f"Neo4j at {settings.uri} refused the credentials for user {settings.user!r}"
        ) from e
    except (neo4j_errors.ServiceUnavailable, neo4j_errors.DriverError, OSError) as e:
        driver.close()
        raise GraphUnavailable(
            f"cannot reach Neo4j at {settings.uri} ({e.__class__.__name__}); "
            "is it running? Try `graphrec neo4j start` or set NEO4J_URI"
        ) from e
    return driver


@contextlib.contextmanager
def errors_while(doing: str) -> Iterator[None]:
    """The driver's errors while ``doing`` (say, "running load_users"), as graphrec's own."""
    try:
        yield
    except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired) as e:
        raise connection_lost(doing, e) from e
    except neo4j_errors.Neo4jError as e:
        if e.code == DATABASE_UNAVAILABLE:
            raise GraphUnavailable(
                f"Neo4j's database is not available ({doing}): restart Neo4j "
                "(`graphrec neo4j stop`, then `graphrec neo4j start`, which says why when it "
                "cannot bring the database up)"
            ) from e
        if e.code == DEADLOCK_DETECTED:
            raise Deadlocked(f"Neo4j failed {doing}: {e.message}") from e
        raise GraphrecError(f"Neo4j failed {doing}: {e.message}") from e
    except neo4j_errors.DriverError as e:
        raise GraphrecError(f"Neo4j driver failed {doing}: {_first_line(e)}") from e


def connection_lost(doing: str, e: Exception) -> GraphUnavailable:
    """The error for a connection that went away (or never came back) while ``doing``."""
    return GraphUnavailable(
        f"lost the connection to Neo4j while {doing} ({_first_line(e)}); once it is back "
        "(`graphrec neo4j status`), run the command again"
    )


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(":") if text else e.__class__.__name__


def _run(driver: neo4j.Driver, name: str, routing, database: str | None, params: dict):
    with errors_while(f"running {name}"):
        return driver.execute_query(
            query(name), parameters_=params, routing_=routing, database_=database
        )


def read(
    driver: neo4j.Driver, name: str, database: str | None = None, /, **params: Any
) -> list[neo4j.Record]:
    """Run a named read query and return its records."""
    return _run(driver, name, neo4j.RoutingControl.READ, database, params).records


def write(
    driver: neo4j.Driver, name: str, database: str | None = None, /, **params: Any
) -> neo4j.ResultSummary:
    """Run a named write query in one managed transaction and return its summary."""
    return _run(driver, name, neo4j.RoutingControl.WRITE, database, params).summary


def write_read(
    driver: neo4j.Driver, name: str, database: str | None = None, /, **params: Any
) -> list[neo4j.Record]:
    """Run a named write query that returns rows in one managed transaction; its records."""
    return _run(driver, name, neo4j.RoutingControl.WRITE, database, params).records


def batched(rows: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ensure_schema(driver: neo4j.Driver, database: str | None = None) -> None:
    """Create the User.uid uniqueness constraint (idempotent) and wait until it is online."""
    write(driver, "create_user_constraint", database)
    wait_for_indexes(driver, database)


def wait_for_indexes(
    driver: neo4j.Driver, database: str | None = None, timeout: float = 300.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pending = [r for r in read(driver, "show_indexes", database) if r["state"] != "ONLINE"]
        if not pending:
            return
        failed = [r["name"] for r in pending if r["state"] == "FAILED"]
        if failed:
            raise GraphrecError(f"Neo4j index(es) failed to build: {', '.join(failed)}")
        if time.monotonic() > deadline:
            raise GraphrecError(
                f"index(es) not online after {timeout:.0f}s: "
                + ", ".join(f"{r['name']} ({r['populationPercent']:.0f}%)" for r in pending)
            )
        time.sleep(0.2)


def index_state(driver: neo4j.Driver, name: str, database: str | None = None) -> dict | None:
    """{"state", "percent"} of one index, or None when there is no such index."""
    records = read(driver, "index_state", database, name=name)
    if not records:
        return None
    return {"state": records[0]["state"], "percent": float(records[0]["percent"])}


def wait_for_index(
    driver: neo4j.Driver,
    name: str,
    database: str | None = None,
    silent: bool = False,
    poll_seconds: float = 1.0,
) -> dict:
    """Wait, however long it takes, until index ``name`` is ONLINE, showing its population
    percentage; a FAILED or vanished index is an error. Returns its last state."""
    with Progress(f"building index {name}", total=100, unit="%", silent=silent) as progress:
        while True:
            state = index_state(driver, name, database)
            if state is None:
                raise GraphrecError(f"index {name} does not exist (dropped while building?)")
            if state["state"] == "FAILED":
                raise GraphrecError(f"Neo4j index {name} failed to build")
            progress.update(int(state["percent"]) - progress.done)
            if state["state"] == "ONLINE":
                return state
            time.sleep(poll_seconds)


POPULAR_KEY = "popular"
POPULAR_SIZE = 2000  # most-followed accounts kept for the popular pool


def refresh_popular(
    driver: neo4j.Driver, database: str | None = None, limit: int = POPULAR_SIZE
) -> None:
    """Recompute the most-followed accounts the popular pool reads (after every load)."""
    write(driver, "refresh_popular", database, key=POPULAR_KEY, limit=limit)


def run_in_transactions(
    driver: neo4j.Driver, name: str, database: str | None = None, /, **params: Any
) -> neo4j.ResultSummary:
    """Run a ``CALL {...} IN TRANSACTIONS`` statement, which needs an auto-commit session."""
    with errors_while(f"running {name}"), driver.session(database=database) as session:
        return session.run(query(name), params).consume()


def delete_in_pages(
    driver: neo4j.Driver,
    name: str,
    database: str | None = None,
    batch_size: int = 10_000,
    progress: Progress | None = None,
) -> int:
    """Run the page statement ``name`` (it deletes up to ``$batch_size`` things and returns
    ``deleted``), one transaction each, until a page deletes nothing; returns the total."""
    total = 0
    while True:
        records = _run(
            driver, name, neo4j.RoutingControl.WRITE, database, {"batch_size": batch_size}
        ).records
        deleted = int(records[0]["deleted"])
        if not deleted:
            return total
        total += deleted
        if progress is not None:
            progress.update(deleted)


def reset_graph(
    driver: neo4j.Driver,
    database: str | None = None,
    batch_size: int = 10_000,
    silent: bool = True,
) -> None:
    """Delete every node, relationship, index and constraint graphrec created."""
    for name, label in (
        ("delete_relationships_page", "relationships"),
        ("delete_nodes_page", "nodes"),
    ):
        with Progress(f"deleting {label}", unit=label, silent=silent) as progress:
            delete_in_pages(driver, name, database, batch_size, progress)
    for index in (VECTOR_INDEX, ACCOUNT_INDEX):
        write(driver, "drop_index", database, name=index)
    for constraint in ("user_uid", "graphrec_meta_key"):
        write(driver, "drop_constraint", database, name=constraint)


def server_version(driver: neo4j.Driver, database: str | None = None) -> str:
    """'5.26.30 community', as the server reports itself."""
    record = read(driver, "dbms_components", database)[0]
    return f"{record['version']} {record['edition']}"


def offline_databases(driver: neo4j.Driver) -> list[neo4j.Record]:
    """The server's databases that are not online, with the reason Neo4j gives."""
    records = read(driver, "show_databases", "system")
    return [r for r in records if r["status"] != "online"]
