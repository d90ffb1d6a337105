"""A deterministic synthetic follow graph with the shape of a real one.

* **Heavy-tailed in-degree**: every user has a Pareto-distributed popularity, and follow targets
  are drawn in proportion to it (a few accounts collect a large share of the follows).
* **Community structure**: users belong to communities of uneven size; most follows
  (``locality``) stay inside the follower's community.
* **Reciprocity**: a share of follows (``reciprocity``) is followed back.
* Out-degrees are log-normal (many light users, a few heavy ones), at least 1.

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``, vectorised, so the
same arguments give the same graph (and ``write_follows_csv`` the same bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from graphrec.numeric import unique_sorted


@dataclass(frozen=True)
class GeneratedGraph:
    uid: np.ndarray  # int64 followers, sorted by (uid, fid); ids are 1..users
    fid: np.ndarray  # int64 followed accounts
    community: np.ndarray  # community of user i+1 (uid = index + 1)
    users: int

    def __len__(self) -> int:
        return int(self.uid.shape[0])


def _communities(rng: np.random.Generator, users: int, count: int) -> np.ndarray:
    sizes = rng.pareto(1.5, count) + 1.0
    return rng.choice(count, size=users, p=sizes / sizes.sum())


def _draw_in_community(
    rng: np.random.Generator, community: np.ndarray, weight: np.ndarray, followers: np.ndarray
) -> np.ndarray:
    """For each follower, a member of its own community drawn in proportion to weight."""
    order = np.argsort(community, kind="stable")
    comm_sorted = community[order]
    counts = np.bincount(comm_sorted, minlength=int(community.max()) + 1)
    ends = np.cumsum(counts)
    starts = ends - counts
    cum = np.cumsum(weight[order])
    before = np.concatenate(([0.0], cum))[starts]
    totals = cum[ends - 1] - before
    # Community c occupies (c, c+1] on one axis: a single searchsorted serves all of them.
    key = comm_sorted + (cum - before[comm_sorted]) / totals[comm_sorted]
    c = community[followers]
    pos = np.searchsorted(key, c + rng.random(followers.size), side="right")
    pos = np.clip(pos, starts[c], ends[c] - 1)
    return order[pos]


def _draw_global(rng: np.random.Generator, weight: np.ndarray, n: int) -> np.ndarray:
    cum = np.cumsum(weight)
    pos = np.searchsorted(cum / cum[-1], rng.random(n), side="right")
    return np.minimum(pos, weight.size - 1)


def generate_follows(
    users: int,
    seed: int = 0,
    avg_follows: float = 20.0,
    communities: int | None = None,
    locality: float = 0.8,
    reciprocity: float = 0.3,
) -> GeneratedGraph:
    """Draw a follow graph over uids 1..users (no self-follows, no duplicates)."""
    if users < 2:
        raise ValueError("users must be at least 2")
    if avg_follows <= 0:
        raise ValueError("avg_follows must be positive")
    if not (0.0 <= locality <= 1.0 and 0.0 <= reciprocity <= 1.0):
        raise ValueError("locality and reciprocity must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    count = communities or max(1, round(math.sqrt(users) / 3))
    community = _communities(rng, users, count)
    popularity = rng.pareto(1.2, users) + 1.0
    # Follow-backs add about `reciprocity` of the drawn follows; aim the total at avg_follows.
    base = avg_follows / (1.0 + reciprocity)
    sigma = 1.0
    drawn = rng.lognormal(math.log(base) - sigma**2 / 2, sigma, users)
    out = np.clip(np.rint(drawn), 1, users - 1).astype(np.int64)
    src = np.repeat(np.arange(users, dtype=np.int64), out)
    dst = np.empty_like(src)
    local = rng.random(src.size) < locality
    dst[local] = _draw_in_community(rng, community, popularity, src[local])
    dst[~local] = _draw_global(rng, popularity, int((~local).sum()))
    back = rng.random(src.size) < reciprocity
    src, dst = np.concatenate((src, dst[back])), np.concatenate((dst, src[back]))
    keep = src != dst
    key = unique_sorted(src[keep] * users + dst[keep])  # sorted by (src, dst), duplicates gone
    return GeneratedGraph(
        uid=key // users + 1, fid=key % users + 1, community=community, users=users
    )
