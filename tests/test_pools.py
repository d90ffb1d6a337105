"""Each pool's Cypher on a tiny hand-built graph with known answers, and the fallback order.

The graph (me = 1):

    1 -> 2, 3          2 -> 4, 5, 1        3 -> 4, 6, 2
    7 -> 2, 3, 9       8 -> 3, 9, 10       11 has no follows (cold start)

friends of friends of 1 via [2, 3]: 4 (2 paths), 5, 6; 1 itself and 2 (already followed) are
excluded. Followers of followees: co-followers 7 (shares 2 and 3), 8 (shares 3), 3 (shares
2, but followed); the accounts they follow: 9 (7 and 8: weight 2 + 1), 4, 6 (via 3), 10.
Pools order by their score, then uid (ties).
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import numpy as np
import pytest

from graphrec import loader, store
from graphrec.io import Follows
from graphrec.model import artifacts
from graphrec.recommend.pools import PoolConfig, PoolRunner, PopularCache

TEST_CYPHER = Path(__file__).parent / "cypher"
ME = 1
EDGES = [
    (1, 2),
    (1, 3),
    (2, 4),
    (2, 5),
    (2, 1),
    (3, 4),
    (3, 6),
    (3, 2),
    (7, 2),
    (7, 3),
    (7, 9),
    (8, 3),
    (8, 9),
    (8, 10),
]
USERS = list(range(1, 12))


# -- helpers shared by the recommend tests ------------------------------------------------


def test_query(name: str) -> str:
    return (TEST_CYPHER / f"{name}.cypher").read_text()


test_query.__test__ = False  # a helper, not a test


def load_follows(driver, edges, users=None) -> None:
    """Put (uid, fid) follows (and isolated ``users``) into Neo4j with the real loader."""
    pairs = sorted(set(edges))
    uid = np.array([u for u, _ in pairs], dtype=np.int64)
    fid = np.array([f for _, f in pairs], dtype=np.int64)
    follows = Follows(uid=uid, fid=fid, rows=len(pairs), self_loops=0, duplicates=0)
    loader.load_follows(driver, follows, silent=True)
    if users:
        loader.load_users(driver, np.asarray(sorted(users), dtype=np.int64), silent=True)


def set_embeddings(driver, rows, dims: int = 16) -> None:
    """Hand-made relation embeddings [(uid, fid, vector)] and the vector index over them."""
    driver.execute_query(test_query("set_test_embeddings"), rows=rows)
    driver.execute_query(test_query("create_test_vector_index"), dims=dims)
    store.wait_for_indexes(driver)


def set_flags(driver, inactive=(), blocks=()) -> None:
    driver.execute_query(
        test_query("set_test_flags"), inactive=list(inactive), blocks=[list(b) for b in blocks]
    )


def random_model(model_dir: Path, uids, seed: int = 0, latent: int = 8) -> Path:
    """A NumpyScorer-compatible model directory with random weights."""
    rng = np.random.default_rng(seed)
    n = len(uids)
    w: dict[str, np.ndarray] = {"uids": np.sort(np.asarray(uids, np.int64))}
    for key in ("gmf_user", "gmf_item", "mlp_user", "mlp_item"):
        w[key] = rng.normal(size=(n, latent)).astype(np.float32)
    sizes = [2 * latent, 64, 32, 16, 8]
    for i in range(4):
        w[f"mlp_kernel_{i}"] = (
            rng.normal(size=(sizes[i], sizes[i + 1])) / np.sqrt(sizes[i])
        ).astype(np.float32)
        w[f"mlp_bias_{i}"] = np.zeros(sizes[i + 1], np.float32)
    w["out_kernel"] = rng.normal(size=(latent + 8, 1)).astype(np.float32)
    w["out_bias"] = np.zeros(1, np.float32)
    model_dir.mkdir(parents=True, exist_ok=True)
    artifacts.save_weights(model_dir, w)
    (model_dir / "meta.json").write_text(json.dumps({"version": uuid.uuid4().hex}))
    return model_dir


def unit(i: int, dims: int = 16) -> np.ndarray:
    v = np.zeros(dims)
    v[i] = 1.0
    return v


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def tiny(graph):
    load_follows(graph, EDGES, USERS)
    return graph


CFG = PoolConfig(evidence=10)


def test_pools_started_early_give_the_same_candidates(tiny):
    _embed_tiny(tiny)
    cfg = PoolConfig(neighbours=2, overfetch=1, min_candidates=1, evidence=10)
    plain = PoolRunner(tiny, None, cfg).gather(ME, [2, 3], [2, 3], 20)
    early = PoolRunner(tiny, None, cfg).start_early(ME, 20)
    result = PoolRunner(tiny, None, cfg).gather(ME, [2, 3], [2, 3], 20, early=early)
    assert result == plain
    # a heavy follower's early pools are empty; gather runs its own and waits for theirs
    heavy = PoolConfig(neighbours=2, max_followees=1, max_relations=2)
    early = PoolRunner(tiny, None, heavy).start_early(ME, 20)
    result = PoolRunner(tiny, None, heavy).gather(ME, [2, 3], [3, 2], 20, early=early)
    assert early.followers_of_followees.done()
    assert result == PoolRunner(tiny, None, heavy).gather(ME, [2, 3], [3, 2], 20)


def test_pools_read_for_many_users_give_each_the_same_candidates(tiny):
    runner = PoolRunner(tiny, None, PoolConfig(overfetch=1, min_candidates=1, evidence=10))
    follows = {ME: [2, 3], 7: [2, 3, 9], 8: [3, 9, 10], 11: [], 404: []}
    early = runner.early_for(list(follows), 20)
    assert set(early) == set(follows)
    assert all(e.followers_of_followees.done() for e in early.values())
    # one query for all, and each user's rows are its own
    assert _uids(early[7].friends_of_friends.result()) == [4, 1, 5, 6]
    assert _uids(early[ME].friends_of_friends.result()) == [4, 5, 6]
    for uid, mine in follows.items():
        alone = runner.gather(uid, mine, mine, 20, use_vectors=False)
        assert runner.gather(uid, mine, mine, 20, use_vectors=False, early=early[uid]) == alone


def _uids(rows):
    return [r["uid"] for r in rows]


# -- pools ------------------------------------------------------------------------------


def test_friends_of_friends_known_answer(tiny):
    rows = PoolRunner(tiny, None, CFG).friends_of_friends(ME, [2, 3], limit=100)
    assert _uids(rows) == [4, 5, 6]
    by = {r["uid"]: r for r in rows}
    assert by[4]["paths"] == 2 and sorted(by[4]["via"]) == [2, 3]
    assert by[5]["paths"] == 1 and by[5]["via"] == [2]
    assert by[4]["followers"] == 2
    # 2 and 3 both have degree 6 (3 out, 3 in): Adamic-Adar weight 1/log(6) per path
    assert by[4]["adamic_adar"] == pytest.approx(2 / math.log(6))


def test_friends_of_friends_bounded_fan_out(tiny):
    rows = PoolRunner(tiny, None, PoolConfig(max_out=1)).friends_of_friends(ME, [2], limit=100)
    assert len(rows) <= 1  # 2 follows 4, 5 and me: at most one out-edge is read


def test_followers_of_followees_known_answer(tiny):
    rows = PoolRunner(tiny, None, CFG).followers_of_followees(ME, [2, 3], limit=100)
    assert _uids(rows) == [9, 7, 4, 6, 8, 10]  # ties by uid
    by = {r["uid"]: r for r in rows}
    assert (by[9]["paths"], by[9]["cofollow"]) == (3, 0)
    assert sorted(by[9]["via"]) == [7, 8]
    assert (by[7]["paths"], by[7]["cofollow"]) == (0, 2)
    assert (by[8]["paths"], by[8]["cofollow"]) == (0, 1)
    assert ME not in by and 2 not in by and 3 not in by
    # RP3beta's walk: 2 and 3 have 3 followers each, 3, 7 and 8 follow 3 accounts each;
    # 9 is reached through 7 (who shares 2 and 3 with me) and 8 (shares 3), 4 through 3
    third = 1 / math.sqrt(3)
    assert by[9]["rp3"] == pytest.approx((2 * third + third) * third / math.sqrt(2))
    assert by[4]["rp3"] == pytest.approx(third * third / math.sqrt(2))


def test_pools_2_and_3_read_my_followees_themselves(tiny):
    # via=None: the query expands from my own follows, as from the list a caller would pass
    def unordered_via(rows):  # the evidence lists follow the store's order of my follows
        return [{**r, "via": sorted(r["via"])} for r in rows]

    runner, narrow = (
        PoolRunner(tiny, None, CFG),
        PoolRunner(tiny, None, PoolConfig(max_followees=1)),
    )
    for pool in ("friends_of_friends", "followers_of_followees"):
        assert unordered_via(getattr(runner, pool)(ME, None, limit=100)) == unordered_via(
            getattr(runner, pool)(ME, [2, 3], limit=100)
        )
        # ...unless I follow more than max_followees: then the caller has to pick them
        assert getattr(narrow, pool)(ME, None, limit=100) == []


def test_popular_counts_followers(tiny):
    rows = store.read(tiny, "pool_popular", None, hidden=None, limit=4)
    assert [(r["uid"], r["followers"]) for r in rows] == [(2, 3), (3, 3), (4, 2), (9, 2)]


def test_load_keeps_the_popular_list_that_requests_read(tiny):
    live = [
        (r["uid"], r["followers"])
        for r in store.read(tiny, "pool_popular", None, hidden=None, limit=4)
    ]
    (cached,) = store.read(tiny, "read_popular", None, key=store.POPULAR_KEY)
    assert list(zip(cached["uids"], cached["followers"], strict=True))[:4] == live
    assert PopularCache().rows(tiny, None, 4) == live
    # a graph loaded by another tool has no list: the first request computes and keeps it
    tiny.execute_query(test_query("delete_test_meta"), key=store.POPULAR_KEY)
    assert not store.read(tiny, "read_popular", None, key=store.POPULAR_KEY)
    assert PopularCache().rows(tiny, None, 4) == live
    assert store.read(tiny, "read_popular", None, key=store.POPULAR_KEY)


def test_inactive_accounts_are_never_proposed(tiny):
    set_flags(tiny, inactive=[5, 9])
    assert _uids(PoolRunner(tiny, None, CFG).friends_of_friends(ME, [2, 3], 100)) == [4, 6]
    assert 9 not in _uids(PoolRunner(tiny, None, CFG).followers_of_followees(ME, [2, 3], 100))
    assert 9 not in _uids(store.read(tiny, "pool_popular", None, hidden=None, limit=10))


def _embed_tiny(driver) -> None:
    e0, e1, e2, e3 = unit(0), unit(1), unit(2), unit(3)
    vectors = {
        (1, 2): e0,
        (1, 3): e1,
        (7, 2): e0 + 0.1 * e2,  # like my 1->2: 7 is a candidate via 2
        (8, 3): e1 + 0.1 * e2,  # like my 1->3: 8 via 3
        (3, 2): e0 + 0.3 * e2,  # similar, but I already follow 3
        (7, 3): e3,
    }
    rows = [
        [u, f, (vectors.get((u, f), -(e0 + e1) + 0.01 * i * e3)).tolist()]
        for i, (u, f) in enumerate(EDGES)
    ]
    set_embeddings(driver, rows)


def test_similar_relations_known_answer(tiny):
    _embed_tiny(tiny)
    cfg = PoolConfig(neighbours=2, evidence=10)
    rows, _ = PoolRunner(tiny, None, cfg).similar_relations(ME, [2, 3], limit=100)
    assert _uids(rows) == [7, 8]
    assert rows[0]["via"] == [2] and rows[1]["via"] == [3]
    assert rows[0]["paths"] == 1 and rows[0]["similarity"] > 0.99
    # with a wide search every relation into my followees counts: 7 shares 2 and 3
    wide, _ = PoolRunner(tiny, None, PoolConfig(neighbours=20)).similar_relations(ME, [2, 3], 100)
    assert _uids(wide) == [7, 8]
    assert sorted(wide[0]["via"]) == [2, 3] and wide[0]["n_via"] == 2


def test_similar_followees_known_answer(tiny):
    # the similar followers are 7 (via 2) and 8 (via 3); what they follow that I do not:
    # 9 (both of them), then 10 (8 only); 2 and 3 are mine
    _embed_tiny(tiny)
    cfg = PoolConfig(neighbours=2, evidence=10)
    _, rows = PoolRunner(tiny, None, cfg).similar_relations(ME, [2, 3], limit=100)
    assert _uids(rows) == [9, 10]
    assert rows[0]["paths"] == 2 and sorted(rows[0]["via"]) == [7, 8]
    assert rows[0]["n_via"] == 2 and rows[0]["followers"] == 2
    assert rows[1]["via"] == [8]
    # the second rule can be switched off
    off = PoolConfig(neighbours=2, similar_followees=False)
    assert PoolRunner(tiny, None, off).similar_relations(ME, [2, 3], limit=100)[1] == []


def test_similar_relations_caps_relations_used(tiny):
    _embed_tiny(tiny)
    cfg = PoolConfig(neighbours=2, max_relations=1)
    rows, _ = PoolRunner(tiny, None, cfg).similar_relations(ME, [3, 2], limit=100)
    assert _uids(rows) == [8]


def test_follows_you_known_answer(tiny):
    # 2 is followed by 1, 3 and 7 and follows 1 back: 3 and 7 are proposed, most-followed
    # first; one of the three followers is followed back
    rows = PoolRunner(tiny, None, CFG).follows_you(2, limit=100)
    assert _uids(rows) == [3, 7]
    assert rows[0]["followers"] == 3 and rows[0]["unreturned"] == 2
    assert rows[0]["returned"] == pytest.approx(1 / 3)
    # I (1) am followed by 2 only, and follow 2: nothing to propose
    assert PoolRunner(tiny, None, CFG).follows_you(ME, limit=100) == []
    # inactive followers are not proposed, and the limit holds
    set_flags(tiny, inactive=[3])
    assert _uids(PoolRunner(tiny, None, CFG).follows_you(2, limit=100)) == [7]
    assert len(PoolRunner(tiny, None, CFG).follows_you(3, limit=2)) == 2


def test_follows_you_reads_a_bounded_number_of_followers(tiny):
    rows = PoolRunner(tiny, None, PoolConfig(max_my_followers=1)).follows_you(3, limit=100)
    assert len(rows) == 1 and rows[0]["unreturned"] == 1


# -- fallback order -----------------------------------------------------------------------


def test_fallback_order_and_provenance(tiny):
    _embed_tiny(tiny)
    cfg = PoolConfig(neighbours=2, overfetch=1, min_candidates=1, evidence=10)
    result = PoolRunner(tiny, None, cfg).gather(ME, [2, 3], [2, 3], 20)
    assert result.ran == [
        "similar_relations",
        "similar_followees",
        "friends_of_friends",
        "followers_of_followees",
        "follows_you",
        "popular",
    ]
    assert result.shared == [2, 3]
    c = result.candidates
    assert set(c) == {4, 5, 6, 7, 8, 9, 10}
    assert c[7].pools == ["similar_relations", "followers_of_followees"]
    assert c[9].pools == ["similar_followees", "followers_of_followees", "popular"]
    assert c[4].pools == ["friends_of_friends", "followers_of_followees", "popular"]
    assert c[4].evidence["friends_of_friends"]["paths"] == 2
    assert ME not in c and 2 not in c and 3 not in c


def test_pools_stop_when_full_unless_exhaustive(tiny):
    cfg = PoolConfig(overfetch=1, min_candidates=1, exhaustive=False)
    result = PoolRunner(tiny, None, cfg).gather(ME, [2, 3], [2, 3], 2, use_vectors=False)
    assert result.ran == ["friends_of_friends"]
    assert set(result.candidates) == {4, 5}  # each pool is asked for the target at most
    # started early, the follows_you query is settled, not left running
    early = PoolRunner(tiny, None, cfg).start_early(ME, 2)
    PoolRunner(tiny, None, cfg).gather(ME, [2, 3], [2, 3], 2, use_vectors=False, early=early)
    assert early.follows_you.done()


def test_no_shared_followee_goes_straight_to_graph_pools(tiny):
    # embeddings exist, but no relation is near mine: pool 1 finds nothing shared
    _embed_tiny(tiny)
    far = [[u, f, (unit(5) if (u, f) in {(1, 2), (1, 3)} else -unit(5)).tolist()] for u, f in EDGES]
    tiny.execute_query(test_query("set_test_embeddings"), rows=far)
    cfg = PoolConfig(neighbours=1, overfetch=1, min_candidates=1)
    result = PoolRunner(tiny, None, cfg).gather(ME, [2, 3], [2, 3], 20)
    assert result.shared == []
    assert result.ran[0] == "similar_relations"
    assert "friends_of_friends" in result.ran and "followers_of_followees" in result.ran
    assert not any("similar_relations" in c.pools for c in result.candidates.values())


def test_cold_start_is_popular(tiny):
    result = PoolRunner(tiny, None, PoolConfig(min_candidates=1)).gather(11, [], [], 3)
    assert result.cold_start and result.ran == ["follows_you", "popular"]
    assert list(result.candidates)[:4] == [2, 3, 4, 9]
    assert all(c.pools == ["popular"] for c in result.candidates.values())


def test_cold_start_proposes_followers_first(tiny):
    # 9 follows nobody; 7 and 8 follow 9
    result = PoolRunner(tiny, None, PoolConfig(min_candidates=1)).gather(9, [], [], 3)
    assert result.cold_start
    assert list(result.candidates)[:2] == [7, 8]
    assert result.candidates[7].pools == ["follows_you"]


def test_expansion_round_reaches_further(tiny):
    cfg = PoolConfig(rounds=1, overfetch=50, exhaustive=True)
    result = PoolRunner(tiny, None, cfg).gather(ME, [2], [2], 20, use_vectors=False)
    assert "expansion" in result.ran
    assert any("expansion" in c.pools for c in result.candidates.values())


def test_browser_guide_query_shows_the_paths(tiny):
    text = store.query("browser_why")
    assert text.splitlines()[0].startswith("// Neo4j Browser")
    assert ":param user => 42" in text
    rows = tiny.execute_query(text, user=ME, recommended=[4, 7]).records
    by = {r["recommended"]["uid"]: r for r in rows}
    assert by[4]["fof_paths"] == 2 and len(by[4]["friends_of_friends"]) == 2
    assert by[7]["shared_count"] == 2 and len(by[7]["shared_followees"]) == 2
    assert len(by[4]["my_follows"]) == 2


def test_heavy_user_expands_from_shared_followees_first(tiny):
    # more follows than max_followees: pools 2-3 expand from the followees pool 1 found
    # shared (2 first: 7 -> 2 is the nearest relation), not from the model's order (3 first)
    _embed_tiny(tiny)
    cfg = PoolConfig(neighbours=2, max_followees=1, max_relations=2)
    result = PoolRunner(tiny, None, cfg).gather(ME, [2, 3], [3, 2], 20)
    assert result.ran[:4] == [
        "similar_relations",
        "similar_followees",
        "friends_of_friends",
        "followers_of_followees",
    ]
    assert result.shared == [2, 3]
    fof = {u for u, c in result.candidates.items() if "friends_of_friends" in c.pools}
    assert fof == {4, 5}  # 2's follows; 3's (4, 6) would have given 6
