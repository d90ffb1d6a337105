"""The whole pipeline (pools + ranking) under the leave-one-out protocol, per pool too.

The held-out pairs are the model's own (MODEL_DIR/holdout.npz: one follow per user, never
trained on). They are moved out of the graph (HELDOUT) for the whole run, so the pools, the
vector index and the degree counts see exactly the training graph, and restored afterwards.
Metrics: for each sampled user, the rank of the held-out account in the list each method
returns (full ranking over what the method proposes; anything it does not propose is a miss):
hr@10, ndcg@10, hr@50, ndcg@50, mrr; "pool_recall": how often the held-out account is in the
merged candidate pool at all.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import neo4j
import numpy as np

from graphrec.errors import GraphrecError
from graphrec.model.artifacts import require_model_dir
from graphrec.progress import Progress
from graphrec.recommend.fit import model_holdout
from graphrec.recommend.holdout import held_out
from graphrec.recommend.pools import POOLS, PoolConfig
from graphrec.recommend.service import Recommender

CUTOFFS = (10, 50)
MODEL_ORDER = "pool_model"  # the merged pool ordered by the NeuMF score alone


def metrics_from_ranks(ranks: np.ndarray) -> dict[str, float]:
    """ranks: 0-based rank of the held-out account per user, -1 when it was not proposed."""
    hit = ranks >= 0
    out: dict[str, float] = {}
    for k in CUTOFFS:
        inside = hit & (ranks < k)
        out[f"hr@{k}"] = float(inside.mean()) if len(ranks) else 0.0
        gains = np.where(inside, 1.0 / np.log2(np.maximum(ranks, 0) + 2.0), 0.0)
        out[f"ndcg@{k}"] = float(gains.mean()) if len(ranks) else 0.0
    out["mrr"] = float(np.where(hit, 1.0 / (np.maximum(ranks, 0) + 1.0), 0.0).mean())
    return {key: round(v, 4) for key, v in out.items()}


def _rank_of(order: list[int], target: int) -> int:
    try:
        return order.index(target)
    except ValueError:
        return -1


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
    """{"pipeline": {...}, "pool:similar_relations": {...}, ..., "pool_recall": float, ...}."""
    model_dir = require_model_dir(model_dir)
    pairs = model_holdout(model_dir)
    if len(pairs) == 0:
        raise GraphrecError(
            f"{model_dir} has no held-out follows; train with a hold-out (the default) first"
        )
    rng = np.random.default_rng(seed)
    chosen = pairs[rng.permutation(len(pairs))[: min(n_users, len(pairs))]]
    k = max(CUTOFFS)
    start = time.perf_counter()
    names = ["pipeline", MODEL_ORDER, *(f"pool:{p}" for p in POOLS)]
    ranks = {name: np.full(len(chosen), -1, dtype=np.int64) for name in names}
    in_pool = np.zeros(len(chosen), dtype=bool)
    sizes = np.zeros(len(chosen), dtype=np.int64)
    with held_out(driver, map(tuple, pairs.tolist()), database) as moved:
        recommender = Recommender(driver, database, model_dir, config)

        def one(i: int) -> int:
            uid, target = int(chosen[i, 0]), int(chosen[i, 1])
            user = recommender.user(uid)
            pools = recommender.candidates(user, k)
            cands = list(pools.candidates.values())
            sizes[i] = len(cands)
            in_pool[i] = any(c.uid == target for c in cands)
            ordered, _ = recommender.rank_candidates(user, pools)
            ranks["pipeline"][i] = _rank_of([c.uid for c in ordered[:k]], target)
            logits, known = recommender._logits(uid, (c.uid for c in cands))
            by_model = [cands[j].uid for j in np.argsort(-np.where(known, logits, -np.inf))]
            ranks[MODEL_ORDER][i] = _rank_of(by_model[:k], target)
            for pool in POOLS:
                mine = [c for c in cands if pool in c.pools]
                mine.sort(key=lambda c, p=pool: c.evidence[p]["position"])
                ranks[f"pool:{pool}"][i] = _rank_of([c.uid for c in mine[:k]], target)
            return i

        with (
            Progress("evaluate pipeline", total=len(chosen), unit="users", silent=silent) as bar,
            ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            for _ in pool.map(one, range(len(chosen))):
                bar.update(1)
        ranker = recommender.ranker is not None
    result: dict = {name: metrics_from_ranks(r) for name, r in ranks.items()}
    result["pipeline"]["pool_recall"] = round(float(in_pool.mean()), 4)
    result["pipeline"]["pool_size"] = round(float(sizes.mean()), 1)
    result["pipeline"]["ranker"] = ranker
    result["pool_recall"] = round(float(in_pool.mean()), 4)
    result["_pipeline_run"] = {
        "users": int(len(chosen)),
        "held_out_moved": int(moved),
        "seconds": round(time.perf_counter() - start, 2),
        "seed": seed,
    }
    return result
