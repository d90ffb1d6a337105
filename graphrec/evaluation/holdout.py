"""Hide follows from one evaluation run's queries, and from nothing else.

An evaluation (``evaluate --pipeline``, ``fit-ranker``) must see the graph without its
held-out follows, while ``recommend`` running beside it must see every follow. So nothing is
moved: the held-out FOLLOWS are marked with the run's id (``hide_follows``), the run's
``Recommender`` passes that id to every pool query as ``$hidden``, and the queries skip and
uncount the marked follows only then. Serving passes ``$hidden = null`` and never reads a
mark. docs/recommend.md gives the reasons for this design over the alternatives.

Runs take the graph's ``evaluation`` lock, so one runs at a time (a second one waits): a
follow holds one run's mark. A run killed even by SIGKILL leaves marks that hide nothing
(they name a run that is gone); the next run takes the lock over (graphrec.locks says when)
and clears them. Graphs from before this design may hold ``HELDOUT`` relationships
from a killed run; those are turned back into FOLLOWS first.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import neo4j

from graphrec import store
from graphrec.locks import graph_lock
from graphrec.progress import Progress
from graphrec.recommend.pools import PoolConfig

LOCK = "evaluation"


@dataclass(frozen=True)
class HiddenFollows:
    run: str  # what the pool queries get as $hidden
    pairs: frozenset[tuple[int, int]]  # (uid, fid)
    hidden: int  # how many of the pairs were follows in the graph

    def of(self, uid: int) -> set[int]:
        """The accounts ``uid`` follows that the run hides."""
        return {f for u, f in self.pairs if u == uid}


def held_out_count(driver: neo4j.Driver, database: str | None = None) -> int:
    """HELDOUT relationships left by graphrec versions that moved held-out follows away."""
    return int(store.read(driver, "count_held_out", database)[0]["held_out"])


def restore(driver: neo4j.Driver, database: str | None = None, batch_size: int = 10_000) -> int:
    """Turn every HELDOUT relationship back into a FOLLOWS; returns how many there were."""
    before = held_out_count(driver, database)
    if before:
        store.run_in_transactions(driver, "restore_held_out", database, batch_size=batch_size)
    return before


def clear_marks(
    driver: neo4j.Driver, database: str | None = None, batch_size: int = 10_000
) -> None:
    """Remove the marks of every run (call with the evaluation lock held)."""
    for name in ("clear_hidden_follows", "clear_hidden_users"):
        store.run_in_transactions(driver, name, database, batch_size=batch_size)


def _mark(
    driver: neo4j.Driver,
    name: str,
    rows: list[list[int]],
    run: str,
    database: str | None,
    batch_size: int,
    silent: bool,
) -> int:
    done = 0
    with Progress(name.replace("_", " "), len(rows), "follows", silent=silent) as progress:
        for batch in store.batched(rows, batch_size):
            records = store.write_read(driver, name, database, rows=batch, run=run)
            done += int(records[0]["hidden"]) if records else 0
            progress.update(len(batch))
    return done


@contextmanager
def hidden_follows(
    driver: neo4j.Driver,
    pairs: Iterable[tuple[int, int]],
    database: str | None = None,
    batch_size: int = 5_000,
    silent: bool = True,
) -> Iterator[HiddenFollows]:
    """Within the block, queries run with ``$hidden = result.run`` do not see the (uid, fid)
    follows; every other reader sees the graph as it is."""
    unique = sorted({(int(u), int(f)) for u, f in pairs})
    rows = [[u, f] for u, f in unique]
    with graph_lock(driver, LOCK, "an evaluation run", database, silent=silent) as lock:
        restore(driver, database)
        if lock.stale:
            clear_marks(driver, database)
        run = uuid.uuid4().hex
        try:
            hidden = _mark(driver, "hide_follows", rows, run, database, batch_size, silent)
            yield HiddenFollows(run, frozenset(unique), hidden)
        finally:
            _mark(driver, "unhide_follows", rows, run, database, batch_size, silent=True)


def widened(config: PoolConfig, hidden: int, follows: int) -> PoolConfig:
    """``config`` for a run that hides ``hidden`` of the graph's ``follows``: the relation
    vector index still holds the hidden follows (the query then drops them), so pool 1 asks it
    for proportionally more neighbours, to keep about as many visible ones as a graph without
    those follows would give."""
    if hidden <= 0 or follows <= hidden:
        return config
    return dataclasses.replace(
        config, neighbours=math.ceil(config.neighbours * follows / (follows - hidden))
    )
