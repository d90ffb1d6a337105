"""Fit the ranker (logistic regression over NeuMF score + graph evidence) on TRAINING follows.

The examples come from the model's validation follows (MODEL_DIR/validation.npz): training
follows the model itself never saw, so its score on them is as honest as on a new follow.
For a seeded sample of them (one per user) the follow is hidden from this run's queries
(graphrec.evaluation.holdout), together with the model's test hold-out, so neither is
visible to the run while ``recommend`` still sees both; the pools run on what is left, and
every candidate is labelled 1 when it is the hidden account. Models without a validation
file fall back to hiding a random training follow, which the model did see, so its score is
over-confident there; recommend uses the ranker only when it was fitted for the same model
version.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import neo4j
import numpy as np

from graphrec import store
from graphrec.errors import GraphrecError
from graphrec.evaluation.holdout import hidden_follows, widened
from graphrec.model.artifacts import VALIDATION, read_pairs, require_model_dir
from graphrec.progress import Progress
from graphrec.recommend import rank
from graphrec.recommend.pools import PoolConfig
from graphrec.recommend.service import Recommender, UserState


def _random_training_follows(
    driver: neo4j.Driver,
    database: str | None,
    test_pairs: np.ndarray,
    n_users: int,
    rng: np.random.Generator,
) -> list[tuple[int, int]]:
    """One random non-test follow each for up to ``n_users`` users with >= 3 follows."""
    test = {(int(u), int(f)) for u, f in test_pairs}
    rows = list(store.read(driver, "sample_followers", database, min_follows=3))
    rng.shuffle(rows)
    hidden: list[tuple[int, int]] = []
    for r in rows[: n_users * 2]:
        options = [f for f in r["follows"] if (r["uid"], f) not in test]
        if len(options) >= 2:
            hidden.append((int(r["uid"]), int(options[rng.integers(len(options))])))
        if len(hidden) >= n_users:
            break
    return hidden


def candidate_examples(
    recommender: Recommender, user: UserState, target: int, k: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Features of one user's merged pool, labels (1 = target), and whether target is in it."""
    pools = recommender.candidates(user, k)
    cands = list(pools.candidates.values())
    scores = recommender.model_scores(user.uid, [c.uid for c in cands], pools.user_vector)
    x = rank.features(cands, scores)
    y = np.array([c.uid == target for c in cands], dtype=np.float64)
    return x, y, bool(y.any())


def fit_ranker(
    driver: neo4j.Driver,
    database: str | None,
    model_dir: str | Path,
    n_users: int = 500,
    seed: int = 0,
    k: int = 20,
    config: PoolConfig | None = None,
    workers: int = 2,
    silent: bool = False,
) -> dict:
    """Fit and save ``ranker.json``; returns figures about the fit."""
    model_dir = require_model_dir(model_dir)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    test_pairs = read_pairs(model_dir)
    validation = read_pairs(model_dir, VALIDATION)
    if len(validation):
        picked = rng.permutation(len(validation))[:n_users]
        hidden = [(int(u), int(f)) for u, f in validation[np.sort(picked)]]
        source = "validation"
    else:
        hidden = _random_training_follows(driver, database, test_pairs, n_users, rng)
        source = "training"
    if not hidden:
        raise GraphrecError("no follows to fit a ranker on; load a graph and train first")
    xs, ys = [], []
    found = 0
    pairs = [*map(tuple, test_pairs.tolist()), *hidden]
    with hidden_follows(driver, pairs, database, silent=silent) as invisible:
        follows = int(store.read(driver, "count_graph", database)[0]["follows"])
        config = widened(config or PoolConfig(), invisible.hidden, follows)
        recommender = Recommender(
            driver, database, model_dir, config, use_ranker=False, hidden=invisible.run
        )

        def one(pair: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, bool]:
            return candidate_examples(recommender, recommender.user(pair[0]), pair[1], k)

        with (
            Progress("fit-ranker", total=len(hidden), unit="users", silent=silent) as progress,
            ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            for x, y, hit in pool.map(one, hidden):
                progress.update(1)
                found += hit
                if hit:  # users whose hidden follow is not in the pool teach nothing here
                    xs.append(x)
                    ys.append(y)
    if not xs:
        x_all = np.zeros((0, len(rank.FEATURES)))
        y_all = np.zeros(0)
    else:
        x_all, y_all = np.vstack(xs), np.concatenate(ys)
    if y_all.sum() < 2 or y_all.sum() == len(y_all):
        raise GraphrecError(
            f"too few positive examples to fit a ranker ({int(y_all.sum())} of {len(y_all)}); "
            "try more --users"
        )
    coef, intercept, mean, std = rank.fit_logistic(x_all, y_all)
    info = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "users": len(hidden),
        "hidden_follows": source,
        "users_with_hidden_in_pool": found,
        "examples": int(len(y_all)),
        "positives": int(y_all.sum()),
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 2),
    }
    version = recommender.scorer.version if recommender.scorer else ""
    ranker = rank.Ranker(coef, intercept, mean, std, version, info)
    path = ranker.save(model_dir)
    return {
        **info,
        "pool_recall": round(found / max(1, len(hidden)), 4),
        "coefficients": dict(zip(rank.FEATURES, np.round(coef, 4).tolist(), strict=True)),
        "path": str(path),
    }
