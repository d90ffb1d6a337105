"""The two-tower model: training (Keras), its numpy towers, the account vectors in Neo4j and
the two_tower pool, which follows the graph as it is now, without retraining."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_pools import EDGES, ME, USERS, load_follows, random_model

from graphrec import store
from graphrec.account_vectors import account_status, write_account_vectors
from graphrec.model.scorer import NumpyScorer
from graphrec.model.towers import TowerScorer, TwoTowerConfig
from graphrec.recommend.pools import PoolConfig
from graphrec.recommend.service import Recommender

DIMS = 12  # account uid j has its own direction e_j (uids 1..11 fit)


def hand_made_towers(model_dir, leaning: dict[int, int]) -> None:
    """Towers whose user vector is the normalised mean of the followed accounts' directions,
    and whose account vectors are e_uid, except that each account in ``leaning`` points
    mostly the way of the account it maps to."""
    index = {u: i for i, u in enumerate(sorted(USERS))}
    account = np.zeros((len(USERS), DIMS), np.float32)
    for u, i in index.items():
        account[i, u] = 1.0
    for u, towards in leaning.items():
        account[index[u]] = 0.2 * np.eye(DIMS)[u] + np.eye(DIMS)[towards]
    eye = np.eye(DIMS, dtype=np.float32)
    zeros = np.zeros(DIMS, np.float32)
    w = dict(np.load(model_dir / "weights.npz"))
    w.update(
        tt_user=np.zeros((len(USERS), DIMS), np.float32),
        tt_account=account,
        # consumer input [user id, mean of followed accounts, log degree]: keep the mean
        tt_consumer_kernel_0=np.vstack([0 * eye, eye, np.zeros((1, DIMS), np.float32)]),
        tt_consumer_bias_0=zeros,
        tt_consumer_kernel_1=eye,
        tt_consumer_bias_1=zeros,
        # producer input [account id, log in-degree]: keep the id
        tt_producer_kernel_0=np.vstack([eye, np.zeros((1, DIMS), np.float32)]),
        tt_producer_bias_0=zeros,
        tt_producer_kernel_1=eye,
        tt_producer_bias_1=zeros,
        tt_vectors=account / np.linalg.norm(account, axis=1, keepdims=True),
    )
    np.savez(model_dir / "weights.npz", **w)


@pytest.fixture
def towers_world(graph, tmp_path):
    load_follows(graph, EDGES, USERS)
    model_dir = random_model(tmp_path / "model", USERS)
    hand_made_towers(model_dir, leaning={9: 10})
    first = write_account_vectors(graph, NumpyScorer.load(model_dir), silent=True)
    assert first is not None and first["written"] == len(USERS)
    return model_dir


def test_account_vectors_are_written_once_per_model(towers_world, graph):
    scorer = NumpyScorer.load(towers_world)
    again = write_account_vectors(graph, scorer, silent=True)
    assert again is not None and again["written"] == 0
    assert store.index_state(graph, store.ACCOUNT_INDEX)["state"] == "ONLINE"
    stored = graph.execute_query("MATCH (u:User {uid: 9}) RETURN u.account_embedding AS v").records[
        0
    ]["v"]
    assert np.allclose(stored, scorer.towers.vectors[scorer.index_of(9)[0]], atol=1e-6)
    assert account_status(graph, scorer)["without_account_vector"] == 0
    load_follows(graph, [(12, ME)])  # a user the model has never seen
    assert account_status(graph, scorer)["without_account_vector"] == 1
    assert write_account_vectors(graph, scorer, silent=True)["unknown_to_model"] == 1


def test_a_new_follow_moves_the_two_tower_pool_without_retraining(towers_world, graph):
    recommender = Recommender(graph, None, towers_world, PoolConfig(two_tower=True))

    def two_tower_pool() -> list[tuple[int, float]]:
        pools = recommender.candidates(recommender.user(ME), 10)
        assert "two_tower" in pools.ran
        found = [c for c in pools.candidates.values() if "two_tower" in c.pools]
        found.sort(key=lambda c: c.evidence["two_tower"]["position"])
        return [(c.uid, c.evidence["two_tower"]["similarity"]) for c in found]

    before = dict(two_tower_pool())
    assert before[9] < 0.6  # 9 leans towards 10, which has nothing to do with 2 and 3 yet

    load_follows(graph, [(ME, 10)])  # the follow arrives; the model stays as it was
    after = two_tower_pool()
    assert 10 not in dict(after)  # followed now: never proposed
    assert after[0][0] == 9 and after[0][1] > before[9]
    recs = recommender.recommend(ME, k=10)
    assert 10 not in [r.uid for r in recs]
    assert "two_tower" in next(r for r in recs if r.uid == 9).pools


def test_the_pool_is_off_by_default_but_its_score_follows_the_graph(towers_world, graph):
    recommender = Recommender(graph, None, towers_world)
    assert "two_tower" not in recommender.candidates(recommender.user(ME), 10).ran

    def two_tower_score(account: int) -> float:
        user = recommender.user(ME)
        vector = recommender.user_vector(user)
        return float(recommender.model_scores(ME, [account], vector).towers[0])

    before = two_tower_score(9)
    load_follows(graph, [(ME, 10)])
    assert two_tower_score(9) > before + 0.3  # the ranker's feature moved with the follow


def test_recommend_goes_on_without_the_account_index(towers_world, graph):
    store.write(graph, "drop_index", None, name=store.ACCOUNT_INDEX)
    recommender = Recommender(graph, None, towers_world, PoolConfig(two_tower=True))
    pools = recommender.candidates(recommender.user(ME), 10)
    assert "two_tower" not in pools.ran and pools.candidates


def _communities(n_per: int, follows_each: int, seed: int):
    """Two groups of users who follow only inside their group."""
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for group in range(2):
        members = np.arange(group * n_per, (group + 1) * n_per)
        for u in members:
            for f in rng.choice(members[members != u], follows_each, replace=False):
                src.append(u)
                dst.append(f)
    return np.array(src, np.int32), np.array(dst, np.int32)


def test_two_tower_training_learns_who_belongs_together():
    from graphrec.model.two_tower import FollowLists, train_two_tower

    n_per = 60
    src, dst = _communities(n_per, 8, seed=0)
    val = np.arange(0, src.size, 8)  # one follow of each user kept for validation
    fit = np.setdiff1d(np.arange(src.size), val)
    config = TwoTowerConfig(batch_size=64, epochs=6, patience=6, learning_rate=0.01)
    weights, figures = train_two_tower(
        src[fit], dst[fit], src[val], dst[val], 2 * n_per, config, silent=True
    )
    assert figures["epochs"] == 6 and json.dumps(figures)
    scorer = TowerScorer(weights, config)
    # the stored account vectors are the producer tower's, recomputed in numpy
    in_degree = np.bincount(dst[fit], minlength=2 * n_per)
    recomputed = scorer.account_vectors(np.arange(2 * n_per), in_degree)
    assert np.allclose(recomputed, scorer.vectors, atol=1e-5)
    # a user's top accounts are in their own group
    lists = FollowLists(src[fit], dst[fit], 2 * n_per)
    users = np.arange(2 * n_per)
    vectors = scorer.user_vectors(users, [lists.of(int(u)) for u in users])
    top = np.argsort(-(vectors @ scorer.vectors.T), axis=1)[:, :10]
    same_group = (top // n_per) == (users // n_per)[:, None]
    assert same_group.mean() > 0.9
    assert figures["best_val_hr@10"] > 2 * 10 / (2 * n_per)  # twice chance


def test_recommend_cli_takes_the_pool_when_asked(towers_world, cli_env):
    from click.testing import CliRunner

    from graphrec.cli import cli

    args = ["recommend", "--user", str(ME), "-k", "10", "--model-dir", str(towers_world), "--json"]
    pools = {}
    for flag in ("--two-tower-pool", "--no-two-tower-pool"):
        result = CliRunner().invoke(cli, [*args, flag], env=cli_env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        pools[flag] = {p for row in json.loads(result.stdout) for p in row["pools"]}
    assert "two_tower" in pools["--two-tower-pool"]
    assert "two_tower" not in pools["--no-two-tower-pool"]
