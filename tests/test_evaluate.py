"""Evaluation: the Recommender contract, known-answer ranking metrics, NeuMF vs baselines."""

from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import pytest
from click.testing import CliRunner

from graphrec import numeric
from graphrec.cli import cli
from graphrec.evaluation import methods, metrics, offline
from graphrec.model import splits
from graphrec.model.artifacts import NeuMFConfig
from graphrec.model.scorer import NumpyScorer


def two_cliques(size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Two groups in which everyone follows everyone else in the own group."""
    src, dst = [], []
    for group in range(2):
        members = range(group * size, (group + 1) * size)
        for u in members:
            for f in members:
                if u != f:
                    src.append(u)
                    dst.append(f)
    return np.array(src), np.array(dst)


def community_follows(
    communities: int = 3, size: int = 20, follows: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Each user follows ``follows`` random members of its own community."""
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for c in range(communities):
        members = 500 + c * size + np.arange(size)
        for u in members:
            picked = rng.choice(members[members != u], size=follows, replace=False)
            src += [u] * follows
            dst += picked.tolist()
    return np.array(src, np.int64), np.array(dst, np.int64)


@pytest.fixture
def clique_split() -> splits.Split:
    src, dst = two_cliques()
    return splits.leave_one_out_split(src, dst, 16, seed=3)


def test_friends_of_friends_ranks_the_held_out_clique_member_first(clique_split):
    results = metrics.ranking_metrics(
        [methods.FriendsOfFriends(clique_split), methods.AdamicAdar(clique_split)],
        clique_split,
        n_users=100,
        ks=(1, 5),
    )
    assert clique_split.test_users.size == 16
    for name in ("fof", "adamic_adar"):
        assert results[name]["users"] == 16
        assert results[name]["hr@1"] == 1.0
        assert results[name]["ndcg@1"] == 1.0
        assert results[name]["ncf_hr@10"] == 1.0  # the only in-clique candidate wins


def test_metrics_see_a_method_that_never_finds_the_answer(clique_split):
    class Worst:
        name = "worst"

        def top_k(self, users, k):
            return np.full((len(users), k), -1)

        def score_items(self, users, items):
            return -(
                items
                == clique_split.test_items[np.searchsorted(clique_split.test_users, users)][:, None]
            ).astype(float)

    order = np.argsort(clique_split.test_users)
    split = splits.Split(
        16,
        clique_split.train_src,
        clique_split.train_dst,
        clique_split.test_users[order],
        clique_split.test_items[order],
    )
    results = metrics.ranking_metrics([Worst()], split, n_users=100)
    assert results["worst"]["hr@10"] == 0.0
    assert results["worst"]["ncf_hr@10"] == 0.0


@pytest.mark.parametrize(
    "make", [methods.Popularity, methods.FriendsOfFriends, methods.AdamicAdar, methods.ImplicitALS]
)
def test_top_k_contract(make, clique_split):
    rec = make(clique_split)
    assert isinstance(rec, methods.Recommender)
    users = np.arange(16)
    top = rec.top_k(users, 12)
    assert top.shape == (16, 12)
    train = clique_split.train_matrix
    for u, row in zip(users, top, strict=True):
        real = row[row >= 0]
        assert u not in real
        assert not set(real) & set(train[u].indices)
        assert len(set(real)) == real.size
        assert real.size == 16 - 1 - train[u].nnz  # every other account, then -1 padding
        assert (row[real.size :] == -1).all()
    scores = rec.score_items(users, np.tile(np.arange(16), (16, 1)))
    assert scores.shape == (16, 16)


def test_ranking_lets_go_of_each_lazily_built_method_before_the_next(clique_split):
    alive: weakref.WeakSet = weakref.WeakSet()
    held_when_building: list[int] = []

    def tracked(rec):
        alive.add(rec)
        return rec

    def built():
        for make in (methods.Popularity, methods.FriendsOfFriends, methods.AdamicAdar):
            gc.collect()
            held_when_building.append(len(alive))
            yield tracked(make(clique_split))

    results = metrics.ranking_metrics(built(), clique_split, n_users=100)
    assert set(results) == {"popularity", "fof", "adamic_adar"}
    assert held_when_building == [0, 0, 0]


def test_large_graphs_score_fewer_users_at_once_with_the_same_results(monkeypatch):
    src, dst = community_follows(communities=4, size=25, follows=6)
    uids, s, d = splits.index_follows(src, dst)
    split = splits.leave_one_out_split(s, d, len(uids), seed=1)
    users = np.arange(len(uids))
    items = np.tile(np.arange(len(uids)), (users.size, 1))
    rec = methods.FriendsOfFriends(split)
    whole = rec.top_k(users, 20), rec.score_items(users, items)
    assert rec.batch >= users.size  # one batch
    monkeypatch.setattr(numeric, "SCORE_CELLS", 3 * len(uids))
    assert rec.batch == 3
    assert np.array_equal(rec.top_k(users, 20), whole[0])
    assert np.array_equal(rec.score_items(users, items), whole[1])


def test_neumf_beats_popularity_on_communities(tmp_path):
    from graphrec.model.train import train

    src, dst = community_follows(communities=4, size=25, follows=10, seed=1)
    train(
        src,
        dst,
        tmp_path,
        NeuMFConfig(epochs=10, batch_size=512, learning_rate=0.02, search=(), two_tower=False),
        silent=True,
    )
    scorer = NumpyScorer.load(tmp_path)
    with np.load(tmp_path / "holdout.npz") as held:
        split = splits.split_from_holdout(scorer.uids, src, dst, held["users"], held["items"])
    assert split.test_users.size == 100
    results = offline.evaluate_model(scorer, split, n_users=100)
    assert set(results) >= {"neumf", "popularity", "fof", "adamic_adar"}
    neumf, pop = results["neumf"], results["popularity"]
    # 15 unfollowed peers among 89 unfollowed accounts: knowing the community is worth a lot
    assert neumf["hr@10"] > pop["hr@10"] + 0.3
    assert neumf["ncf_hr@10"] > pop["ncf_hr@10"]
    for key in ("precision", "recall", "f1", "accuracy"):
        assert 0.0 <= neumf[key] <= 1.0
    # the NeuMF full-ranking scores are the numpy scorer's logits
    rec = methods.NeuMFRecommender(scorer, split)
    users = split.test_users[:3]
    dense = rec.scores(users)
    np.testing.assert_allclose(
        dense[1],
        scorer.logits(np.full(split.n_ids, users[1]), np.arange(split.n_ids)),
        rtol=1e-4,
        atol=1e-4,
    )


def test_evaluate_cli_json_keys(tmp_path, cli_env):
    from graphrec.model.train import train

    src, dst = community_follows(seed=5)
    csv = tmp_path / "follows.csv"
    csv.write_text("uid,fid\n" + "".join(f"{u},{f}\n" for u, f in zip(src, dst, strict=True)))
    model_dir = tmp_path / "m"
    config = NeuMFConfig(epochs=1, batch_size=2048, search=(), two_tower=False)
    train(src, dst, model_dir, config, silent=True)
    args = ["evaluate", "--model-dir", str(model_dir), "--from-csv", str(csv), "--users", "30"]
    table = CliRunner().invoke(cli, args, env=cli_env, catch_exceptions=False)
    assert table.exit_code == 0
    searched = json.loads((model_dir / "metrics.json").read_text())
    assert searched["rp3beta"]["tuning"] == "searched"
    result = CliRunner().invoke(cli, [*args, "--json"], env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"neumf", "popularity", "fof", "adamic_adar"}
    process = data.pop("process")  # the command's own time and memory
    assert process["seconds"] > 0 and process["peak_rss_mb"] > 0
    for figures in data.values():
        assert {"hr@10", "ndcg@10", "hr@50", "ncf_hr@10", "ncf_ndcg@10"} <= set(figures)
        assert figures["users"] == 30
    # the same follows: each grid search of the first run is reused, with the same outcome
    for name in ("rp3beta", "item_knn", "ease", "als"):
        assert data[name]["tuning"] == "reused", name
        assert data[name]["params"] == searched[name]["params"]
        assert data[name]["hr@10"] == searched[name]["hr@10"]
    assert table.stdout.splitlines()[0].split()[:3] == ["method", "hr@10", "ndcg@10"]
