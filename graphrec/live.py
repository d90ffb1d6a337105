"""Changes as they happen, one or a few at a time: follow, unfollow, block, dismiss, and
impressions (an account shown to a user).

`graphrec follow/unfollow/block/dismiss` and the HTTP API share these functions. Each call is
one transaction for all its pairs, idempotent (a repeat changes nothing), and a new follow gets
its relation embedding in the same transaction, computed by the numpy scorer when the model
knows both uids: the relationship is in the vector index, and counts in the user's next
recommendation, without retraining. Bad pairs are refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import neo4j
import numpy as np

from graphrec import store
from graphrec.embed import model_tag
from graphrec.errors import BadInput, UnknownUser
from graphrec.model.scorer import NumpyScorer

# kind -> the named Cypher that marks it
MARKS = {"block": "live_block", "dismiss": "live_dismiss", "impression": "live_impression"}
UID_RANGE = (-(2**63), 2**63 - 1)  # what a Neo4j integer holds


@dataclass(frozen=True)
class Pair:
    """One user and one account."""

    uid: int
    fid: int


def pairs_of(items: Iterable[tuple[object, object]]) -> list[Pair]:
    """Checked pairs: integer uids in Neo4j's range, no self-pair; BadInput names the
    first bad one (by position) and nothing is written."""
    out = []
    for n, (uid, fid) in enumerate(items, 1):
        for field, value in (("uid", uid), ("fid", fid)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInput(f"pair {n}: {field} must be an integer, got {value!r}")
            if not UID_RANGE[0] <= value <= UID_RANGE[1]:
                raise BadInput(f"pair {n}: {field} {value} is out of range")
        if uid == fid:
            raise BadInput(f"pair {n}: a user cannot follow, block or dismiss itself ({uid})")
        out.append(Pair(int(uid), int(fid)))  # type: ignore[call-overload]
    if not out:
        raise BadInput("no pairs given")
    return out


def follow(
    driver: neo4j.Driver,
    pairs: list[Pair],
    scorer: NumpyScorer | None = None,
    database: str | None = None,
) -> list[dict]:
    """Create the follows (and users) that are missing; each result says whether the follow
    is new and whether it got its relation embedding ("written"), or why not."""
    embeddings: list[list[float] | None] = [None] * len(pairs)
    reason = "no model"
    if scorer is not None:
        users = scorer.index_of([p.uid for p in pairs])
        items = scorer.index_of([p.fid for p in pairs])
        known = (users >= 0) & (items >= 0)
        if known.any():
            vectors = scorer.index_embedding(users[known], items[known]).astype(np.float64)
            for j, vector in zip(np.flatnonzero(known), vectors, strict=True):
                embeddings[j] = vector.tolist()
        reason = "unknown to the model"
    records = store.write_read(
        driver,
        "live_follow",
        database,
        rows=[
            {"uid": p.uid, "fid": p.fid, "embedding": e}
            for p, e in zip(pairs, embeddings, strict=True)
        ],
        model=model_tag(scorer.version) if scorer is not None else None,
    )
    return [
        {
            "uid": int(r["uid"]),
            "fid": int(r["fid"]),
            "created": bool(r["created"]),
            "embedding": "written" if e is not None else reason,
        }
        for r, e in zip(records, embeddings, strict=True)
    ]


def unfollow(driver: neo4j.Driver, pairs: list[Pair], database: str | None = None) -> list[dict]:
    """Delete the follows that exist; each result says whether there was one."""
    records = store.write_read(
        driver, "live_unfollow", database, rows=[{"uid": p.uid, "fid": p.fid} for p in pairs]
    )
    return [
        {"uid": int(r["uid"]), "fid": int(r["fid"]), "deleted": bool(r["deleted"])} for r in records
    ]


def mark(
    driver: neo4j.Driver, kind: str, pairs: list[Pair], database: str | None = None
) -> list[dict]:
    """Block, dismiss or count an impression of (``kind``) accounts for users. Both uids must
    be in the graph: if one of them is not, nothing is written and UnknownUser names it."""
    if kind not in MARKS:
        raise BadInput(f"unknown kind {kind!r}: one of {', '.join(MARKS)}")
    rows = [{"uid": p.uid, "fid": p.fid} for p in pairs]
    records = store.write_read(driver, MARKS[kind], database, rows=rows)
    missing = [r for r in records if not r["found"]]
    if missing:
        r = missing[0]
        raise UnknownUser(
            f"cannot {kind} {r['fid']} for {r['uid']}: both users must be in the graph; "
            "nothing was written"
        )
    return [
        {"uid": int(r["uid"]), "fid": int(r["fid"]), "created": bool(r["created"])} for r in records
    ]
