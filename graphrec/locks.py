"""Graph-wide locks that several graphrec processes (on any machine) respect.

A lock is a ``GraphrecMeta`` node in the database itself, held by one random holder id under a
lease that a background thread renews. A process that dies (even by SIGKILL) stops renewing:
the next process to ask takes the lock over at once when the dead one ran on the same machine
(its pid is gone), otherwise when the lease runs out, and is told that the earlier holder went
away (``Lock.stale``), so it can repair what that one left half-done.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import neo4j

from graphrec import store
from graphrec.errors import GraphrecError

LEASE_SECONDS = 60.0
POLL_SECONDS = 1.0


class LockTimeout(GraphrecError):
    """Another process held a graph lock for longer than the caller would wait."""


@dataclass(frozen=True)
class Lock:
    key: str
    holder: str
    stale: str | None  # the holder before us, if it went away without releasing


def ensure_lock_schema(driver: neo4j.Driver, database: str | None = None) -> None:
    """The uniqueness constraint that makes the lock node one node (idempotent)."""
    try:
        store.write(driver, "create_meta_constraint", database)
    except GraphrecError:  # another process created it at the same moment
        time.sleep(0.5)
        store.write(driver, "create_meta_constraint", database)


def _acquire(
    driver: neo4j.Driver,
    database: str | None,
    key: str,
    holder: str,
    what: str,
    lease: float,
    dead: str | None = None,
) -> neo4j.Record:
    return store.write_read(
        driver,
        "acquire_lock",
        database,
        key=key,
        holder=holder,
        what=what,
        lease_ms=int(lease * 1000),
        host=socket.gethostname(),
        pid=os.getpid(),
        dead=dead,
    )[0]


def _gone(record: neo4j.Record) -> bool:
    """Whether the holder described by ``record`` was a process of this machine that has
    ended."""
    if record["host"] != socket.gethostname() or record["pid"] is None:
        return False
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@contextmanager
def graph_lock(
    driver: neo4j.Driver,
    key: str,
    what: str,
    database: str | None = None,
    timeout: float | None = None,
    lease: float = LEASE_SECONDS,
    silent: bool = False,
) -> Iterator[Lock]:
    """Hold the lock ``key`` for the block, waiting for another holder (at most ``timeout``
    seconds; None: as long as it takes). ``what`` tells a waiting process who has it."""
    ensure_lock_schema(driver, database)
    holder = uuid.uuid4().hex
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        record = _acquire(driver, database, key, holder, what, lease)
        if not record["taken"] and _gone(record):
            record = _acquire(driver, database, key, holder, what, lease, dead=record["holder"])
        if record["taken"]:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise LockTimeout(
                f"the graph is locked by another graphrec process ({record['what']}, since "
                f"{record['since']}); try again when it has finished"
            )
        if not told and not silent:
            print(
                f"waiting for another graphrec process to finish ({record['what']}, since "
                f"{record['since']}) ...",
                file=sys.stderr,
            )
            told = True
        time.sleep(POLL_SECONDS)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease / 4):
            # the server may be away for now; the next renewal tries again
            with contextlib.suppress(GraphrecError):
                _acquire(driver, database, key, holder, what, lease)

    renewer = threading.Thread(target=renew, name=f"graphrec-lock-{key}", daemon=True)
    renewer.start()
    try:
        yield Lock(key, holder, record["stale"])
    finally:
        stop.set()
        renewer.join()
        with contextlib.suppress(GraphrecError):  # unreachable: the lease runs out on its own
            store.write(driver, "release_lock", database, key=key, holder=holder)
