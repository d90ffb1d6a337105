"""Splitting follows for training and evaluation: dense indices over one sorted uid array,
one held-out follow per user (``leave_one_out_split``), and the split a trained model was
trained on (``split_from_holdout``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graphrec.model.sampling import KnownPairs, known_pairs
from graphrec.numeric import unique_sorted

DEFAULT_SEED = 42


def index_follows(
    src_uids: np.ndarray, dst_uids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uids, src, dst): sorted unique uids and the follows as dense indices into them.

    Self-follows are dropped and duplicate follows collapsed; every uid that appears (even
    only in a self-follow) keeps its index.
    """
    src_uids = np.asarray(src_uids, np.int64)
    dst_uids = np.asarray(dst_uids, np.int64)
    if src_uids.shape != dst_uids.shape:
        raise ValueError("src and dst differ in length")
    uids = unique_sorted(np.concatenate([src_uids, dst_uids]))
    src = np.searchsorted(uids, src_uids)
    dst = np.searchsorted(uids, dst_uids)
    keys = unique_sorted(src[src != dst] * len(uids) + dst[src != dst])
    return uids, keys // len(uids), keys % len(uids)


@dataclass(frozen=True)
class Split:
    """Training follows and one held-out follow per test user, all as dense indices."""

    n_ids: int
    train_src: np.ndarray
    train_dst: np.ndarray
    test_users: np.ndarray
    test_items: np.ndarray

    @functools.cached_property
    def train_matrix(self) -> sp.csr_matrix:
        data = np.ones(self.train_src.size, np.float32)
        m = sp.csr_matrix((data, (self.train_src, self.train_dst)), shape=(self.n_ids,) * 2)
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    @functools.cached_property
    def known(self) -> KnownPairs:
        """Every follow, training and held-out."""
        return known_pairs(
            np.concatenate([self.train_src, self.test_users]),
            np.concatenate([self.train_dst, self.test_items]),
            self.n_ids,
        )


def leave_one_out_split(
    src: np.ndarray, dst: np.ndarray, n_ids: int, seed: int = DEFAULT_SEED, min_follows: int = 3
) -> Split:
    """Hold out one random follow of every user with at least ``min_follows`` follows.

    The split keeps the integer type of ``src`` and ``dst`` (training passes int32 indices).
    """
    src = np.asarray(src)
    dst = np.asarray(dst)
    if not np.issubdtype(src.dtype, np.integer) or src.dtype != dst.dtype:
        src, dst = src.astype(np.int64), dst.astype(np.int64)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(src.size), src))  # users in order, follows shuffled within
    s = src[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if s.size else np.array([], np.int64)
    counts = np.diff(np.r_[starts, s.size])
    picked = order[starts[counts >= min_follows]]
    keep = np.ones(src.size, bool)
    keep[picked] = False
    return Split(n_ids, src[keep], dst[keep], src[picked], dst[picked])


def dense_index(uids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The index of every value in the sorted ``uids``, -1 where it is not there."""
    values = np.asarray(values, np.int64)
    if len(uids) == 0:
        return np.full(values.shape, -1, np.int64)
    pos = np.minimum(np.searchsorted(uids, values), len(uids) - 1)
    return np.where(uids[pos] == values, pos, -1)


def split_from_holdout(
    uids: np.ndarray,
    src_uids: np.ndarray,
    dst_uids: np.ndarray,
    held_users: np.ndarray,
    held_items: np.ndarray,
) -> Split:
    """The split a model was trained on: every follow the model knows, minus its held-out ones.

    ``uids`` is the model's index; follows with an endpoint the model never saw are dropped.
    """
    n = len(uids)
    s, d = dense_index(uids, src_uids), dense_index(uids, dst_uids)
    ok = (s >= 0) & (d >= 0) & (s != d)
    keys = unique_sorted(s[ok] * n + d[ok])
    hu, hi = dense_index(uids, held_users), dense_index(uids, held_items)
    hok = (hu >= 0) & (hi >= 0)
    hu, hi = hu[hok], hi[hok]
    train_keys = np.setdiff1d(keys, hu * n + hi, assume_unique=False)
    return Split(n, train_keys // n, train_keys % n, hu, hi)
