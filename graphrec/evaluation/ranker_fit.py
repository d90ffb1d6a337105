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

import dataclasses
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import neo4j
import numpy as np

from graphrec import store
from graphrec.errors import GraphrecError, UnknownUser
from graphrec.evaluation.holdout import hidden_follows, widened
from graphrec.model.artifacts import VALIDATION, read_pairs, require_model_dir
from graphrec.progress import Progress
from graphrec.recommend import rank
from graphrec.recommend.pools import OPTIONAL_POOLS, Candidate, PoolConfig, PoolResult, without
from graphrec.recommend.service import GROUP, Recommender, UserState

CHOICE_K = 10  # the optional pools are chosen on HR@10 of the hidden validation follows


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


@dataclass(frozen=True)
class _Seen:
    """One user's merged pool as the fit saw it, and the hidden account to find in it."""

    cands: list[Candidate]
    scores: rank.ModelScores
    target: int
    ran: list[str]

    def view(self, dropped: frozenset[str]) -> tuple[list[Candidate], rank.ModelScores]:
        """The pool as if the ``dropped`` pools had not run."""
        if not dropped:
            return self.cands, self.scores
        rest = without(self.cands, dropped)
        position = {c.uid: j for j, c in enumerate(self.cands)}
        return rest, self.scores.rows(np.array([position[c.uid] for c in rest], np.int64))


def _seen(recommender: Recommender, user: UserState, pools: PoolResult, target: int) -> _Seen:
    cands = list(pools.candidates.values())
    scores = recommender.model_scores(
        user.uid, [c.uid for c in cands], pools.user_vector, pools.interests
    )
    return _Seen(cands, scores, target, pools.ran)


def _examples(seen: list[_Seen], dropped: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (1 = the hidden account) of the users whose pool holds it (the
    others teach nothing here)."""
    xs, ys = [np.zeros((0, len(rank.FEATURES)))], [np.zeros(0)]
    for one in seen:
        cands, scores = one.view(dropped)
        y = np.array([c.uid == one.target for c in cands], dtype=np.float64)
        if y.any():
            xs.append(rank.features(cands, scores))
            ys.append(y)
    return np.vstack(xs), np.concatenate(ys)


def _fit(seen: list[_Seen], dropped: frozenset[str]) -> tuple[rank.Ranker, int, int]:
    """The ranker fitted on the pools as if ``dropped`` had not run, with its examples and
    positives."""
    x, y = _examples(seen, dropped)
    if y.sum() < 2 or y.sum() == len(y):
        raise GraphrecError(
            f"too few positive examples to fit a ranker ({int(y.sum())} of {len(y)}); "
            "try more --users"
        )
    coef, intercept, mean, std = rank.fit_logistic(x, y)
    return rank.Ranker(coef, intercept, mean, std), len(y), int(y.sum())


def _hits(seen: list[_Seen], dropped: frozenset[str], ranker: rank.Ranker, k: int) -> np.ndarray:
    """For each user, whether the hidden account is in the top ``k``."""
    found = []
    for one in seen:
        cands, scores = one.view(dropped)
        order, _ = rank.order(cands, scores, ranker)
        found.append(one.target in {cands[i].uid for i in order[:k]})
    return np.array(found, dtype=bool)


def _within_noise(found: np.ndarray, best: np.ndarray) -> bool:
    """Whether ``found`` trails ``best`` (the same users) by at most two standard errors of
    the paired difference; one is the square root of the number of users that one of them
    finds and the other does not."""
    behind = int(best.sum()) - int(found.sum())
    return behind <= 2 * np.sqrt(np.count_nonzero(found != best))


def _seen_running(seen: list[_Seen], pools: list[str]) -> list[str]:
    """Those of ``pools`` that ran for at least one user (a pool whose index was not ONLINE,
    or whose model part is missing, never did)."""
    return [p for p in pools if any(p in one.ran for one in seen)]


def _choose_pools(seen: list[_Seen], open_choice: list[str], k: int) -> tuple[set[str], dict]:
    """The optional pools worth running: a ranker fitted on half the users ranks the other
    half's hidden accounts with and without each combination of them. Of the combinations
    within noise of the one with the most hits in the top ``k`` (``_within_noise``), the one
    with the fewest pools wins, then the one with the most hits: a pool costs queries on every
    request, so it runs only where it finds measurably more."""
    available = _seen_running(seen, open_choice)
    if not available:
        return set(), {}
    fit_on, judge_on = seen[0::2], seen[1::2]  # interleaved: the users come in uid order
    combinations = [
        frozenset(c)
        for n in range(len(available) + 1)
        for c in itertools.combinations(available, n)
    ]
    found: dict[frozenset[str], np.ndarray] = {}
    for chosen in combinations:
        dropped = frozenset(available) - chosen
        try:
            ranker, _, _ = _fit(fit_on, dropped)
            found[chosen] = _hits(judge_on, dropped, ranker, k)
        except GraphrecError:  # too few hidden follows in these pools to fit on
            found[chosen] = np.zeros(len(judge_on), dtype=bool)
    best = max(found.values(), key=lambda hits: int(hits.sum()))
    close = [c for c in combinations if _within_noise(found[c], best)]
    winner = min(close, key=lambda c: (len(c), -int(found[c].sum())))
    info = {
        "users": len(judge_on),
        "fitted_on": len(fit_on),
        f"hr@{k}": {
            "+".join(sorted(c)) or "none": round(float(found[c].mean()), 4)
            if len(judge_on)
            else 0.0
            for c in combinations
        },
        "chosen": sorted(winner),
    }
    return set(winner), info


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
    base = config or PoolConfig()
    # the optional pools left open run for every user, so that the fit can choose among them
    open_choice = [p for p in OPTIONAL_POOLS if getattr(base, p) is None]
    pairs = [*map(tuple, test_pairs.tolist()), *hidden]
    with hidden_follows(driver, pairs, database, silent=silent) as invisible:
        follows = int(store.read(driver, "count_graph", database)[0]["follows"])
        run_config = dataclasses.replace(base, **{p: True for p in open_choice})
        config = widened(run_config, invisible.hidden, follows)
        recommender = Recommender(
            driver, database, model_dir, config, use_ranker=False, hidden=invisible.run
        )

        def group(pairs: list[tuple[int, int]]) -> list[_Seen]:
            found = recommender.candidates_for([u for u, _ in pairs], k)
            missing = [u for u, _ in pairs if u not in found]
            if missing:
                raise UnknownUser(f"user {missing[0]} is no longer in the graph")
            return [_seen(recommender, *found[u], target) for u, target in pairs]

        with (
            Progress("fit-ranker", total=len(hidden), unit="users", silent=silent) as progress,
            ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            seen = []
            for results in pool.map(group, store.batched(hidden, GROUP)):
                progress.update(len(results))
                seen.extend(results)
    chosen, choice = _choose_pools(seen, open_choice, CHOICE_K)
    dropped = frozenset(open_choice) - chosen
    found = sum(any(c.uid == one.target for c in one.view(dropped)[0]) for one in seen)
    ranker, examples, positives = _fit(seen, dropped)
    # a pool the fit never saw run (its index not ONLINE yet) is not recorded: it then runs
    # as pools.RUNS_UNCHOSEN says
    ranker.pools = {
        **{p: p in chosen for p in _seen_running(seen, open_choice)},
        **{p: bool(getattr(base, p)) for p in OPTIONAL_POOLS if getattr(base, p) is not None},
    }
    info = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "users": len(hidden),
        "hidden_follows": source,
        "users_with_hidden_in_pool": found,
        "examples": examples,
        "positives": positives,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 2),
        "pool_choice": choice,
    }
    ranker.model_version = recommender.scorer.version if recommender.scorer else ""
    ranker.info = info
    path = ranker.save(model_dir)
    return {
        **info,
        "pool_recall": round(found / max(1, len(hidden)), 4),
        "coefficients": dict(zip(rank.FEATURES, np.round(ranker.coef, 4).tolist(), strict=True)),
        "pools": ranker.pools,
        "path": str(path),
    }
