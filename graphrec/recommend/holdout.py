"""Hide follows from everything that reads the graph, for as long as an evaluation runs.

Held-out follows become ``HELDOUT`` relationships (same properties), so no pool, no vector
index query and no degree count sees them; they are turned back into ``FOLLOWS`` in
``finally``, and any left over by an interrupted run are restored before a new run starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import neo4j

from graphrec import store


def held_out_count(driver: neo4j.Driver, database: str | None = None) -> int:
    return int(store.read(driver, "count_held_out", database)[0]["held_out"])


def restore(driver: neo4j.Driver, database: str | None = None, batch_size: int = 10_000) -> int:
    """Turn every HELDOUT relationship back into a FOLLOWS; returns how many there were."""
    before = held_out_count(driver, database)
    if before:
        store.run_in_transactions(driver, "restore_held_out", database, batch_size=batch_size)
    return before


@contextmanager
def held_out(
    driver: neo4j.Driver,
    pairs: Iterable[tuple[int, int]],
    database: str | None = None,
    batch_size: int = 5_000,
) -> Iterator[int]:
    """Within the block the (uid, fid) follows are absent from the graph; yields how many.

    The popular pool's cached list is recounted on the way in and out, so that follower
    counts never include the held-out follows.
    """
    restore(driver, database)
    rows = [[int(u), int(f)] for u, f in pairs]
    moved = 0
    try:
        for batch in store.batched(rows, batch_size):
            summary = store.write(driver, "hold_out_follows", database, rows=batch)
            moved += summary.counters.relationships_created
        store.refresh_popular(driver, database)
        yield moved
    finally:
        restore(driver, database)
        store.refresh_popular(driver, database)
