"""The multi-interest model (ComiRec-SA): training (Keras), its numpy forward pass, the
multi_interest pool over the account index, which follows the graph as it is now, and the
ranker's choice of the optional pools on validation follows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_pools import ME, load_follows
from test_two_tower import DIMS, towers_world  # noqa: F401  (the towers fixture)

from graphrec.model.interests import InterestScorer, MultiInterestConfig
from graphrec.model.scorer import NumpyScorer
from graphrec.recommend import rank
from graphrec.recommend.pools import PoolConfig
from graphrec.recommend.service import Recommender

LOW, HIGH = {2, 3, 4, 5, 6}, {7, 8, 9, 10, 11}


def hand_made_interests(model_dir) -> None:
    """Two interests: the first attends to the followed accounts among LOW, the second to
    those among HIGH (account uid j points along e_j, so tanh(5 H) keeps its direction)."""
    heads = np.zeros((DIMS, 2), np.float32)
    heads[sorted(LOW), 0] = 10.0
    heads[sorted(HIGH), 1] = 10.0
    w = dict(np.load(model_dir / "weights.npz"))
    w.update(
        mi_attention_kernel=5 * np.eye(DIMS, dtype=np.float32),
        mi_attention_heads=heads,
        mi_projection_kernel=np.eye(DIMS, dtype=np.float32),
        mi_projection_bias=np.zeros(DIMS, np.float32),
    )
    np.savez(model_dir / "weights.npz", **w)


@pytest.fixture
def interests_world(towers_world):
    """towers_world's graph and model, with hand-made interests added to the model."""
    hand_made_interests(towers_world)
    return towers_world


def _pool(recommender: Recommender) -> dict[int, dict]:
    pools = recommender.candidates(recommender.user(ME), 10)
    assert "multi_interest" in pools.ran
    return {
        c.uid: c.evidence["multi_interest"]
        for c in pools.candidates.values()
        if "multi_interest" in c.pools
    }


def test_a_new_follow_gives_the_user_a_new_interest_without_retraining(interests_world, graph):
    recommender = Recommender(graph, None, interests_world, PoolConfig(multi_interest=True))
    before = _pool(recommender)
    assert not ({ME, 2, 3} & set(before))  # never the user or what they follow
    # 1 follows 2 and 3 (LOW) only: both interests point between them, at right angles to 9
    assert before.get(9, {"similarity": 0.5})["similarity"] < 0.6  # (1 + cosine) / 2

    load_follows(graph, [(ME, 10)])  # the follow arrives; the model stays as it was
    after = _pool(recommender)
    assert 10 not in after
    best = max(after, key=lambda u: after[u]["similarity"])
    assert best == 9 and after[9]["similarity"] > 0.95  # 9 leans towards 10
    assert after[9]["like"][0] == 10  # the interest behind it attends to 10 most
    recs = recommender.recommend(ME, k=10)
    nine = next(r for r in recs if r.uid == 9)
    assert "multi_interest" in nine.pools
    assert "similar to accounts you follow: 10" in nine.explanation


def test_interests_score_every_candidate_for_the_ranker(interests_world, graph):
    recommender = Recommender(graph, None, interests_world)
    assert recommender.config.multi_interest is False  # no ranker: the pool is off
    pools = recommender.candidates(recommender.user(ME), 10)
    assert "multi_interest" not in pools.ran and pools.interests is not None
    cands = [c.uid for c in pools.candidates.values()]
    scores = recommender.model_scores(ME, cands, pools.user_vector, pools.interests)
    assert scores.interests is not None and scores.interests.shape == (len(cands),)
    x = rank.features(list(pools.candidates.values()), scores)
    assert x[:, rank.F["mi_rank"]].max() == 1.0


def test_the_pools_run_as_the_ranker_chose_unless_told(interests_world, graph):
    ranker = rank.Ranker(
        np.zeros(len(rank.FEATURES)),
        0.0,
        np.zeros(len(rank.FEATURES)),
        np.ones(len(rank.FEATURES)),
        NumpyScorer.load(interests_world).version,
        pools={"two_tower": False, "multi_interest": True},
    )
    ranker.save(interests_world)
    chosen = Recommender(graph, None, interests_world)
    assert (chosen.config.two_tower, chosen.config.multi_interest) == (False, True)
    assert "multi_interest" in chosen.candidates(chosen.user(ME), 10).ran
    told = Recommender(graph, None, interests_world, PoolConfig(multi_interest=False))
    assert "multi_interest" not in told.candidates(told.user(ME), 10).ran


def test_a_ranker_fitted_before_a_feature_existed_still_loads(interests_world):
    ranker = rank.Ranker(
        np.arange(len(rank.FEATURES), dtype=np.float64),
        0.5,
        np.zeros(len(rank.FEATURES)),
        np.ones(len(rank.FEATURES)),
    )
    saved = ranker.to_dict()
    keep = [i for i, name in enumerate(rank.FEATURES) if not name.startswith("mi_")]
    for key in ("coef", "mean", "std"):
        saved[key] = [saved[key][i] for i in keep]
    saved["features"] = [rank.FEATURES[i] for i in keep]
    (interests_world / "ranker.json").write_text(json.dumps(saved))
    loaded = rank.Ranker.load(interests_world)
    assert loaded is not None
    assert loaded.coef[rank.F["mi_rel"]] == 0.0 and loaded.coef[rank.F["mi_rank"]] == 0.0
    assert loaded.coef[rank.F["popularity"]] == rank.F["popularity"]


def test_numpy_interests_are_the_keras_models():
    from graphrec.model.multi_interest import _Attention
    from graphrec.model.tf_runtime import tf

    rng = np.random.default_rng(3)
    dim, config = 8, MultiInterestConfig(interests=3, hidden=5)
    vectors = rng.normal(size=(30, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    model = _Attention(dim, config)
    for weight in model.weights:  # away from the identity start, so the check has teeth
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    followees = np.array([4, 9, 17, 23])
    bag = np.array([[4, 9, 17, 23, -1, -1]])
    mask = bag >= 0
    h = vectors[np.maximum(bag, 0)] * mask[..., None]
    expected = model.interests(tf.constant(h), tf.constant(mask)).numpy()[0]
    scorer = InterestScorer(model.export(), vectors, config)
    got = scorer.interests(followees)
    assert got is not None
    assert np.allclose(got.vectors, expected, atol=1e-5)
    assert np.allclose(got.attention.sum(axis=1), 1.0)
    assert scorer.interests(np.array([-1, -1])) is None  # nothing the model knows


def test_training_gives_a_user_of_two_communities_an_interest_in_each():
    from graphrec.model.multi_interest import train_multi_interest

    rng = np.random.default_rng(0)
    n_per, dim = 40, 8
    centre = np.eye(dim, dtype=np.float32)[:2]  # community 0 along e0, community 1 along e1
    vectors = centre[np.arange(2 * n_per) // n_per] + 0.15 * rng.normal(size=(2 * n_per, dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    src, dst = [], []
    for u in range(2 * n_per, 4 * n_per):  # users who each follow 5 of both communities
        for community in range(2):
            members = np.arange(community * n_per, (community + 1) * n_per)
            for f in rng.choice(members, 5, replace=False):
                src.append(u)
                dst.append(f)
    src_a, dst_a = np.array(src), np.array(dst)
    n_ids = 4 * n_per
    all_vectors = np.vstack([vectors, np.zeros((n_ids - vectors.shape[0], dim), np.float32)])
    val = np.arange(0, src_a.size, 10)
    fit = np.setdiff1d(np.arange(src_a.size), val)
    config = MultiInterestConfig(
        interests=2, hidden=8, batch_size=64, epochs=8, patience=8, learning_rate=0.02
    )
    weights, figures = train_multi_interest(
        all_vectors, src_a[fit], dst_a[fit], src_a[val], dst_a[val], config, silent=True
    )
    assert figures["epochs"] == 8 and json.dumps(figures)
    scorer = InterestScorer(weights, all_vectors, config)
    close = []
    for u in range(2 * n_per, 4 * n_per):
        interests = scorer.interests(dst_a[fit][src_a[fit] == u])
        assert interests is not None
        # each community's centre is near one of the user's interests
        close.append((interests.vectors @ centre.T).max(axis=0).min())
    # one vector for both (their mean) would be at cos 0.7 to each centre
    assert np.median(close) > 0.85

    # the validation estimate (users scored a chunk at a time) is the plain per-user count
    from graphrec.model.multi_interest import hit_rate
    from graphrec.model.two_tower import FollowLists

    lists = FollowLists(src_a[fit], dst_a[fit], n_ids)
    users, items = src_a[val], dst_a[val]
    plain = []
    for u, target in zip(users.tolist(), items.tolist(), strict=True):
        interests = scorer.interests(lists.of(u))
        scores = scorer.scores(interests, np.arange(n_ids))
        scores[lists.of(u)] = scores[u] = -np.inf
        plain.append((scores > scores[target]).sum() < 10)
    assert 0 < np.mean(plain) < 1
    assert hit_rate(scorer, lists, users, items) == pytest.approx(np.mean(plain))


def test_fit_ranker_keeps_an_optional_pool_only_where_it_finds_more():
    from graphrec.evaluation.ranker_fit import _choose_pools, _Seen
    from graphrec.recommend.pools import Candidate

    rng = np.random.default_rng(5)
    seen = []
    for _ in range(200):
        cands = []
        for uid in range(10):  # what the graph pools propose: never the hidden account
            c = Candidate(uid)
            c.add("friends_of_friends", 10, paths=int(rng.integers(1, 5)), via=[])
            cands.append(c)
        target = Candidate(100)  # found by the multi-interest pool alone ...
        target.add("multi_interest", 3, similarity=0.9, interest=0, like=[])
        noise = Candidate(101)  # ... and the two-tower pool finds nothing of use
        noise.add("two_tower", 3, similarity=0.9)
        cands += [target, noise]
        interests = rng.normal(size=len(cands))
        interests[10] += 3.0  # its interest score gives it away to a ranker
        scores = rank.ModelScores(
            rng.normal(size=len(cands)), np.ones(len(cands), bool), interests=interests
        )
        seen.append(
            _Seen(cands, scores, 100, ["friends_of_friends", "two_tower", "multi_interest"])
        )
    chosen, info = _choose_pools(seen, ["two_tower", "multi_interest"], k=10)
    assert chosen == {"multi_interest"}
    assert info["chosen"] == ["multi_interest"] and info["users"] == 100
    assert info["hr@10"]["none"] == 0.0 and info["hr@10"]["multi_interest"] > 0.9
    # a pool the fit never saw run is not a choice at all
    assert _choose_pools(seen, [], k=10) == (set(), {})


def test_pool_1_is_chosen_with_both_of_its_rules_or_dropped_with_both():
    from graphrec.evaluation.ranker_fit import _choose_pools, _Seen
    from graphrec.recommend.pools import Candidate, without

    rng = np.random.default_rng(7)

    def users(pool_1_finds: bool) -> list[_Seen]:
        seen = []
        for _ in range(200):
            cands = []
            for uid in range(10):
                c = Candidate(uid)
                c.add("friends_of_friends", 10, paths=1, via=[])
                cands.append(c)
            target = Candidate(100)
            if pool_1_finds:  # only pool 1's second rule proposes the hidden account
                target.add("similar_followees", 3, paths=5, similarity=0.9, via=[], n_via=1)
            else:  # the graph finds it, and pool 1 adds nothing but noise
                target.add("friends_of_friends", 3, paths=5, via=[])
            noise = Candidate(101)
            noise.add("similar_relations", 3, paths=1, similarity=0.5, via=[], n_via=1)
            cands += [target, noise]
            scores = rank.ModelScores(rng.normal(size=len(cands)), np.ones(len(cands), bool))
            seen.append(_Seen(cands, scores, 100, ["similar_relations", "friends_of_friends"]))
        return seen

    found = users(pool_1_finds=True)
    assert _choose_pools(found, ["similar_relations"], k=10)[0] == {"similar_relations"}
    assert _choose_pools(users(pool_1_finds=False), ["similar_relations"], k=10)[0] == set()
    # dropping pool 1 drops what its second rule proposed too
    rest = without(found[0].cands, frozenset({"similar_relations"}))
    assert {c.uid for c in rest} == set(range(10))


def test_a_pool_must_find_more_than_the_noise_to_be_kept():
    from graphrec.evaluation.ranker_fit import _within_noise

    base = np.zeros(100, dtype=bool)
    base[:40] = True
    one_more = base.copy()
    one_more[40] = True
    assert _within_noise(base, one_more)  # one user more: within two standard errors
    ten_more = base.copy()
    ten_more[40:50] = True
    assert not _within_noise(base, ten_more)  # ten more of ten that differ: beyond them
    swapped = base.copy()
    swapped[:6], swapped[40:48] = False, True  # eight found, six lost: 14 differ, 2 more
    assert _within_noise(base, swapped)
    assert _within_noise(base, base)
