"""The whole pipeline (pools + ranking) under offline evaluation's leave-one-out protocol.

The held-out pairs are the model's own (MODEL_DIR/holdout.npz: one follow per user that the
model never trained on). They are hidden from this run's queries for the whole run
(graphrec.evaluation.holdout), so its pools, vector index results and degree counts see
exactly the training graph, while everyone else still sees every follow.

Every method is scored by ``graphrec.evaluation.metrics.ranking_metrics`` with the same split,
users and code path as the model and the baselines: "pipeline" (pools + ranker), "pool_model"
(the same merged pool ordered by NeuMF alone), one entry per pool ("pool:friends_of_friends",
..., each in its own order, with its own pool_recall), and the ablation: one entry per pool
("without:follows_you", ...), the pipeline's ranker over the merged pool as if that pool had
not run. Accounts a method does not propose rank below everything it does.
result["pipeline"]["pool_recall"] is how often the held-out account is in the merged pool at
all.
"""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import neo4j
import numpy as np

from graphrec import store
from graphrec.errors import GraphrecError, UnknownUser
from graphrec.evaluation.holdout import hidden_follows, widened
from graphrec.graph import fetch_follows
from graphrec.model.artifacts import read_pairs, require_model_dir
from graphrec.model.sampling import pair_keys
from graphrec.model.scorer import NumpyScorer
from graphrec.progress import Progress
from graphrec.recommend import rank
from graphrec.recommend.pools import POOLS, Candidate, PoolConfig, PoolResult, without
from graphrec.recommend.service import GROUP, Recommender, UserState

MODEL_ORDER = "pool_model"
DEPTH = 50  # ranking_metrics asks for the top 50


def training_follows(
    driver: neo4j.Driver, database: str | None, pairs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every FOLLOWS but the held-out (uid, fid) ``pairs``, as (src, dst) uid arrays."""
    src, dst = fetch_follows(driver, database)
    ids = np.unique(np.concatenate([src, dst, pairs.ravel()]))
    n = ids.size

    def dense(uids: np.ndarray) -> np.ndarray:
        return np.searchsorted(ids, uids)

    keep = ~np.isin(
        pair_keys(dense(src), dense(dst), n), pair_keys(dense(pairs[:, 0]), dense(pairs[:, 1]), n)
    )
    return src[keep], dst[keep]


def _pool_position(pool: str, cand: Candidate) -> int:
    return cand.evidence[pool]["position"]


# users are grouped by out-degree from these lower bounds when pool recall is broken down
OUT_DEGREE_BUCKETS = (1, 5, 20, 100)


def _share(hits: list[bool]) -> float:
    """The share of true values; 0 for none."""
    return sum(hits) / len(hits) if hits else 0.0


def _by_out_degree(found: list[bool], degrees: np.ndarray) -> dict[str, dict[str, float]]:
    """{bucket: {"users", "pool_recall"}} for users grouped by how many accounts they follow."""
    out = {}
    bounds = [*OUT_DEGREE_BUCKETS, np.iinfo(np.int64).max]
    hits = np.asarray(found, bool)
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        inside = (degrees >= low) & (degrees < high)
        name = f"{low}+" if high == bounds[-1] else f"{low}-{high - 1}"
        recall = _share(list(hits[inside]))
        out[name] = {"users": int(inside.sum()), "pool_recall": round(recall, 4)}
    return out


class _Outcomes:
    """Runs the pipeline once per evaluated user and remembers every method's ordering."""

    def __init__(
        self, recommender: Recommender, scorer: NumpyScorer, workers: int, silent: bool
    ) -> None:
        self.recommender, self.scorer = recommender, scorer
        self.workers, self.silent = workers, silent
        self.lists: dict[int, dict[str, list[int]]] = {}  # user index -> method -> item indices
        self.scores: dict[int, dict[str, dict[int, float]]] = {}
        self.in_pool: dict[int, set[int]] = {}
        self.in_each_pool: dict[int, dict[str, set[int]]] = {}
        self._lock = threading.Lock()

    def _group(self, users: list[int]) -> int:
        """Every outcome of ``users`` (indices into the model's uids); how many."""
        uids = [int(self.scorer.uids[u]) for u in users]
        found = self.recommender.candidates_for(uids, DEPTH)
        for user, uid in zip(users, uids, strict=True):
            if uid not in found:
                raise UnknownUser(f"user {uid} is in the model but no longer in the graph")
            self._one(user, *found[uid])
        return len(users)

    def _one(self, user: int, state: UserState, pools: PoolResult) -> None:
        r, s = self.recommender, self.scorer
        cands = list(pools.candidates.values())
        idx = s.index_of([c.uid for c in cands]) if cands else np.zeros(0, np.int64)
        pos = {c.uid: int(i) for c, i in zip(cands, idx, strict=True) if i >= 0}
        lists: dict[str, list[int]] = {}
        scores: dict[str, dict[int, float]] = {}

        def keep(name: str, ordered: list[Candidate], values: np.ndarray) -> None:
            lists[name] = [pos[c.uid] for c in ordered if c.uid in pos]
            scores[name] = {
                pos[c.uid]: float(v) for c, v in zip(ordered, values, strict=True) if c.uid in pos
            }

        keep("pipeline", *r.rank_candidates(state, pools))
        model_scores = r.model_scores(
            state.uid, [c.uid for c in cands], pools.user_vector, pools.interests
        )
        model = {
            pos[c.uid]: float(v)
            for c, v, k in zip(cands, model_scores.logits, model_scores.known, strict=True)
            if k and c.uid in pos
        }
        lists[MODEL_ORDER] = sorted(model, key=lambda i: -model[i])
        scores[MODEL_ORDER] = model
        by_uid = {c.uid: j for j, c in enumerate(cands)}
        in_pool: dict[str, set[int]] = {}
        for pool in POOLS:
            mine = sorted(
                (c for c in cands if pool in c.pools and c.uid in pos),
                key=functools.partial(_pool_position, pool),
            )
            lists[f"pool:{pool}"] = [pos[c.uid] for c in mine]
            scores[f"pool:{pool}"] = {pos[c.uid]: -float(j) for j, c in enumerate(mine)}
            in_pool[pool] = {pos[c.uid] for c in mine}
            rest = without(cands, {pool})
            rows = np.array([by_uid[c.uid] for c in rest], np.int64)
            order, values = rank.order(rest, model_scores.rows(rows), r.ranker)
            keep(f"without:{pool}", [rest[i] for i in order], values[order])
        with self._lock:
            self.lists[user], self.scores[user] = lists, scores
            self.in_pool[user] = set(pos.values())
            self.in_each_pool[user] = in_pool

    def ensure(self, users: np.ndarray) -> None:
        todo = sorted({int(u) for u in users} - set(self.lists))
        if not todo:
            return
        with (
            Progress("evaluate pipeline", total=len(todo), unit="users", silent=self.silent) as bar,
            ThreadPoolExecutor(max_workers=self.workers) as pool,
        ):
            for done in pool.map(self._group, store.batched(todo, GROUP)):
                bar.update(done)


class PipelineMethod:
    """One method's view of the outcomes, as a graphrec.evaluation.methods.Recommender."""

    def __init__(self, name: str, outcomes: _Outcomes) -> None:
        self.name = name
        self.outcomes = outcomes

    def top_k(self, users: np.ndarray, k: int) -> np.ndarray:
        self.outcomes.ensure(users)
        out = np.full((len(users), k), -1, dtype=np.int64)
        for row, u in enumerate(users):
            items = self.outcomes.lists[int(u)][self.name][:k]
            out[row, : len(items)] = items
        return out

    def score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        self.outcomes.ensure(users)
        out = np.full(items.shape, -np.inf)
        for row, u in enumerate(users):
            known = self.outcomes.scores[int(u)][self.name]
            out[row] = [known.get(int(i), -np.inf) for i in items[row]]
        return out


def evaluate_pipeline(
    driver: neo4j.Driver,
    database: str | None,
    model_dir: str | Path,
    n_users: int = 2000,
    seed: int = 0,
    config: PoolConfig | None = None,
    workers: int = 2,
    silent: bool = True,
) -> dict:
    """{"pipeline": {..., "pool_recall"}, "pool_model": {...}, "pool:<name>": {...}}: one
    figures dict per method, like graphrec.evaluation.metrics.ranking_metrics, so that callers
    can merge them."""
    from graphrec.evaluation.metrics import ranking_metrics
    from graphrec.model.splits import split_from_holdout

    model_dir = require_model_dir(model_dir)
    scorer = NumpyScorer.load(model_dir)
    pairs = read_pairs(model_dir)
    if len(pairs) == 0:
        raise GraphrecError(
            f"{model_dir} has no held-out follows; train with a hold-out (the default) first"
        )
    start = time.perf_counter()
    with hidden_follows(driver, map(tuple, pairs.tolist()), database, silent=silent) as hidden:
        src, dst = training_follows(driver, database, pairs)
        split = split_from_holdout(scorer.uids, src, dst, pairs[:, 0], pairs[:, 1])
        config = widened(config or PoolConfig(), hidden.hidden, src.size + hidden.hidden)
        recommender = Recommender(driver, database, model_dir, config, hidden=hidden.run)
        outcomes = _Outcomes(recommender, scorer, workers, silent)
        names = [
            "pipeline",
            MODEL_ORDER,
            *(f"pool:{p}" for p in POOLS),
            *(f"without:{p}" for p in POOLS),
        ]
        result: dict = ranking_metrics(
            [PipelineMethod(n, outcomes) for n in names], split, n_users=n_users, seed=seed
        )
        ranker = recommender.ranker is not None
    target = dict(zip(split.test_users.tolist(), split.test_items.tolist(), strict=True))
    evaluated = list(outcomes.in_pool)
    degrees = np.diff(split.train_matrix.indptr)[np.asarray(evaluated, np.int64)]
    in_merged = [target[u] in outcomes.in_pool[u] for u in evaluated]
    for pool in POOLS:
        found = [target[u] in outcomes.in_each_pool[u][pool] for u in evaluated]
        result[f"pool:{pool}"]["pool_recall"] = round(_share(found), 4)
        result[f"pool:{pool}"]["pool_recall_by_out_degree"] = _by_out_degree(found, degrees)
    result["pipeline"].update(
        {
            "pool_recall": round(_share(in_merged), 4),
            "pool_recall_by_out_degree": _by_out_degree(in_merged, degrees),
            "ranker": ranker,
            "held_out_hidden": hidden.hidden,
            "total_seconds": round(time.perf_counter() - start, 2),
        }
    )
    return result
