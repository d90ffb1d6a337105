"""Array helpers shared by the data, model and evaluation code (numpy only)."""

from __future__ import annotations

import numpy as np


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array, as ``np.unique`` returns them.

    ``np.unique`` without ``return_inverse`` went hash-based in numpy 2.3 and then sorts its
    result, which is an order of magnitude slower than one sort on the tens of millions of
    int64 keys that training and evaluation build.
    """
    ordered = np.sort(np.asarray(values), kind="stable")
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


# (users x accounts) scores a full-ranking method holds at once (float64: 64 MB), so its
# memory stays flat however many accounts the graph has
SCORE_CELLS = 1 << 23


def users_per_batch(n_accounts: int, most: int) -> int:
    """How many users to score against ``n_accounts`` accounts at once: at most ``most``,
    and within :data:`SCORE_CELLS`."""
    return max(1, min(most, SCORE_CELLS // max(n_accounts, 1)))


def reciprocity(uid: np.ndarray, fid: np.ndarray) -> float:
    """Share of distinct non-self follows (u, v) whose reverse (v, u) is present too."""
    keep = uid != fid
    ids, dense = np.unique(np.concatenate((uid[keep], fid[keep])), return_inverse=True)
    if ids.size == 0:
        return 0.0
    n = np.int64(ids.size)
    u, v = dense[: dense.size // 2], dense[dense.size // 2 :]
    pairs = unique_sorted(u * n + v)
    reverse = (pairs % n) * n + pairs // n
    return float(np.isin(reverse, pairs).mean())
