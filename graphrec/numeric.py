"""Array helpers shared by the data, model and evaluation code."""

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
