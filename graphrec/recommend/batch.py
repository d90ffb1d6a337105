"""Many users at once: a thread pool over one shared Recommender, CSV out, progress on stderr.

Each worker thread takes a group of users and runs its own queries (the driver hands every
``execute_query`` its own session from the pool), so two workers keep the server's two cores
busy while Python merges and scores the previous group.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from graphrec import store
from graphrec.errors import InputError, UnknownUser
from graphrec.files import replacing
from graphrec.progress import Progress
from graphrec.recommend.service import GROUP, Recommendation, Recommender

CSV_COLUMNS = ("user", "rank", "uid", "score", "pools")


def read_uid_file(path: str | Path) -> list[int]:
    """One integer uid per line; blank lines and '#' comments skipped; exact line on error."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, None, f"cannot read the file ({e.__class__.__name__})") from e
    uids = []
    for number, line in enumerate(text.splitlines(), start=1):
        item = line.split("#", 1)[0].strip().split(",")[0].strip()
        if not item:
            continue
        try:
            uids.append(int(item))
        except ValueError:
            raise InputError(path, number, f"not an integer uid: {item!r}") from None
    return uids


def recommend_many(
    recommender: Recommender,
    users: Iterable[int],
    k: int = 20,
    strategy: str = "graph",
    exclude: Iterable[int] = (),
    workers: int = 2,
    silent: bool = False,
) -> Iterator[tuple[int, list[Recommendation] | None]]:
    """(user, recommendations) in input order; None for a user that is not in the graph."""
    users = list(users)
    exclude = frozenset(exclude)

    def group(uids: list[int]) -> list[tuple[int, list[Recommendation] | None]]:
        return recommender.recommend_many(uids, k, strategy, exclude)

    with (
        Progress("recommend", total=len(users), unit="users", silent=silent) as progress,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        # Bounded look-ahead keeps memory flat for very long user files.
        for chunk in store.batched(users, 256 * max(1, workers)):
            for results in pool.map(group, store.batched(chunk, GROUP)):
                progress.update(len(results))
                yield from results


def write_csv(
    recommender: Recommender,
    users: list[int],
    out: str | Path,
    k: int = 20,
    strategy: str = "graph",
    exclude: Iterable[int] = (),
    workers: int = 2,
    silent: bool = False,
) -> dict:
    """Recommendations for every user into ``out``; returns a summary (users/s included).

    Raises UnknownUser after writing the others when some users are not in the graph.
    """
    start = time.perf_counter()
    rows = 0
    missing: list[int] = []
    with replacing(out, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for uid, recs in recommend_many(recommender, users, k, strategy, exclude, workers, silent):
            if recs is None:
                missing.append(uid)
                continue
            for r in recs:
                writer.writerow((uid, r.rank, r.uid, f"{r.score:.6f}", "|".join(r.pools)))
                rows += 1
    seconds = time.perf_counter() - start
    summary = {
        "users": len(users) - len(missing),
        "rows": rows,
        "missing": len(missing),
        "workers": workers,
        "seconds": round(seconds, 3),
        "users_per_second": round((len(users) - len(missing)) / seconds, 1) if seconds else 0.0,
        "out": str(out),
    }
    if missing:
        shown = ", ".join(str(u) for u in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise UnknownUser(
            f"{len(missing)} of {len(users)} users are not in the graph: {shown} "
            f"({out} has the other {summary['users']})"
        )
    return summary
