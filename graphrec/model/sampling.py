"""Negative sampling in numpy (no TensorFlow): uniform accounts, never a known positive.

Pairs are encoded as one int64 key ``user * n_ids + item`` so membership in the set of known
follows is a vectorised ``searchsorted`` against one sorted array.
"""

from __future__ import annotations

import numpy as np

MAX_ROUNDS = 64


def pair_keys(users: np.ndarray, items: np.ndarray, n_ids: int) -> np.ndarray:
    return np.asarray(users, np.int64) * np.int64(n_ids) + np.asarray(items, np.int64)


def known_pairs(users: np.ndarray, items: np.ndarray, n_ids: int) -> np.ndarray:
    """Sorted unique keys of every known (user, item) follow."""
    return np.unique(pair_keys(users, items, n_ids))


def is_known(users: np.ndarray, items: np.ndarray, keys: np.ndarray, n_ids: int) -> np.ndarray:
    """Whether each (user, item) pair is in the sorted ``keys`` array."""
    if keys.size == 0:
        return np.zeros(np.shape(users), dtype=bool)
    q = pair_keys(users, items, n_ids)
    pos = np.minimum(np.searchsorted(keys, q), keys.size - 1)
    return keys[pos] == q


def sample_negatives(
    users: np.ndarray,
    n_ids: int,
    keys: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One uniformly drawn account per entry of ``users`` that the user does not follow.

    Collisions with known follows (``keys``, which must include held-out pairs) or with the
    user itself are redrawn. A user who follows every other account gets -1 (callers drop it).
    """
    users = np.asarray(users, np.int64)
    items = rng.integers(0, n_ids, size=users.size, dtype=np.int64)
    bad = np.flatnonzero(is_known(users, items, keys, n_ids) | (items == users))
    rounds = 0
    while bad.size and rounds < MAX_ROUNDS:
        items[bad] = rng.integers(0, n_ids, size=bad.size, dtype=np.int64)
        still = is_known(users[bad], items[bad], keys, n_ids) | (items[bad] == users[bad])
        bad = bad[still]
        rounds += 1
    for j in bad:  # users who follow almost everyone: draw from the explicit complement
        u = users[j]
        followed = keys[(keys >= u * n_ids) & (keys < (u + 1) * n_ids)] - u * n_ids
        free = np.setdiff1d(np.arange(n_ids), np.append(followed, u))
        items[j] = rng.choice(free) if free.size else -1
    return items


def training_examples(
    users: np.ndarray,
    items: np.ndarray,
    n_ids: int,
    keys: np.ndarray,
    negatives: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives plus ``negatives`` fresh negatives each, shuffled: (users, items, labels)."""
    neg_users = np.repeat(np.asarray(users, np.int64), negatives)
    neg_items = sample_negatives(neg_users, n_ids, keys, rng)
    ok = neg_items >= 0
    all_users = np.concatenate([users, neg_users[ok]])
    all_items = np.concatenate([items, neg_items[ok]])
    labels = np.concatenate([np.ones(len(users), np.float32), np.zeros(ok.sum(), np.float32)])
    order = rng.permutation(all_users.size)
    return all_users[order], all_items[order], labels[order]
