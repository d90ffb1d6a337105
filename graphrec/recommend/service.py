"""Recommendations for one user: pools -> merge -> NeuMF + ranker -> filters -> top-K.

``Recommender`` holds what is worth keeping between requests (the numpy scorer, the ranker,
the popular list, whether the vector index is usable) and is safe to share between threads:
every request runs its own queries through the shared driver.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import neo4j
import numpy as np

from graphrec import store
from graphrec.errors import GraphrecError, ModelNotFound, UnknownUser
from graphrec.model.artifacts import META, WEIGHTS
from graphrec.model.scorer import NumpyScorer
from graphrec.recommend import rank
from graphrec.recommend.explain import explain, explain_model
from graphrec.recommend.pools import (
    Candidate,
    EarlyPools,
    PoolConfig,
    PoolResult,
    PopularCache,
    gather,
    start_early,
)

STRATEGIES = ("graph", "model")
# While the vector index is missing or still populating (`graphrec embed` rebuilding it in
# another process), pool 1 is skipped; a long-running process looks again this often.
VECTOR_RECHECK_SECONDS = 30.0


@dataclass
class Recommendation:
    rank: int
    uid: int
    score: float
    pools: list[str]
    explanation: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class UserState:
    uid: int
    follows: list[int]
    blocked: list[int]


class Recommender:
    """Who-to-follow for users of one graph, with one model directory (optional for graph)."""

    def __init__(
        self,
        driver: neo4j.Driver,
        database: str | None = None,
        model_dir: str | Path | None = None,
        config: PoolConfig | None = None,
        use_ranker: bool = True,
    ) -> None:
        self.driver = driver
        self.database = database
        self.config = config or PoolConfig()
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.scorer: NumpyScorer | None = None
        self.ranker: rank.Ranker | None = None
        if self.model_dir is not None and (self.model_dir / WEIGHTS).exists():
            self.scorer = NumpyScorer.load(self.model_dir)
            if use_ranker:
                ranker = rank.Ranker.load(self.model_dir)
                if ranker is not None and ranker.model_version == self.scorer.version:
                    self.ranker = ranker
        self.popular = PopularCache()
        self._vectors: bool | None = None
        self._vectors_checked = 0.0
        self._lock = threading.Lock()

    # -- what the graph knows -------------------------------------------------------------

    def user(self, uid: int) -> UserState:
        record = store.read(self.driver, "user_follows", self.database, uid=int(uid))[0]
        if not record["found"]:
            raise UnknownUser(f"user {uid} is not in the graph")
        return UserState(
            int(uid), [int(u) for u in record["follows"]], [int(u) for u in record["blocked"]]
        )

    def vectors_ready(self) -> bool:
        """Pool 1 needs a model and an ONLINE `follow_embedding` index (re-checked every
        VECTOR_RECHECK_SECONDS while it is not)."""
        with self._lock:
            stale = time.monotonic() - self._vectors_checked > VECTOR_RECHECK_SECONDS
            if self._vectors is None or (not self._vectors and stale):
                self._vectors = self.scorer is not None and any(
                    r["name"] == store.VECTOR_INDEX and r["state"] == "ONLINE"
                    for r in store.read(self.driver, "show_indexes", self.database)
                )
                self._vectors_checked = time.monotonic()
            return self._vectors

    def _vectors_gone(self) -> bool:
        """After pool 1 failed: is it because the index went away (dropped, rebuilding)?"""
        with self._lock:
            self._vectors = None
        return not self.vectors_ready()

    # -- model ----------------------------------------------------------------------------

    def _logits(self, uid: int, cands: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        cands = np.fromiter(cands, dtype=np.int64)
        if self.scorer is None or cands.size == 0:
            return np.zeros(cands.size), np.zeros(cands.size, dtype=bool)
        user = int(self.scorer.index_of(uid)[0])
        items = self.scorer.index_of(cands)
        known = items >= 0
        if user < 0:
            return np.zeros(cands.size), np.zeros(cands.size, dtype=bool)
        logits = np.zeros(cands.size)
        if known.any():
            idx = items[known]
            logits[known] = self.scorer.logits(np.full(idx.shape, user), idx)
        return logits, known

    def _mf(self, uid: int, cands: list[int]) -> np.ndarray | None:
        """Dot-product MF scores of the candidates (None when the model has no MF); read
        only where ``_logits`` says the model knows both uids."""
        scorer = self.scorer
        if scorer is None or not scorer.has_mf or not cands:
            return None
        user = int(scorer.index_of(uid)[0])
        if user < 0:
            return None
        items = scorer.index_of(cands)
        return np.where(items >= 0, scorer.mf_scores(user, np.maximum(items, 0)), 0.0)

    def _ranked_follows(self, uid: int, follows: list[int]) -> list[int]:
        """The user's follows, highest model score first (pool 1 uses the first few)."""
        logits, known = self._logits(uid, follows)
        if not known.any():
            return list(follows)
        order = np.lexsort((~known, -np.where(known, logits, -np.inf)))
        return [follows[i] for i in order]

    # -- the pipeline ---------------------------------------------------------------------

    def candidates(
        self,
        user: UserState,
        k: int,
        exclude: Iterable[int] = (),
        early: EarlyPools | None = None,
    ) -> PoolResult:
        """The merged pools; ``early``: pools 2-3 already started by ``start_early``."""
        excluded = set(user.blocked) | {int(u) for u in exclude}
        ranked = self._ranked_follows(user.uid, user.follows) if user.follows else []
        run = functools.partial(
            gather,
            self.driver,
            self.database,
            user.uid,
            user.follows,
            ranked,
            k,
            self.config,
            self.popular,
            excluded,
        )
        use_vectors = self.vectors_ready()
        try:
            return run(use_vectors=use_vectors, early=early)
        except GraphrecError:
            if not (use_vectors and self._vectors_gone()):
                raise
            # the index was dropped under us: answer from pools 2-4 rather than fail
            return run(use_vectors=False)

    def rank_candidates(
        self, user: UserState, pools: PoolResult
    ) -> tuple[list[Candidate], np.ndarray]:
        """Candidates best first, and their scores in the same order."""
        cands = list(pools.candidates.values())
        if pools.cold_start:  # whoever follows the user first, then by followers
            cands.sort(key=lambda c: ("follows_you" not in c.pools, -c.followers, c.uid))
            top = max((c.followers for c in cands), default=1) or 1
            return cands, np.array(
                [(("follows_you" in c.pools) + c.followers / top) / 2 for c in cands]
            )
        logits, known = self._logits(user.uid, (c.uid for c in cands))
        mf = self._mf(user.uid, [c.uid for c in cands])
        idx, scores = rank.order(cands, logits, known, self.ranker, mf)
        if self.scorer is None and self.ranker is None:
            evidence = rank.evidence_score(rank.features(cands, logits, known))
            scores = evidence / (1.0 + evidence)
        return [cands[i] for i in idx], scores[idx]

    def recommend(
        self, uid: int, k: int = 20, strategy: str = "graph", exclude: Iterable[int] = ()
    ) -> list[Recommendation]:
        if k < 1:
            raise ValueError("k must be at least 1")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        if strategy == "model":
            return self._recommend_model(self.user(uid), k, exclude)
        # pools 2 and 3 need only the uid: start them while the user's follows are read
        early = start_early(self.driver, self.database, int(uid), k, self.config)
        try:
            user = self.user(uid)
        except BaseException:
            early.discard()
            raise
        pools = self.candidates(user, k, exclude, early)
        cands, scores = self.rank_candidates(user, pools)
        return [
            Recommendation(i + 1, c.uid, round(float(s), 6), list(c.pools), explain(c))
            for i, (c, s) in enumerate(zip(cands[:k], scores[:k], strict=True))
        ]

    def _recommend_model(
        self, user: UserState, k: int, exclude: Iterable[int]
    ) -> list[Recommendation]:
        """The reference's "simple logic": score every account the user does not follow."""
        if self.scorer is None:
            where = self.model_dir or "the model directory"
            raise ModelNotFound(
                f"--strategy model needs a trained model ({WEIGHTS} and {META} in {where})"
            )
        scorer = self.scorer
        u = int(scorer.index_of(user.uid)[0])
        if u < 0:
            raise UnknownUser(f"user {user.uid} is in the graph but not in the model; retrain")
        scores = scorer.score_user(u)
        banned = scorer.index_of([user.uid, *user.follows, *user.blocked, *exclude])
        scores[banned[banned >= 0]] = -np.inf
        out: list[Recommendation] = []
        order = np.argsort(-scores, kind="stable")
        start = 0
        while len(out) < k and start < len(order):
            chunk = order[start : start + 2 * k]
            start += len(chunk)
            chunk = chunk[np.isfinite(scores[chunk])]
            if chunk.size == 0:
                break
            uids = scorer.uids[chunk]
            gone = {
                int(r["uid"])
                for r in store.read(
                    self.driver, "inactive_users", self.database, uids=uids.tolist()
                )
            }
            for item, c in zip(chunk, uids, strict=True):
                if int(c) in gone or len(out) >= k:
                    continue
                s = float(scores[item])
                out.append(
                    Recommendation(len(out) + 1, int(c), round(s, 6), ["model"], explain_model(s))
                )
        return out
