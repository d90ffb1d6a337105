"""Recommendations for one user: pools -> merge -> NeuMF + ranker -> filters -> top-K.

``Recommender`` holds what is worth keeping between requests (the numpy scorer, the ranker,
the popular list, whether the vector index is usable) and is safe to share between threads:
every request runs its own queries through the shared driver.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import neo4j
import numpy as np
from threadpoolctl import threadpool_limits

from graphrec import store
from graphrec.errors import GraphrecError, ModelNotFound, UnknownUser
from graphrec.model.artifacts import META, WEIGHTS
from graphrec.model.interests import Interests
from graphrec.model.scorer import NumpyScorer
from graphrec.recommend import rank
from graphrec.recommend.explain import explain, explain_model
from graphrec.recommend.pools import (
    OPTIONAL_POOLS,
    RUNS_UNCHOSEN,
    Candidate,
    EarlyPools,
    InterestQuery,
    PoolConfig,
    PoolResult,
    PoolRunner,
)

STRATEGIES = ("graph", "model")
# While the vector index is missing or still populating (`graphrec embed` rebuilding it in
# another process), pool 1 is skipped; a long-running process looks again this often.
VECTOR_RECHECK_SECONDS = 30.0
# a user's interests attend to at most this many of their follows (the highest scored)
MAX_INTEREST_FOLLOWEES = 500
# Users a worker of a batch or an evaluation takes at once: their first reads share one query
# each (candidates_for); more would save little more, and hold back the first results.
GROUP = 16


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
    dismissed: list[int] = dataclasses.field(default_factory=list)  # "not interested"

    @property
    def never(self) -> set[int]:
        """Accounts never to recommend to this user: blocked or dismissed."""
        return {*self.blocked, *self.dismissed}


def _check(k: int, strategy: str) -> None:
    if k < 1:
        raise ValueError("k must be at least 1")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")


@functools.cache
def one_blas_thread() -> None:
    """BLAS on one thread, for the rest of the process. A request multiplies small matrices,
    and after each product OpenBLAS's extra threads spin while they wait for more, on the
    cores the database needs (docs/recommend.md, "CPU")."""
    threadpool_limits(1, "blas")


def with_chosen_pools(config: PoolConfig, ranker: rank.Ranker | None) -> PoolConfig:
    """``config`` with each optional pool it leaves open (None) set as the ranker chose it on
    validation follows; without a ranker, or for a ranker fitted before the choice, as
    RUNS_UNCHOSEN says."""
    chosen = (ranker.pools if ranker is not None else None) or {}
    return dataclasses.replace(
        config,
        **{
            pool: bool(chosen.get(pool, RUNS_UNCHOSEN[pool]))
            for pool in OPTIONAL_POOLS
            if getattr(config, pool) is None
        },
    )


class Recommender:
    """Who-to-follow for users of one graph, with one model directory (optional for graph).

    ``hidden``: an evaluation run's id (graphrec.evaluation.holdout): the follows it hides are
    then invisible, to the user's own follows and to every pool. None when serving.
    ``observe``: called with each pool query's name and seconds.
    Creating one holds the process's BLAS to one thread from then on (``one_blas_thread``).
    """

    def __init__(
        self,
        driver: neo4j.Driver,
        database: str | None = None,
        model_dir: str | Path | None = None,
        config: PoolConfig | None = None,
        use_ranker: bool = True,
        hidden: str | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        one_blas_thread()
        self.driver = driver
        self.database = database
        self.hidden = hidden
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.scorer: NumpyScorer | None = None
        self.ranker: rank.Ranker | None = None
        if self.model_dir is not None and (self.model_dir / WEIGHTS).exists():
            self.scorer = NumpyScorer.load(self.model_dir)
            if use_ranker:
                ranker = rank.Ranker.load(self.model_dir)
                if ranker is not None and ranker.model_version == self.scorer.version:
                    self.ranker = ranker
        self.config = with_chosen_pools(config or PoolConfig(), self.ranker)
        self.pools = PoolRunner(driver, database, self.config, hidden, observe)
        self._indexes: dict[str, tuple[bool | None, float]] = {}
        self._lock = threading.Lock()

    # -- what the graph knows -------------------------------------------------------------

    def user(self, uid: int) -> UserState:
        found = self.users([uid]).get(int(uid))
        if found is None:
            raise UnknownUser(f"user {uid} is not in the graph")
        return found

    def users(self, uids: Iterable[int]) -> dict[int, UserState]:
        """The state of each of ``uids`` that is in the graph, in one query."""
        records = store.read(
            self.driver,
            "user_follows",
            self.database,
            uids=[int(u) for u in uids],
            hidden=self.hidden,
        )
        return {
            int(r["uid"]): UserState(
                int(r["uid"]),
                [int(u) for u in r["follows"]],
                [int(u) for u in r["blocked"]],
                [int(u) for u in r["dismissed"]],
            )
            for r in records
            if r["found"]
        }

    def vectors_ready(self) -> bool:
        """Pool 1 needs a model, to be chosen, and an ONLINE `follow_embedding` index."""
        return (
            self.scorer is not None
            and bool(self.config.similar_relations)
            and self._index_online(store.VECTOR_INDEX)
        )

    def towers_ready(self) -> bool:
        """The two_tower pool needs a model with towers and an ONLINE `account_embedding`."""
        return (
            self.scorer is not None
            and self.scorer.towers is not None
            and bool(self.config.two_tower)
            and self._index_online(store.ACCOUNT_INDEX)
        )

    def interests_ready(self) -> bool:
        """The multi_interest pool needs a model with interests and an ONLINE
        `account_embedding`."""
        return (
            self.scorer is not None
            and self.scorer.interests is not None
            and bool(self.config.multi_interest)
            and self._index_online(store.ACCOUNT_INDEX)
        )

    def _index_online(self, name: str) -> bool:
        """Whether index ``name`` is ONLINE (re-checked every VECTOR_RECHECK_SECONDS while it
        is not)."""
        with self._lock:
            online, checked = self._indexes.get(name, (None, 0.0))
            stale = time.monotonic() - checked > VECTOR_RECHECK_SECONDS
            if online is None or (not online and stale):
                online = any(
                    r["name"] == name and r["state"] == "ONLINE"
                    for r in store.read(self.driver, "show_indexes", self.database)
                )
                self._indexes[name] = (online, time.monotonic())
            return online

    def _any_gone(self, names: list[str]) -> bool:
        """After a vector pool failed: did one of these indexes go away (dropped, rebuilding)?"""
        with self._lock:
            self._indexes.clear()
        return not all(self._index_online(name) for name in names)

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

    def user_vector(self, user: UserState) -> np.ndarray | None:
        """The user's two-tower vector from their follows as the graph has them now."""
        towers = self.scorer.towers if self.scorer is not None else None
        if towers is None:
            return None
        assert self.scorer is not None
        row = self.scorer.index_of(user.uid)
        follows = self.scorer.index_of(user.follows) if user.follows else np.zeros(0, np.int64)
        return towers.user_vectors(row, [follows])[0]

    def user_interests(self, ranked_follows: list[int]) -> Interests | None:
        """The user's interests from their follows as the graph has them now (the first
        MAX_INTEREST_FOLLOWEES of ``ranked_follows``)."""
        scorer = self.scorer
        if scorer is None or scorer.interests is None or not ranked_follows:
            return None
        return scorer.interests.interests(scorer.index_of(ranked_follows[:MAX_INTEREST_FOLLOWEES]))

    def _interest_query(self, interests: Interests) -> InterestQuery:
        assert self.scorer is not None
        uids = self.scorer.uids
        return InterestQuery(
            interests.vectors.astype(np.float64).tolist(),
            [uids[interests.leading(k)].tolist() for k in range(len(interests.vectors))],
        )

    def model_scores(
        self,
        uid: int,
        cands: list[int],
        user_vector: np.ndarray | None = None,
        interests: Interests | None = None,
    ) -> rank.ModelScores:
        """NeuMF's logits, and the MF, two-tower (``user_vector`` given) and multi-interest
        (``interests`` given) scores of the candidates."""
        logits, known = self._logits(uid, cands)
        scorer = self.scorer
        if scorer is None or not known.any():
            return rank.ModelScores(logits, known)
        user = int(scorer.index_of(uid)[0])
        items = np.maximum(scorer.index_of(cands), 0)
        mf = scorer.mf_scores(user, items) if scorer.has_mf else None
        towers = None
        if scorer.towers is not None and user_vector is not None:
            towers = scorer.towers.scores(user_vector, items)
        several = None
        if scorer.interests is not None and interests is not None:
            several = scorer.interests.scores(interests, items)
        return rank.ModelScores(logits, known, mf, towers, several)

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
        excluded = user.never | {int(u) for u in exclude}
        ranked = self._ranked_follows(user.uid, user.follows) if user.follows else []

        # the vectors score every candidate for the ranker, whether or not their pools can run
        vector = self.user_vector(user)
        interests = self.user_interests(ranked)
        ready = (self.vectors_ready(), self.towers_ready(), self.interests_ready())
        # what the vector pools send Neo4j, only for the pools that run
        as_list = vector.tolist() if ready[1] and vector is not None else None
        query = self._interest_query(interests) if ready[2] and interests is not None else None

        def run(
            use_vectors: bool, use_towers: bool, use_interests: bool, early: EarlyPools | None
        ) -> PoolResult:
            return self.pools.gather(
                user.uid,
                user.follows,
                ranked,
                k,
                excluded,
                use_vectors,
                early,
                user_vector=as_list if use_towers else None,
                interests=query if use_interests else None,
            )

        in_use = [store.VECTOR_INDEX] * ready[0] + [store.ACCOUNT_INDEX] * any(ready[1:])
        try:
            result = run(*ready, early=early)
        except GraphrecError:
            if not (in_use and self._any_gone(in_use)):
                raise
            # an index was dropped under us: answer from the other pools rather than fail
            result = run(
                ready[0] and self.vectors_ready(),
                ready[1] and self.towers_ready(),
                ready[2] and self.interests_ready(),
                early=None,
            )
        result.user_vector, result.interests = vector, interests
        return result

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
        model = self.model_scores(
            user.uid, [c.uid for c in cands], pools.user_vector, pools.interests
        )
        idx, scores = rank.order(cands, model, self.ranker)
        if self.scorer is None and self.ranker is None:
            evidence = rank.evidence_score(rank.features(cands, model))
            scores = evidence / (1.0 + evidence)
        return [cands[i] for i in idx], scores[idx]

    def recommend(
        self, uid: int, k: int = 20, strategy: str = "graph", exclude: Iterable[int] = ()
    ) -> list[Recommendation]:
        _check(k, strategy)
        if strategy == "model":
            return self._recommend_model(self.user(uid), k, exclude)
        # pools 2 and 3 need only the uid: start them while the user's follows are read
        early = self.pools.start_early(int(uid), k)
        try:
            user = self.user(uid)
        except BaseException:
            early.discard()
            raise
        return self._top(user, self.candidates(user, k, exclude, early), k)

    def recommend_many(
        self, uids: Iterable[int], k: int = 20, strategy: str = "graph", exclude: Iterable[int] = ()
    ) -> list[tuple[int, list[Recommendation] | None]]:
        """``recommend`` for each of ``uids`` (None for a user not in the graph), in order,
        with the first reads made once for all of them (``candidates_for``)."""
        _check(k, strategy)
        uids, exclude = [int(u) for u in uids], frozenset(int(u) for u in exclude)
        done: dict[int, list[Recommendation] | None] = {}
        if strategy == "model":
            for uid in dict.fromkeys(uids):
                try:
                    done[uid] = self._recommend_model(self.user(uid), k, exclude)
                except UnknownUser:
                    done[uid] = None
        else:
            found = self.candidates_for(uids, k, exclude)
            for uid in dict.fromkeys(uids):
                done[uid] = self._top(*found[uid], k) if uid in found else None
        return [(uid, done[uid]) for uid in uids]

    def candidates_for(
        self, uids: Iterable[int], k: int, exclude: Iterable[int] = ()
    ) -> dict[int, tuple[UserState, PoolResult]]:
        """``candidates`` for each of ``uids`` that is in the graph. The reads every user
        starts with (its follows, and the pools that need only the uid) run once for all of
        them: for a light user a query of its own costs Neo4j and the driver more than the
        query's work (docs/recommend.md, "Batch mode")."""
        users = self.users(dict.fromkeys(int(u) for u in uids))
        exclude = frozenset(int(u) for u in exclude)  # read once per user
        early = self.pools.early_for(list(users), k)
        return {
            uid: (user, self.candidates(user, k, exclude, early[uid]))
            for uid, user in users.items()
        }

    def _top(self, user: UserState, pools: PoolResult, k: int) -> list[Recommendation]:
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
        banned = scorer.index_of([user.uid, *user.follows, *user.never, *exclude])
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
