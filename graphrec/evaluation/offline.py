"""``graphrec evaluate``: NeuMF against every baseline on one seeded leave-one-out split, one
ranking pass for every method (:mod:`graphrec.evaluation.metrics`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from graphrec.evaluation.baselines import (
    training_only,
    tunable,
    tuned_baselines,
    tuning_fits,
    validation_from_pairs,
)
from graphrec.evaluation.methods import (
    AdamicAdar,
    FriendsOfFriends,
    NeuMFRecommender,
    Popularity,
    Recommender,
)
from graphrec.evaluation.metrics import DEFAULT_USERS, classification_metrics, ranking_metrics
from graphrec.evaluation.tuning_memo import TuningMemo
from graphrec.model.scorer import NumpyScorer
from graphrec.model.splits import DEFAULT_SEED, Split, dense_index
from graphrec.progress import Progress

UNTUNED: tuple[Callable[[Split], Recommender], ...] = (Popularity, FriendsOfFriends, AdamicAdar)


def baselines(
    split: Split,
    include_als: bool = True,
    validation: Split | None = None,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    memo: TuningMemo | None = None,
) -> Iterator[Recommender]:
    """Popularity, friends-of-friends, Adamic-Adar, and the tuned baselines (``progress``
    counts each fit of a tuned one; ``memo`` keeps their grid searches' outcomes), each built
    when the next is asked for.

    The tuned ones (graphrec.evaluation.baselines: follow-back, RP3beta, item-KNN, EASE, and
    ALS when ``implicit`` is installed) choose their hyperparameters on ``validation`` (carved
    out of the training follows when None) and never see the test follows.
    """
    for method in UNTUNED:
        yield method(split)
    yield from tuned_baselines(
        split, validation, include_als, seed=seed, progress=progress, memo=memo
    )


def _neumf_then_baselines(
    scorer: NumpyScorer,
    split: Split,
    include_als: bool,
    validation: Split | None,
    seed: int,
    progress: Progress,
    memo: TuningMemo | None,
) -> Iterator[Recommender]:
    yield NeuMFRecommender(scorer, split)
    yield from baselines(split, include_als, validation, seed, progress, memo)


def evaluate_model(
    scorer: NumpyScorer,
    split: Split,
    n_users: int = DEFAULT_USERS,
    seed: int = DEFAULT_SEED,
    include_als: bool = True,
    validation_pairs: tuple[np.ndarray, np.ndarray] | None = None,
    silent: bool = True,
    memo: TuningMemo | None = None,
) -> dict[str, dict[str, Any]]:
    """Ranking figures for NeuMF and every baseline, plus NeuMF's classification figures.

    ``validation_pairs`` (follower uids, followed uids), e.g. the model's validation.npz:
    follows NeuMF never trained on, which the baselines then tune on too. Without them the
    baselines carve their own validation follows out of the training follows.
    """
    validation = None
    if validation_pairs is not None:
        users, items = (dense_index(scorer.uids, v) for v in validation_pairs)
        validation = validation_from_pairs(training_only(split), users, items, seed=seed)
        if validation.test_users.size == 0:  # none left in the graph: carve our own
            validation = None
    # a step per fit of a tuned baseline, then one per method ranked; the methods are built
    # one at a time and each is let go once ranked, so only one is held at once
    n_methods = 1 + len(UNTUNED) + len(tunable(include_als))
    fits = tuning_fits(split.n_ids, include_als)
    with Progress("evaluating", total=fits + n_methods, unit="steps", silent=silent) as progress:
        methods = _neumf_then_baselines(
            scorer, split, include_als, validation, seed, progress, memo
        )
        results = ranking_metrics(methods, split, n_users=n_users, seed=seed, progress=progress)
    results["neumf"].update(classification_metrics(scorer, split, seed=seed))
    return results
