"""Ranking figures of offline evaluation, one pass for every method on the same users:

* full ranking: the held-out account against every account the user does not follow in the
  training data (never the user itself) -> HR@k, NDCG@k;
* the NCF-paper protocol: the held-out account against sampled accounts the user does not
  follow at all (held-out follow included) -> ncf_hr@10, ncf_ndcg@10;
* the reference's classification figures at a 0.5 cut.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from graphrec.evaluation.methods import Recommender
from graphrec.model.sampling import sample_negatives
from graphrec.model.scorer import NumpyScorer
from graphrec.model.splits import DEFAULT_SEED, Split
from graphrec.progress import Progress

DEFAULT_USERS = 2000


def _sample_eval_users(split: Split, n_users: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = min(n_users, split.test_users.size)
    return np.sort(rng.choice(split.test_users.size, size=n, replace=False))


def ncf_negatives(
    split: Split, users: np.ndarray, n_negatives: int = 99, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """(n, n_negatives) accounts each user does not follow at all (held-out included)."""
    rng = np.random.default_rng(seed + 1)
    flat = sample_negatives(np.repeat(users, n_negatives), split.known, rng)
    return flat.reshape(len(users), n_negatives)


def _ncf_figures(rec: Recommender, users: np.ndarray, candidates: np.ndarray) -> dict[str, float]:
    """NCF protocol: the held-out account (column 0) against the sampled ones."""
    if not users.size:
        return {"ncf_hr@10": 0.0, "ncf_ndcg@10": 0.0}
    scores = rec.score_items(users, candidates)
    # rank of the held-out account among the candidates; ties count against it
    ncf_rank = (scores[:, 1:] >= scores[:, :1]).sum(axis=1)
    inside = ncf_rank < 10
    return {
        "ncf_hr@10": float(inside.mean()),
        "ncf_ndcg@10": float(np.where(inside, 1.0 / np.log2(ncf_rank + 2.0), 0.0).mean()),
    }


def ranking_metrics(
    recommenders: Iterable[Recommender],
    split: Split,
    n_users: int = DEFAULT_USERS,
    seed: int = DEFAULT_SEED,
    ks: tuple[int, ...] = (10, 50),
    n_negatives: int = 99,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """HR/NDCG at each k (full ranking) and NCF-protocol HR/NDCG@10, per method.

    ``recommenders`` may be an iterator that builds each method when asked for it.
    ``n_negatives=0`` skips the NCF protocol (full ranking only). A method's optional
    ``extra_figures`` dict (chosen hyperparameters, fit times) is added to its figures
    without replacing any of the ones measured here.
    """
    rows = _sample_eval_users(split, n_users, seed)
    users, held = split.test_users[rows], split.test_items[rows]
    candidates = None
    if n_negatives > 0:
        negatives = ncf_negatives(split, users, n_negatives, seed)
        candidates = np.concatenate([held[:, None], negatives], axis=1)
    results: dict[str, dict[str, Any]] = {}
    for rec in recommenders:
        started = time.perf_counter()
        figures: dict[str, Any] = {"users": int(users.size)}
        top = rec.top_k(users, max(ks)) if users.size else np.empty((0, max(ks)), np.int64)
        hit = top == held[:, None]
        rank = np.where(hit.any(axis=1), hit.argmax(axis=1), np.iinfo(np.int64).max)
        for k in ks:
            inside = rank < k
            figures[f"hr@{k}"] = float(inside.mean()) if users.size else 0.0
            gain = np.where(inside, 1.0 / np.log2(np.minimum(rank, k) + 2.0), 0.0)
            figures[f"ndcg@{k}"] = float(gain.mean()) if users.size else 0.0
        if candidates is not None:
            figures.update(_ncf_figures(rec, users, candidates))
        figures["seconds"] = round(time.perf_counter() - started, 3)
        for key, value in getattr(rec, "extra_figures", {}).items():
            figures.setdefault(key, value)
        results[rec.name] = figures
        if progress is not None:
            progress.update(1)
        del rec  # a lazy ``recommenders`` builds the next one without this one held
    return results


def classification_metrics(
    scorer: NumpyScorer,
    split: Split,
    negatives: int = 4,
    seed: int = DEFAULT_SEED,
    threshold: float = 0.5,
) -> dict[str, float]:
    """The reference's figures: held-out follows plus sampled non-follows, cut at 0.5."""
    rng = np.random.default_rng(seed + 2)
    neg_users = np.repeat(split.test_users, negatives)
    neg_items = sample_negatives(neg_users, split.known, rng)
    ok = neg_items >= 0
    users = np.concatenate([split.test_users, neg_users[ok]])
    items = np.concatenate([split.test_items, neg_items[ok]])
    labels = np.r_[np.ones(split.test_users.size, bool), np.zeros(ok.sum(), bool)]
    assert not split.known.contains(neg_users[ok], neg_items[ok]).any()
    predicted = scorer.score(users, items) >= threshold
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float((predicted == labels).mean()) if labels.size else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}
