"""Negative sampling in numpy (no TensorFlow): uniform accounts, never a known positive.

Training examples are drawn a chunk at a time (:func:`example_chunks`), so an epoch of tens
of millions of follows never sits in memory at once. Pairs are encoded as one int64 key
``user * n_ids + item`` so membership in the set of known follows (:class:`KnownPairs`) is
vectorised: a bit filter, then ``searchsorted`` against one sorted array.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from graphrec.numeric import unique_sorted

MAX_ROUNDS = 64


def pair_keys(users: np.ndarray, items: np.ndarray, n_ids: int) -> np.ndarray:
    return np.asarray(users, np.int64) * np.int64(n_ids) + np.asarray(items, np.int64)


class KnownPairs:
    """Every known (user, item) follow as sorted int64 keys, with a bit filter in front.

    Membership is one binary search per pair, and a binary search over tens of millions of
    keys misses the cache at almost every step. The filter (one hashed bit per key, about
    ``FILTER_BITS_PER_KEY`` bits per key) answers "certainly not known" for most sampled
    pairs with one memory read; only the few it lets through are searched.
    """

    def __init__(self, keys: np.ndarray, n_ids: int) -> None:
        self.keys = keys
        self.n_ids = n_ids
        self._shift = np.uint64(
            64 - max(6, int(np.ceil(np.log2(max(keys.size, 1) * FILTER_BITS_PER_KEY))))
        )
        self._bits = np.zeros(1 << (64 - int(self._shift) - 3), np.uint8)
        slot = self._slot(keys)
        np.bitwise_or.at(self._bits, slot >> np.uint64(3), _bit(slot))

    @property
    def size(self) -> int:
        return int(self.keys.size)

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        return (keys.view(np.uint64) * _HASH) >> self._shift

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each (user, item) pair is known."""
        q = pair_keys(users, items, self.n_ids)
        found = np.zeros(q.shape, dtype=bool)
        if self.keys.size == 0:
            return found
        slot = self._slot(q)
        maybe = np.flatnonzero(self._bits[slot >> np.uint64(3)] & _bit(slot))
        pos = np.minimum(np.searchsorted(self.keys, q.flat[maybe]), self.keys.size - 1)
        found.flat[maybe] = self.keys[pos] == q.flat[maybe]
        return found

    def followed(self, user: int) -> np.ndarray:
        """The items ``user`` is known to follow."""
        lo, hi = np.searchsorted(self.keys, [user * self.n_ids, (user + 1) * self.n_ids])
        return self.keys[lo:hi] - user * self.n_ids

    def follow_counts(self) -> np.ndarray:
        """Known follows per user index."""
        edges = np.arange(self.n_ids + 1, dtype=np.int64) * self.n_ids
        return np.diff(np.searchsorted(self.keys, edges))


FILTER_BITS_PER_KEY = 16
_HASH = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * 2^64/phi


def _bit(slot: np.ndarray) -> np.ndarray:
    return np.left_shift(np.uint8(1), (slot & np.uint64(7)).astype(np.uint8))


def known_pairs(users: np.ndarray, items: np.ndarray, n_ids: int) -> KnownPairs:
    """Every known (user, item) follow."""
    return KnownPairs(unique_sorted(pair_keys(users, items, n_ids)), n_ids)


def sample_negatives(
    users: np.ndarray,
    known: KnownPairs,
    rng: np.random.Generator,
) -> np.ndarray:
    """One uniformly drawn account per entry of ``users`` that the user does not follow.

    Collisions with known follows (``known``, which must include held-out pairs) or with the
    user itself are redrawn. A user who follows every other account gets -1 (callers drop it).
    """
    n_ids = known.n_ids
    users = np.asarray(users, np.int64)
    items = rng.integers(0, n_ids, size=users.size, dtype=np.int64)
    bad = np.flatnonzero(known.contains(users, items) | (items == users))
    rounds = 0
    while bad.size and rounds < MAX_ROUNDS:
        items[bad] = rng.integers(0, n_ids, size=bad.size, dtype=np.int64)
        still = known.contains(users[bad], items[bad]) | (items[bad] == users[bad])
        bad = bad[still]
        rounds += 1
    for j in bad:  # users who follow almost everyone: draw from the explicit complement
        u = int(users[j])
        free = np.setdiff1d(np.arange(n_ids), np.append(known.followed(u), u))
        items[j] = rng.choice(free) if free.size else -1
    return items


CHUNK_EXAMPLES = 1 << 20


def example_chunks(
    users: np.ndarray,
    items: np.ndarray,
    known: KnownPairs,
    negatives: int,
    rng: np.random.Generator,
    chunk_examples: int = CHUNK_EXAMPLES,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of examples, a chunk at a time: (users, items, labels, weights).

    The positives are visited in a fresh random order; each chunk holds about
    ``chunk_examples`` examples, its positives plus ``negatives`` fresh negatives each,
    shuffled together. Memory is that of a chunk, never of the epoch. Indices are int32; a
    negative that cannot be drawn (the user follows everyone) stays in place with weight 0,
    so every epoch has exactly ``len(users) * (1 + negatives)`` examples.
    """
    users = np.asarray(users)
    items = np.asarray(items)
    per_chunk = max(1, chunk_examples // (1 + negatives))
    index_type = np.int32 if users.size < 2**31 else np.int64
    order = rng.permutation(np.arange(users.size, dtype=index_type))
    for start in range(0, users.size, per_chunk):
        rows = order[start : start + per_chunk]
        pos_users, pos_items = users[rows].astype(np.int64), items[rows].astype(np.int64)
        neg_users = np.repeat(pos_users, negatives)
        neg_items = sample_negatives(neg_users, known, rng)
        weights = np.ones(rows.size * (1 + negatives), np.float32)
        weights[rows.size :] = neg_items >= 0
        labels = np.zeros(weights.size, np.float32)
        labels[: rows.size] = 1.0
        chunk_users = np.concatenate([pos_users, neg_users]).astype(np.int32)
        chunk_items = np.concatenate([pos_items, np.maximum(neg_items, 0)]).astype(np.int32)
        mix = rng.permutation(weights.size)
        yield chunk_users[mix], chunk_items[mix], labels[mix], weights[mix]
