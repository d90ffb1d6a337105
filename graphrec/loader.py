"""Writing a validated follow list into Neo4j.

Online path (``load_follows``): schema first, then users (``MERGE`` in batches), then follows in
batches of whole out-lists, each batch one parameterised ``UNWIND`` transaction. Batches run on
``workers`` sessions at once; they cover disjoint follower ranges, so no two hold the same
follow. Follows are ``CREATE``d when the database held no FOLLOWS at all when the load began
(every pair in the file is distinct, so nothing can be created twice) and ``MERGE``d otherwise;
so loading twice, or re-running an interrupted load, converges on the same graph. Loads take
the graph's ``load`` lock (graphrec.locks): a second load waits, then merges. A batch that
the driver retries (e.g. the commit's outcome was lost with the connection) is re-run with
``MERGE``.

Bulk path (``bulk_load``): ``neo4j-admin database import full`` into an empty database of the
local server, which is stopped for the import and started again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import neo4j
import numpy as np

from graphrec import store
from graphrec.bounded import map_bounded, map_bounded_retrying
from graphrec.errors import Deadlocked, GraphrecError, StateConflict
from graphrec.io import Follows
from graphrec.locks import graph_lock
from graphrec.numeric import unique_sorted
from graphrec.progress import Progress
from graphrec.server.process import LocalServer
from graphrec.settings import Settings

DEFAULT_BATCH_SIZE = 100_000
DEFAULT_WORKERS = 2
LOCK = "load"
USER_BATCH_SIZE = 10_000
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class FollowBatch:
    """Follows of consecutive followers: ``fids`` are the distinct targets, rows index them."""

    fids: list[int]
    rows: list[list]  # [uid, [index into fids, ...]]
    size: int


def follow_batches(follows: Follows, batch_size: int) -> Iterator[FollowBatch]:
    """Cut (uid, fid)-sorted follows into batches of about ``batch_size`` whole out-lists."""
    uid, fid = follows.uid, follows.fid
    n = uid.shape[0]
    if n == 0:
        return
    starts = np.concatenate(([0], np.flatnonzero(uid[1:] != uid[:-1]) + 1))
    # The first out-list start at or after each multiple of batch_size closes a batch.
    cuts = unique_sorted(np.searchsorted(starts, np.arange(batch_size, n, batch_size)))
    cuts = cuts[cuts < starts.size]
    bounds = [0, *starts[cuts].tolist(), n]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi <= lo:
            continue
        targets, index = np.unique(fid[lo:hi], return_inverse=True)
        u = uid[lo:hi]
        group = np.concatenate(([0], np.flatnonzero(u[1:] != u[:-1]) + 1, [hi - lo]))
        idx = index.tolist()
        rows = [
            [s_uid, idx[a:b]]
            for s_uid, a, b in zip(
                u[group[:-1]].tolist(), group[:-1].tolist(), group[1:].tolist(), strict=True
            )
        ]
        yield FollowBatch(fids=targets.tolist(), rows=rows, size=hi - lo)


def _write_follows(
    driver: neo4j.Driver, database: str | None, batch: FollowBatch, create: bool
) -> int:
    """One batch in one managed transaction; a retried attempt switches to MERGE."""
    attempts = 0

    def work(tx: neo4j.ManagedTransaction) -> int:
        nonlocal attempts
        attempts += 1
        name = "create_follows" if create and attempts == 1 else "merge_follows"
        result = tx.run(store.query(name), fids=batch.fids, rows=batch.rows)
        return result.consume().counters.relationships_created

    with store.errors_while("writing follows"), driver.session(database=database) as session:
        return session.execute_write(work)


def graph_counts(driver: neo4j.Driver, database: str | None = None) -> dict:
    """Users and follows in the whole database."""
    record = store.read(driver, "count_graph", database)[0]
    return {"users": record["users"], "follows": record["follows"]}


def load_users(
    driver: neo4j.Driver,
    uids: np.ndarray,
    database: str | None = None,
    silent: bool = False,
    workers: int = 1,
) -> int:
    """MERGE one User per uid (batches on ``workers`` sessions); returns how many were new."""

    def write(batch: list[int]) -> int:
        return store.write(driver, "merge_users", database, uids=batch).counters.nodes_created

    created = 0
    with Progress("users", total=int(uids.size), unit="users", silent=silent) as bar:
        for batch, new in map_bounded(
            write, store.batched(uids.tolist(), USER_BATCH_SIZE), workers
        ):
            created += new
            bar.update(len(batch))
    return created


def load_follows(
    driver: neo4j.Driver,
    follows: Follows,
    database: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    silent: bool = False,
) -> dict:
    """Write ``follows`` (already cleaned) into Neo4j; returns this load's figures."""
    if batch_size < 1 or workers < 1:
        raise ValueError("batch_size and workers must be >= 1")
    start = time.monotonic()
    store.ensure_schema(driver, database)
    what = f"a load of {len(follows):,} follows"
    # one load at a time: two that both found no FOLLOWS would both CREATE the pairs they share
    with graph_lock(driver, LOCK, what, database, silent=silent):
        create = graph_counts(driver, database)["follows"] == 0
        users_created, created = _write_all(
            driver, follows, database, batch_size, workers, create, silent
        )
        store.refresh_popular(driver, database)
    return _report(follows, start, users_created, created, "create" if create else "merge")


def _write_all(
    driver: neo4j.Driver,
    follows: Follows,
    database: str | None,
    batch_size: int,
    workers: int,
    create: bool,
    silent: bool,
) -> tuple[int, int]:
    """Users, then follows in parallel batches; (users created, follows created)."""
    users_created = load_users(driver, follows.users(), database, silent, workers)
    created = 0

    def write(batch: FollowBatch) -> int:
        return _write_follows(driver, database, batch, create)

    with Progress("follows", total=len(follows), unit="follows", silent=silent) as bar:
        batches = follow_batches(follows, batch_size)
        for batch, new in map_bounded_retrying(write, batches, workers, Deadlocked):
            created += new
            bar.update(batch.size)
    return users_created, created


def _report(
    follows: Follows, start: float, users_created: int, follows_created: int, mode: str
) -> dict:
    """What ``graphrec load`` prints: the file's figures and what this load wrote."""
    return {
        "users": int(follows.users().size),
        "follows": len(follows),
        "skipped": follows.skipped,
        "seconds": round(time.monotonic() - start, 3),
        "rows": follows.rows,
        "self_loops": follows.self_loops,
        "duplicates": follows.duplicates,
        "users_created": users_created,
        "follows_created": follows_created,
        "mode": mode,
    }


# -- bulk import -------------------------------------------------------------------------------


def _require_local(settings: Settings, server: LocalServer) -> None:
    uri = urlparse(settings.uri)
    if uri.hostname not in LOCAL_HOSTS or (uri.port or 7687) != server.bolt_port:
        raise GraphrecError(
            f"--bulk works only with the local server `graphrec neo4j start` runs "
            f"({server.bolt_uri}), not {settings.uri}: load without --bulk"
        )
    if not server.is_running():
        raise GraphrecError(
            f"--bulk needs the local server at {server.home} running: `graphrec neo4j start`"
        )


def _write_import_csv(server: LocalServer, follows: Follows) -> tuple[Path, Path]:
    server.import_dir.mkdir(parents=True, exist_ok=True)
    nodes = server.import_dir / "graphrec-bulk-users.csv"
    rels = server.import_dir / "graphrec-bulk-follows.csv"
    nodes.write_text("uid:ID(User)\n" + "\n".join(map(str, follows.users().tolist())) + "\n")
    body = "\n".join(
        f"{u},{f}" for u, f in zip(follows.uid.tolist(), follows.fid.tolist(), strict=True)
    )
    rels.write_text(":START_ID(User),:END_ID(User)\n" + body + ("\n" if body else ""))
    return nodes, rels


def bulk_load(
    settings: Settings,
    follows: Follows,
    server: LocalServer | None = None,
    silent: bool = False,
    log=None,
) -> dict:
    """Import ``follows`` with neo4j-admin into the local server's EMPTY database."""
    server = server or LocalServer.from_env()
    log = log or (lambda message: None)
    database = settings.database or "neo4j"
    _require_local(settings, server)
    start = time.monotonic()
    driver = store.open_driver(settings)
    try:
        nodes = store.read(driver, "count_nodes", database)[0]["nodes"]
    finally:
        driver.close()
    if nodes:
        raise StateConflict(
            f"--bulk imports into an empty database only, and {database!r} holds {nodes:,} "
            "nodes: run `graphrec reset` first, or load without --bulk"
        )
    phases: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 3)
        mark = now

    node_csv, rel_csv = _write_import_csv(server, follows)
    phase("write_csv")
    try:
        log("stopping Neo4j for the import")
        server.stop(log=log)
        phase("stop_server")
        done = server.admin(
            "database",
            "import",
            "full",
            f"--nodes=User={node_csv}",
            f"--relationships=FOLLOWS={rel_csv}",
            "--id-type=INTEGER",
            "--overwrite-destination=true",
            f"--report-file={server.home / 'logs' / 'import.report'}",
            database,
        )
        phase("neo4j_admin_import")
    finally:
        log("starting Neo4j again")
        server.start(log=log)
        phase("start_server")
        node_csv.unlink(missing_ok=True)
        rel_csv.unlink(missing_ok=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise GraphrecError(f"neo4j-admin database import failed:\n{tail}")
    driver = store.open_driver(settings)
    try:
        store.ensure_schema(driver, settings.database)
        store.refresh_popular(driver, settings.database)
        counts = graph_counts(driver, settings.database)
    finally:
        driver.close()
    phase("create_schema")
    report = _report(follows, start, counts["users"], counts["follows"], "bulk")
    report["phases"] = phases
    return report
