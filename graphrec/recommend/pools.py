"""Candidate pools: named Cypher queries run in fallback order, merged with their provenance.

Order (see docs/recommend.md for the reasons):

1. ``similar_relations`` -- vector index over FOLLOWS embeddings (needs a model + embeddings);
   ``similar_followees``, the accounts those similar followers follow, comes from the same query;
   ``two_tower`` (off by default) -- the node vector index over two-tower account vectors,
   queried with the user's vector (computed from their follows at request time), runs beside it;
   ``multi_interest`` (off by default) -- the same index, queried once per interest vector of
   the user (model/interests.py), runs beside it too
2. ``friends_of_friends`` -- accounts my followees follow (followees shared in 1 first)
3. ``followers_of_followees`` -- co-followers and the accounts they follow
4. ``follows_you`` -- accounts that follow me and that I do not follow back
5. ``popular`` -- most-followed accounts; cold start and last filler

Pools are taken in order until ``target`` candidates are gathered (by default every pool runs:
``exhaustive``); optional expansion rounds run friends-of-friends again from the best
candidates found so far.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import neo4j

from graphrec import store
from graphrec.errors import GraphrecError

# pools that run only where the ranker found, on validation follows, that they help
OPTIONAL_POOLS = ("similar_relations", "two_tower", "multi_interest")
# whether each runs where no ranker has chosen: pool 1 is the reference design's own
RUNS_UNCHOSEN = {"similar_relations": True, "two_tower": False, "multi_interest": False}
# the pools an optional pool's query proposes under (pool 1 has both of its rules)
PROPOSES = {"similar_relations": ("similar_relations", "similar_followees")}
POOLS = (
    "similar_relations",
    "similar_followees",
    "two_tower",
    "multi_interest",
    "friends_of_friends",
    "followers_of_followees",
    "follows_you",
    "popular",
)
EXPANSION = "expansion"


@dataclass(frozen=True)
class PoolConfig:
    """Bounds that keep every pool fast on dense nodes. Defaults were chosen on slashdot0902."""

    overfetch: int = 10  # gather k * overfetch candidates before ranking
    min_candidates: int = 100  # ...but at least this many (ranking needs a choice)
    # pool 1: how many of my relations query the vector index. Pool 1 proposes few candidates
    # of its own, and each relation is one vector query (timings: docs/benchmarks.md)
    max_relations: int = 5
    neighbours: int = 30  # pool 1: nearest relations per relation
    max_followees: int = 50  # pools 2/3: how many of my followees to expand from
    # pools 2/3: out-edges followed per account, and pool 3: followers read per followee;
    # halving them from 100 left pipeline HR@10 within the noise and made requests faster
    # (docs/recommend.md, "Candidate pools and their order")
    max_out: int = 50
    max_followers: int = 50
    max_cofollowers: int = 200  # pool 3: co-followers kept (highest shared count)
    # Pool 1 (both rules). None: as `fit-ranker` chose on the validation follows (ranker.json),
    # on without a ranker; its vector queries are the costliest part of a request on some
    # graphs and add nothing on others (docs/recommend.md, "Optional pools").
    similar_relations: bool | None = None
    # pool 1's second rule: also propose the accounts the similar followers follow
    similar_followees: bool = True
    # The two_tower and multi_interest pools, when the model and the account index have
    # them. None: as `fit-ranker` chose on the validation follows (ranker.json), off without
    # a ranker; each costs a query, and each earns its place on some graphs only
    # (docs/recommend.md, "Optional pools").
    two_tower: bool | None = None
    # two_tower asks the index for the pool's target plus the user's follows (dropped by the
    # query), at most this many
    max_tower_neighbours: int = 1000
    multi_interest: bool | None = None  # each interest asks for its share of the target
    max_my_followers: int = 500  # follows_you: followers of mine read at most
    rounds: int = 0  # extra friends-of-friends rounds from the candidates found
    evidence: int = 5  # uids kept per candidate for the explanation
    popular_cache: int = store.POPULAR_SIZE  # how many popular accounts a process keeps
    exhaustive: bool = True  # run pools 1-3 even once the target is reached (better ranking)

    def target(self, k: int) -> int:
        return max(k * self.overfetch, self.min_candidates)


@dataclass
class Candidate:
    """One proposed account, with every pool that proposed it and that pool's evidence."""

    uid: int
    followers: int = 0
    pools: list[str] = field(default_factory=list)
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(
        self, pool: str, followers: int, row: dict[str, Any] | None = None, **evidence: Any
    ) -> None:
        """``pool`` proposed this account: its evidence is ``row`` (a pool query's row, kept
        as it is, not copied), or the keywords for a candidate built by hand."""
        if pool not in self.pools:
            self.pools.append(pool)
            self.evidence[pool] = evidence if row is None else row
        self.followers = max(self.followers, int(followers or 0))


def without(cands: list[Candidate], pools: set[str] | frozenset[str]) -> list[Candidate]:
    """The candidates as if ``pools`` had not run: their evidence gone, and the accounts only
    they proposed dropped (an optional pool takes every pool its query proposes under)."""
    pools = {name for pool in pools for name in PROPOSES.get(pool, (pool,))}
    rest = []
    for c in cands:
        kept = [p for p in c.pools if p not in pools]
        if kept:
            evidence = {p: e for p, e in c.evidence.items() if p not in pools}
            rest.append(Candidate(c.uid, c.followers, kept, evidence))
    return rest


class PopularCache:
    """The most-followed accounts, read once per process (pool 5 is not per-user work).

    They come from the list ``load`` keeps on a metadata node (``refresh_popular``): counting
    the followers of every user takes seconds on a large graph, reading one node does not.
    When the graph has no such list (loaded by another tool), the first request computes it
    and stores it. An evaluation run (``hidden``) counts them itself, without its hidden
    follows.
    """

    def __init__(self, hidden: str | None = None) -> None:
        self.hidden = hidden
        self._rows: list[tuple[int, int]] | None = None
        self._lock = threading.Lock()

    def rows(self, driver: neo4j.Driver, database: str | None, limit: int) -> list[tuple[int, int]]:
        with self._lock:
            if self._rows is None:
                self._rows = (
                    _counted_popular(driver, database, limit, self.hidden)
                    if self.hidden is not None
                    else _cached_popular(driver, database, limit)
                )
            return self._rows

    def clear(self) -> None:
        with self._lock:
            self._rows = None


def _counted_popular(
    driver: neo4j.Driver, database: str | None, limit: int, hidden: str | None = None
) -> list[tuple[int, int]]:
    rows = store.read(driver, "pool_popular", database, limit=limit, hidden=hidden)
    return [(int(r["uid"]), int(r["followers"])) for r in rows]


def _cached_popular(
    driver: neo4j.Driver, database: str | None, limit: int
) -> list[tuple[int, int]]:
    records = store.read(driver, "read_popular", database, key=store.POPULAR_KEY)
    if not records or (records[0]["size"] or 0) < limit:
        try:
            store.refresh_popular(driver, database, limit)
        except GraphrecError:  # no right to write here (a read replica): count them each time
            return _counted_popular(driver, database, limit)
        records = store.read(driver, "read_popular", database, key=store.POPULAR_KEY)
    if not records:
        return []
    pairs = zip(records[0]["uids"] or [], records[0]["followers"] or [], strict=True)
    return [(int(u), int(n)) for u, n in pairs][:limit]


def _rows(records: list[neo4j.Record]) -> list[dict]:
    """A pool query's candidates: one record holding them all as a list of maps (the driver's
    cost per record would make a few hundred records cost more than the query's own work)."""
    return list(records[0]["rows"]) if records else []


def _rows_by_user(records: list[neo4j.Record]) -> dict[int, list[dict]]:
    """A per-user pool query's candidates (it takes ``$uids``): one record per user, holding
    them all as a list of maps."""
    return {int(r["uid"]): list(r["rows"]) for r in records}


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _capped(via: list[int] | None, cap: int) -> list[int] | None:
    """``via`` cut to ``cap``; None stays None (the query then reads the user's own follows)."""
    return None if via is None else via[:cap]


_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """Threads that run a request's independent pools side by side (shared by all requests)."""
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="graphrec-pool")
        return _EXECUTOR


def _prioritise(first: Iterable[int], rest: Iterable[int]) -> list[int]:
    """``first`` then ``rest``, without repeats, order kept."""
    seen: set[int] = set()
    out = []
    for uid in (*first, *rest):
        if uid not in seen:
            seen.add(uid)
            out.append(uid)
    return out


@dataclass
class PoolResult:
    candidates: dict[int, Candidate]
    shared: list[int]  # my followees that pool 1 found shared with similar relations
    ran: list[str]  # pools that ran, in order
    cold_start: bool = False
    user_vector: Any = None  # the user's two-tower vector (numpy), when the model has one
    interests: Any = None  # the user's model.interests.Interests, when the model has them


@dataclass(frozen=True)
class InterestQuery:
    """What the multi_interest pool asks the account index: one vector per interest, and for
    each interest the followed uids that weigh most in it (the pool's explanation)."""

    vectors: list[list[float]]
    leading: list[list[int]]


@dataclass
class EarlyPools:
    """Pools 2, 3 and follows_you running on the pool threads.

    ``start_early`` starts them before the user's follows are read (the queries read them
    themselves): for a user with at most ``max_followees`` follows pools 2 and 3 expand from
    all of them, exactly as ``gather`` would, so a request overlaps them with reading the user.
    For a heavier user they return nothing at once, and ``gather`` starts them again from the
    followees it picks. follows_you needs nothing but the uid, so it serves every user.
    """

    friends_of_friends: Future
    followers_of_followees: Future
    follows_you: Future

    def discard(self, *, keep_follows_you: bool = False) -> None:
        """Cancel them, or wait until they end: no query of a call outlives it (the caller may
        close the driver next)."""
        futures = [self.friends_of_friends, self.followers_of_followees]
        if not keep_follows_you:
            futures.append(self.follows_you)
        for future in futures:
            _settle(future)


def _settle(future: Future) -> None:
    """Cancel ``future``, or wait until it ends (its error no longer matters)."""
    if not future.cancel():
        future.exception()


def _abandon(side: EarlyPools | None, mine: Future | None, *others: Future | None) -> None:
    """After a pool failed: no other query of the request outlives it."""
    if side is not None:
        side.discard()
    elif mine is not None:
        _settle(mine)
    for future in others:
        if future is not None:
            _settle(future)


class PoolRunner:
    """Runs the pool queries of one graph with one configuration.

    ``hidden``: an evaluation run's id (graphrec.evaluation.holdout); its hidden follows are
    then invisible to every pool. None when serving. ``observe``: called with each query's
    name and seconds (the HTTP API's pool timings).
    """

    def __init__(
        self,
        driver: neo4j.Driver,
        database: str | None = None,
        config: PoolConfig | None = None,
        hidden: str | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self.driver, self.database = driver, database
        self.config = config or PoolConfig()
        self.hidden = hidden
        self.observe = observe
        self.popular = PopularCache(hidden)

    def _read(self, name: str, **params: Any) -> list[neo4j.Record]:
        if self.observe is None:
            return store.read(self.driver, name, self.database, hidden=self.hidden, **params)
        started = time.perf_counter()
        try:
            return store.read(self.driver, name, self.database, hidden=self.hidden, **params)
        finally:
            self.observe(name, time.perf_counter() - started)

    def similar_relations(
        self, uid: int, via: list[int], limit: int
    ) -> tuple[list[dict], list[dict]]:
        """(similar followers, the accounts they follow): both rules of pool 1, one query."""
        if not via:
            return [], []
        cfg = self.config
        records = self._read(
            "pool_similar_relations",
            uid=uid,
            via=via[: cfg.max_relations],
            index=store.VECTOR_INDEX,
            neighbours=cfg.neighbours,
            evidence=cfg.evidence,
            limit=limit,
            followees=cfg.similar_followees,
            max_out=cfg.max_out,
        )
        if not records:
            return [], []
        return list(records[0]["rows"]), list(records[0]["followees"])

    def two_tower(self, uid: int, vector: list[float], n_follows: int, limit: int) -> list[dict]:
        """The accounts nearest to the user's two-tower vector, not followed, not the user."""
        records = self._read(
            "pool_two_tower",
            uid=uid,
            vector=vector,
            index=store.ACCOUNT_INDEX,
            neighbours=min(limit + n_follows + 1, self.config.max_tower_neighbours),
            limit=limit,
        )
        return _rows(records)

    def multi_interest(
        self, uid: int, query: InterestQuery, n_follows: int, limit: int
    ) -> list[dict]:
        """For each interest, its share of the accounts nearest to it, not followed, not the
        user; each row names its interest and that interest's leading followees (``like``)."""
        if not query.vectors:
            return []
        share = -(-limit // len(query.vectors))
        records = self._read(
            "pool_multi_interest",
            uid=uid,
            vectors=query.vectors,
            index=store.ACCOUNT_INDEX,
            neighbours=min(share + n_follows + 1, self.config.max_tower_neighbours),
            per_interest=share,
            limit=limit,
        )
        rows = _rows(records)
        for row in rows:
            row["like"] = query.leading[int(row["interest"])]
        return rows

    def follows_you(self, uid: int, limit: int) -> list[dict]:
        return self._follows_you_of([uid], limit).get(uid, [])

    def friends_of_friends(self, uid: int, via: list[int] | None, limit: int) -> list[dict]:
        """``via=None``: from all the user's followees, or none when more than max_followees."""
        if via == []:
            return []
        return self._friends_of_friends_of([uid], limit, via).get(uid, [])

    def followers_of_followees(self, uid: int, via: list[int] | None, limit: int) -> list[dict]:
        """``via=None``: from all the user's followees, or none when more than max_followees."""
        if via == []:
            return []
        return self._followers_of_followees_of([uid], limit, via).get(uid, [])

    def _follows_you_of(self, uids: list[int], limit: int) -> dict[int, list[dict]]:
        records = self._read(
            "pool_follows_you", uids=uids, max_followers=self.config.max_my_followers, limit=limit
        )
        return _rows_by_user(records)

    def _friends_of_friends_of(
        self, uids: list[int], limit: int, via: list[int] | None = None
    ) -> dict[int, list[dict]]:
        cfg = self.config
        records = self._read(
            "pool_friends_of_friends",
            uids=uids,
            via=_capped(via, cfg.max_followees),
            max_followees=cfg.max_followees,
            max_out=cfg.max_out,
            evidence=cfg.evidence,
            limit=limit,
        )
        return _rows_by_user(records)

    def _followers_of_followees_of(
        self, uids: list[int], limit: int, via: list[int] | None = None
    ) -> dict[int, list[dict]]:
        cfg = self.config
        records = self._read(
            "pool_followers_of_followees",
            uids=uids,
            via=_capped(via, cfg.max_followees),
            max_followees=cfg.max_followees,
            max_followers=cfg.max_followers,
            max_cofollowers=cfg.max_cofollowers,
            max_out=cfg.max_out,
            evidence=cfg.evidence,
            limit=limit,
        )
        return _rows_by_user(records)

    def inactive(self, uids: list[int]) -> set[int]:
        return {int(r["uid"]) for r in self._read("inactive_users", uids=uids)}

    def _side_by_side(
        self, uid: int, via: list[int] | None, target: int, follows_you: Future | None = None
    ) -> EarlyPools:
        """Pools 2 and 3 from ``via`` (None: the user's own followees), each on its own
        thread, and follows_you (or the one already running)."""
        pool = _executor()
        return EarlyPools(
            pool.submit(self.friends_of_friends, uid, via, target),
            pool.submit(self.followers_of_followees, uid, via, target),
            follows_you or pool.submit(self.follows_you, uid, target),
        )

    def start_early(self, uid: int, k: int) -> EarlyPools:
        return self._side_by_side(uid, None, self.config.target(k))

    def early_for(self, uids: list[int], k: int) -> dict[int, EarlyPools]:
        """What ``start_early`` starts, for many users at once: each of its three queries runs
        once for all of them, side by side. Returns when they have ended, every user's
        EarlyPools already done. ``uids`` without repeats (``gather`` takes each row once)."""
        if not uids:
            return {}
        target = self.config.target(k)
        pool = _executor()
        reads = [
            pool.submit(read, uids, target)
            for read in (
                self._friends_of_friends_of,
                self._followers_of_followees_of,
                self._follows_you_of,
            )
        ]
        try:
            fof, cof, mine = (read.result() for read in reads)
        except BaseException:
            for read in reads:
                _settle(read)
            raise
        return {
            uid: EarlyPools(
                _done(fof.get(uid, [])), _done(cof.get(uid, [])), _done(mine.get(uid, []))
            )
            for uid in uids
        }

    def gather(
        self,
        uid: int,
        follows: list[int],
        ranked_follows: list[int],
        k: int,
        excluded: set[int] | frozenset[int] = frozenset(),
        use_vectors: bool = True,
        early: EarlyPools | None = None,
        user_vector: list[float] | None = None,
        interests: InterestQuery | None = None,
    ) -> PoolResult:
        """Run the pools in fallback order for one user and merge what they propose.

        ``ranked_follows``: the user's follows in the order pool 1 should use them (highest
        model score first); ``excluded``: uids never to propose (blocked, --exclude);
        ``early``: pools 2, 3 and follows_you already started by ``start_early``;
        ``user_vector``: the user's two-tower vector (None: no two_tower pool);
        ``interests``: the user's interest vectors (None: no multi_interest pool).
        """
        cfg = self.config
        target = cfg.target(k)
        followed = set(follows)
        skip = followed | set(excluded) | {uid}
        candidates: dict[int, Candidate] = {}
        ran: list[str] = []

        def take(pool: str, rows: list[dict]) -> None:
            for position, row in enumerate(rows):
                c = int(row.pop("uid"))
                if c in skip:
                    continue
                cand = candidates.get(c)
                if cand is None:
                    cand = candidates[c] = Candidate(c)
                followers = row.pop("followers", 0)
                row["position"] = position
                cand.add(pool, followers, row)

        def full() -> bool:
            return not cfg.exhaustive and len(candidates) >= target

        def fill_popular() -> None:
            # the cached list may predate an account's deactivation: check the few taken
            rows = self.popular.rows(self.driver, self.database, cfg.popular_cache)
            fill = [(u, n) for u, n in rows if u not in skip][: target + target // 4]
            gone = self.inactive([u for u, _ in fill])
            take(
                "popular",
                [{"uid": u, "followers": n} for u, n in fill if u not in gone][:target],
            )

        light = cfg.exhaustive and 0 < len(follows) <= cfg.max_followees
        if early is not None and not light:
            early.discard(keep_follows_you=True)
        mine = early.follows_you if early is not None else None
        if not follows:
            # cold start: whoever follows the user, then the most-followed accounts
            rows = mine.result() if mine is not None else self.follows_you(uid, target)
            ran.append("follows_you")
            take("follows_you", rows)
            ran.append("popular")
            fill_popular()
            return PoolResult(candidates, [], ran, cold_start=True)

        ranked = ranked_follows or follows
        shared: list[int] = []
        towers = (
            _executor().submit(self.two_tower, uid, user_vector, len(follows), target)
            if user_vector is not None and cfg.two_tower
            else None
        )
        several = (
            _executor().submit(self.multi_interest, uid, interests, len(follows), target)
            if interests is not None and cfg.multi_interest
            else None
        )
        # A light user's pools 2 and 3 expand from *all* of their followees, so the order
        # pool 1 would give them changes nothing: they read the follows themselves (perhaps
        # started before the caller had them, see start_early) and run beside pool 1, each
        # query on its own session. Results are merged in the fallback order whatever finishes
        # first, so provenance and positions do not depend on timing.
        side = (early or self.start_early(uid, k)) if light else None
        if use_vectors:
            try:
                rows, followees = self.similar_relations(uid, ranked, target)
            except BaseException:
                _abandon(side, mine, towers, several)
                raise
            ran.append("similar_relations")
            take("similar_relations", rows)
            if cfg.similar_followees:
                ran.append("similar_followees")
                take("similar_followees", followees)
            shared = _prioritise((b for row in rows for b in row["via"]), ())
        if towers is not None:
            try:
                rows = towers.result()
            except BaseException:
                _abandon(side, mine, several)
                raise
            ran.append("two_tower")
            take("two_tower", rows)
        if several is not None:
            try:
                rows = several.result()
            except BaseException:
                _abandon(side, mine)
                raise
            ran.append("multi_interest")
            take("multi_interest", rows)
        # A heavy user's pools 2 and 3 start from the followees pool 1 found shared, then the
        # rest by model score; in exhaustive mode both run whatever the first finds, so side
        # by side.
        via = _prioritise(shared, ranked)
        if side is None and cfg.exhaustive:
            side = self._side_by_side(uid, via, target, mine)
        if side is not None:
            ran += ["friends_of_friends", "followers_of_followees", "follows_you"]
            take("friends_of_friends", side.friends_of_friends.result())
            take("followers_of_followees", side.followers_of_followees.result())
            take("follows_you", side.follows_you.result())
        else:
            if not full():
                ran.append("friends_of_friends")
                take("friends_of_friends", self.friends_of_friends(uid, via, target))
            if not full():
                ran.append("followers_of_followees")
                take("followers_of_followees", self.followers_of_followees(uid, via, target))
            if not full():
                ran.append("follows_you")
                take(
                    "follows_you",
                    mine.result() if mine is not None else self.follows_you(uid, target),
                )
            elif mine is not None:
                _settle(mine)
        for _ in range(cfg.rounds):
            if len(candidates) >= target:
                break
            seeds = sorted(candidates.values(), key=lambda c: -len(c.pools))[: cfg.max_followees]
            ran.append(EXPANSION)
            rows = self.friends_of_friends(uid, [c.uid for c in seeds], target)
            before = len(candidates)
            take(EXPANSION, rows)
            if len(candidates) == before:
                break
        if len(candidates) < target:
            ran.append("popular")
            fill_popular()
        return PoolResult(candidates, shared, ran)
