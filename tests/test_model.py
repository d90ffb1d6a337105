"""NeuMF: Keras model vs numpy scorer, negative sampling, hold-out, training end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from graphrec.cli import cli
from graphrec.model import artifacts
from graphrec.model.artifacts import NeuMFConfig
from graphrec.model.interests import KEYS as interest_keys
from graphrec.model.sampling import example_chunks, known_pairs, sample_negatives
from graphrec.model.scorer import NumpyScorer
from graphrec.model.splits import index_follows, leave_one_out_split

TINY = NeuMFConfig(epochs=2, batch_size=2048, learning_rate=0.01, search=())


def community_follows(
    communities: int = 3, size: int = 20, follows: int = 8, seed: int = 0, base: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Each user follows ``follows`` random members of its own community (uids from base)."""
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for c in range(communities):
        members = base + c * size + np.arange(size)
        for u in members:
            others = members[members != u]
            for f in rng.choice(others, size=follows, replace=False):
                src.append(u)
                dst.append(f)
    return np.array(src, np.int64), np.array(dst, np.int64)


def load_into_neo4j(driver, src: np.ndarray, dst: np.ndarray) -> None:
    """Put follows into Neo4j with the product's own loader."""
    from graphrec.io import EdgeList, clean
    from graphrec.loader import load_follows

    load_follows(driver, clean(EdgeList(np.asarray(src), np.asarray(dst), "test")), silent=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small model trained from numpy (no Neo4j), shared by the tests below."""
    from graphrec.model.train import train

    src, dst = community_follows()
    model_dir = tmp_path_factory.mktemp("model")
    figures = train(src, dst, model_dir, TINY, silent=True)
    return model_dir, figures, (src, dst)


# --------------------------------------------------------------------------- numpy == keras


@pytest.mark.parametrize("tie", ["none", "gmf", "both"])
def test_numpy_scorer_matches_keras_on_random_pairs(tie):
    import keras

    from graphrec.model.keras_model import build_neumf, export_weights, relation_model

    config = NeuMFConfig(init_std=0.5, seed=3, tie=tie)
    n = 50
    model = build_neumf(n, config)
    uids = np.arange(n, dtype=np.int64) * 7 + 3
    weights = export_weights(model, uids, config)
    tables = {layer.name for layer in model.layers if isinstance(layer, keras.layers.Embedding)}
    assert len(tables) == {"none": 4, "gmf": 3, "both": 2}[tie]
    assert np.array_equal(weights["gmf_user"], weights["gmf_item"]) == (tie != "none")
    scorer = NumpyScorer(weights)
    rng = np.random.default_rng(1)
    users = rng.integers(0, n, 300)
    items = rng.integers(0, n, 300)
    inputs = {"user": users.astype(np.int32), "item": items.astype(np.int32)}
    keras_scores = np.asarray(model.predict(inputs, verbose=0)).ravel()
    assert keras_scores.std() > 1e-3  # the check is not vacuous
    np.testing.assert_allclose(scorer.score(users, items), keras_scores, rtol=1e-4, atol=1e-5)
    relation = np.asarray(relation_model(model).predict(inputs, verbose=0))
    assert relation.shape == (300, config.relation_dim)
    np.testing.assert_allclose(
        scorer.relation_embedding(users, items), relation, rtol=1e-4, atol=1e-5
    )
    assert isinstance(model.get_layer("relation"), keras.layers.Concatenate)


def test_scorer_scores_many_pairs_in_blocks_with_the_same_result(monkeypatch):
    from graphrec.model import scorer as scorer_module

    rng = np.random.default_rng(4)
    n = 40
    weights = {
        "uids": np.arange(n),
        **{key: rng.normal(size=(n, 8)) for key in ("gmf_user", "gmf_item")},
        **{key: rng.normal(size=(n, 16)) for key in ("mlp_user", "mlp_item")},
        "mlp_kernel_0": rng.normal(size=(32, 8)),
        "mlp_bias_0": rng.normal(size=8),
        "out_kernel": rng.normal(size=16),
        "out_bias": np.array([0.3]),
    }
    scorer = NumpyScorer(weights)
    users, items = rng.integers(0, n, (2, 3, 101))
    direct = (
        scorer.relation_embedding(users.ravel(), items.ravel()) @ scorer.out_kernel
        + scorer.out_bias
    )
    monkeypatch.setattr(scorer_module, "PAIRS_AT_ONCE", 7)  # blocks, and a partial last one
    blocked = scorer.logits(users, items)
    assert blocked.shape == (3, 101)
    np.testing.assert_allclose(blocked.ravel(), direct, rtol=1e-5, atol=1e-5)


def test_neumf_started_from_pretrained_towers_averages_their_logits():
    from graphrec.model.keras_model import build_neumf, init_from_towers

    n = 40
    gmf = build_neumf(n, NeuMFConfig(init_std=0.5, seed=5, tie="none"), towers=("gmf",))
    mlp = build_neumf(n, NeuMFConfig(init_std=0.5, seed=6, tie="none"), towers=("mlp",))
    model = build_neumf(n, NeuMFConfig(seed=7, tie="none"))
    init_from_towers(model, gmf, mlp, alpha=0.5)
    rng = np.random.default_rng(4)
    inputs = {
        "user": rng.integers(0, n, 200).astype(np.int32),
        "item": rng.integers(0, n, 200).astype(np.int32),
    }

    def logit(m):
        p = np.asarray(m.predict(inputs, verbose=0), np.float64).ravel()
        return np.log(p / (1 - p))

    assert logit(gmf).std() > 1e-3 and logit(mlp).std() > 1e-3
    np.testing.assert_allclose(logit(model), 0.5 * (logit(gmf) + logit(mlp)), atol=1e-4)


def test_trained_artifacts_agree(trained):
    import keras

    model_dir, figures, _ = trained
    for name in (
        artifacts.WEIGHTS,
        artifacts.META,
        artifacts.KERAS_MODEL,
        artifacts.HOLDOUT,
        artifacts.CURVES,
    ):
        assert (model_dir / name).exists(), name
    scorer = NumpyScorer.load(model_dir)
    model = keras.models.load_model(model_dir / artifacts.KERAS_MODEL)
    assert getattr(model, "optimizer", None) is None  # rebuilt from the exported weights
    rng = np.random.default_rng(2)
    users, items = rng.integers(0, len(scorer.uids), (2, 200))
    expected = np.asarray(
        model.predict({"user": users.astype(np.int32), "item": items.astype(np.int32)}, verbose=0)
    ).ravel()
    np.testing.assert_allclose(scorer.score(users, items), expected, rtol=1e-4, atol=1e-5)
    w = artifacts.load_weights(model_dir)
    expected_keys = {"uids", "gmf_user", "gmf_item", "mlp_user", "mlp_item", "out_kernel"}
    expected_keys |= {"out_bias"} | {f"mlp_{p}_{i}" for p in ("kernel", "bias") for i in range(4)}
    expected_keys |= {"mf_user", "mf_item"}  # the dot-product MF the ranker reads
    expected_keys |= {"tt_user", "tt_account", "tt_vectors"}  # the two-tower model
    expected_keys |= {
        f"tt_{t}_{p}_{i}"
        for t in ("consumer", "producer")
        for p in ("kernel", "bias")
        for i in range(2)
    }
    expected_keys |= set(interest_keys)  # the multi-interest model
    assert set(w) == expected_keys
    assert scorer.towers is not None and scorer.towers.vectors.shape == (len(scorer.uids), 64)
    assert 1 <= figures["two_tower"]["epochs"] <= TINY.epochs  # never longer than NeuMF may
    assert scorer.interests is not None and scorer.interests.k == 4
    assert 1 <= figures["multi_interest"]["epochs"] <= TINY.epochs
    assert w["out_kernel"].shape == (16, 1)
    assert isinstance(w["gmf_user"], np.memmap)  # the per-uid tables are mapped, not read
    assert not scorer.mf_user.flags.owndata and not scorer.mf_user.flags.writeable  # a view
    meta = json.loads((model_dir / artifacts.META).read_text())
    assert meta["version"] == figures["version"]
    assert meta["n_ids"] == len(scorer.uids)
    for key in ("examples", "examples_per_second", "epochs", "seconds"):
        assert figures[key] > 0


def test_scoring_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "import graphrec.model.scorer, graphrec.evaluation.offline\n"
        "import graphrec.embed, graphrec.graph\n"
        "import graphrec.cli, graphrec.cli.model\n"
        "from click.testing import CliRunner\n"
        "CliRunner().invoke(graphrec.cli.cli, ['--help'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- sampling, hold-out


def test_negatives_are_never_known_follows_or_self():
    rng = np.random.default_rng(0)
    n = 30
    src = rng.integers(2, n, 400)  # users 0 and 1 get their follows below
    dst = rng.integers(0, n, 400)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    # user 0 follows everyone but 5; user 1 follows everyone
    src = np.r_[src, np.zeros(n - 2, np.int64), np.ones(n - 1, np.int64)]
    dst = np.r_[dst, [i for i in range(1, n) if i != 5], [i for i in range(n) if i != 1]]
    keys = known_pairs(src, dst, n)
    users = np.r_[rng.integers(0, n, 5000), np.zeros(20, np.int64), np.ones(3, np.int64)]
    items = sample_negatives(users, keys, rng)
    ok = items >= 0
    assert not keys.contains(users[ok], items[ok]).any()
    assert not (items[ok] == users[ok]).any()
    assert (items[users == 0] == 5).all()
    assert (items[users == 1] == -1).all()
    assert ok.sum() == (users != 1).sum()


def test_known_pairs_filter_agrees_with_exact_membership():
    rng = np.random.default_rng(11)
    n = 5000
    src, dst = rng.integers(0, n, 40_000), rng.integers(0, n, 40_000)
    known = known_pairs(src, dst, n)
    exact = set((src * n + dst).tolist())
    users = np.r_[src[:5000], rng.integers(0, n, 50_000)]  # known pairs and random ones
    items = np.r_[dst[:5000], rng.integers(0, n, 50_000)]
    want = np.array([u * n + i in exact for u, i in zip(users, items, strict=True)])
    assert want.sum() >= 5000
    assert np.array_equal(known.contains(users, items), want)
    assert np.array_equal(
        known.contains(users.reshape(500, -1), items.reshape(500, -1)).ravel(), want
    )
    assert known.followed(int(src[0])).tolist() == sorted(
        {int(d) for s_, d in zip(src, dst, strict=True) if s_ == src[0]}
    )
    assert known.follow_counts().sum() == len(exact)


def _epoch(users, items, known, negatives, rng):
    """One epoch of example_chunks at once: (users, items, labels) of the weighted rows."""
    chunks = list(example_chunks(users, items, known, negatives, rng))
    u, i, y, w = (np.concatenate([c[j] for c in chunks]) for j in range(4))
    return u[w > 0], i[w > 0], y[w > 0]


def test_training_examples_have_fresh_labelled_negatives():
    src, dst = community_follows(communities=2, size=10, follows=4)
    uids, s, d = index_follows(src, dst)
    keys = known_pairs(s, d, len(uids))
    rng = np.random.default_rng(0)
    u1, i1, y1 = _epoch(s, d, keys, 4, rng)
    u2, i2, _ = _epoch(s, d, keys, 4, rng)
    assert u1.size == s.size * 5 and y1.sum() == s.size
    assert keys.contains(u1[y1 == 1], i1[y1 == 1]).all()
    assert not keys.contains(u1[y1 == 0], i1[y1 == 0]).any()
    assert not np.array_equal(np.sort(u1 * 1000 + i1), np.sort(u2 * 1000 + i2))


def test_example_chunks_stream_an_epoch_in_bounded_int32_chunks():

    rng = np.random.default_rng(3)
    n = 300
    src, dst = rng.integers(1, n, 5000), rng.integers(0, n, 5000)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    everyone = np.arange(1, n)  # user 0 follows every account: its negatives cannot be drawn
    src, dst = np.r_[src, np.zeros(n - 1, np.int64)], np.r_[dst, everyone]
    keys = known_pairs(src, dst, n)
    chunks = list(example_chunks(src, dst, keys, 4, rng, chunk_examples=1000))
    assert len(chunks) > 10 and all(c[0].size <= 1000 for c in chunks)
    u, i, y, w = (np.concatenate([c[j] for c in chunks]) for j in range(4))
    assert u.dtype == np.int32 and i.dtype == np.int32
    assert u.size == src.size * 5 and y.sum() == src.size  # exactly the epoch's examples
    assert np.array_equal(np.sort(u[y == 1] * n + i[y == 1]), np.sort(src * n + dst))
    negative = (y == 0) & (w > 0)
    assert not keys.contains(u[negative], i[negative]).any()
    assert (w[(y == 0) & (u == 0)] == 0).all() and (w[u != 0] == 1).all()


def test_blocks_are_whole_batches_with_zero_weight_padding():
    from graphrec.model.train import _blocks

    chunks = [
        tuple(np.arange(a, b, dtype=np.float32) for _ in range(3)) for a, b in ((0, 7), (7, 13))
    ]
    chunks = [(*c, np.ones(c[0].size, np.float32)) for c in chunks]
    blocks = list(_blocks(chunks, 4))
    users = np.concatenate([b[0]["user"].ravel() for b in blocks])
    weights = np.concatenate([b[2].ravel() for b in blocks])
    assert all(b[0]["user"].shape[1] == 4 and b[1].shape[1:] == (4, 1) for b in blocks)
    assert users[:13].tolist() == list(range(13)) and weights.tolist() == [1] * 13 + [0] * 3


def test_leave_one_out_split_holds_out_one_follow_per_active_user():
    src = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    dst = np.array([1, 2, 3, 0, 2, 0, 1, 3, 4])
    split = leave_one_out_split(src, dst, 5, seed=7)
    assert sorted(split.test_users.tolist()) == [0, 2]  # user 1 has only 2 follows
    train = set(zip(split.train_src.tolist(), split.train_dst.tolist(), strict=True))
    held = set(zip(split.test_users.tolist(), split.test_items.tolist(), strict=True))
    assert not train & held
    assert train | held == set(zip(src.tolist(), dst.tolist(), strict=True))
    again = leave_one_out_split(src, dst, 5, seed=7)
    assert np.array_equal(again.test_items, split.test_items)


@pytest.mark.parametrize("pretrain_epochs", [0, 1])
def test_training_never_sees_held_out_follows(tmp_path, monkeypatch, pretrain_epochs):
    from graphrec.model import train as train_module

    seen: list[tuple[np.ndarray, np.ndarray]] = []
    original = train_module.example_chunks

    def recording(users, items, *args, **kwargs):
        chunks = list(original(users, items, *args, **kwargs))
        u, i, y = (np.concatenate([c[j] for c in chunks]) for j in range(3))
        seen.append((u[y == 1], i[y == 1]))
        yield from chunks

    monkeypatch.setattr(train_module, "example_chunks", recording)
    src, dst = community_follows(communities=2, size=12, follows=5)
    config = NeuMFConfig(
        epochs=1, batch_size=1024, pretrain_epochs=pretrain_epochs, search=(), two_tower=False
    )
    train_module.train(src, dst, tmp_path, config, silent=True)
    scorer = NumpyScorer.load(tmp_path)
    with np.load(tmp_path / artifacts.HOLDOUT) as held:
        hu, hi = scorer.index_of(held["users"]), scorer.index_of(held["items"])
    assert hu.size == 24  # every user has 5 follows -> one held out each
    held_keys = set((hu * 10_000 + hi).tolist())
    assert len(seen) == 2 + 2 * pretrain_epochs  # validation, GMF and MLP alone, one epoch
    for users, items in seen:
        assert not held_keys & set((users * 10_000 + items).tolist())


def _exact_probe(communities: int):
    """A small graph's split, known follows, followers and a probe whose pool is every
    account (so its estimate is an exact full ranking)."""
    from graphrec.model.train import RankingProbe

    src, dst = community_follows(communities=communities, size=15, follows=5)
    uids, s, d = index_follows(src, dst)
    n = len(uids)
    split = leave_one_out_split(s, d, n, seed=1)
    known = known_pairs(s, d, n)
    followers = np.bincount(split.train_dst, minlength=n)
    config = NeuMFConfig(rank_pool=n, rank_users=n, seed=5)
    probe = RankingProbe(split.test_users, split.test_items, n, known, config, followers)
    return n, split, known, followers, probe


def _held_out_hits(split, known, n: int, above) -> list[bool]:
    """For each held-out follow: fewer than 10 accounts scored above it (``above(u, item,
    candidates)``), among those its user does not follow, the user left out."""
    hits = []
    for u, item in zip(split.test_users, split.test_items, strict=True):
        candidates = ~known.contains(np.full(n, u), np.arange(n)) & (np.arange(n) != u)
        hits.append(above(u, item, candidates) < 10)
    return hits


def test_ranking_probe_is_exact_full_ranking_on_a_small_graph():
    """With a pool as large as the graph, the probe is HR@10 of a full ranking by Keras."""
    from graphrec.model.keras_model import build_neumf

    n, split, known, _, probe = _exact_probe(communities=2)
    model = build_neumf(n, NeuMFConfig(init_std=0.5, seed=5, tie="none"))
    grid_u, grid_i = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    scores = model.predict({"user": grid_u, "item": grid_i}, verbose=0).reshape(n, n)
    hits = _held_out_hits(
        split, known, n, lambda u, item, cands: (scores[u][cands] > scores[u, item]).sum()
    )
    assert 0 < np.mean(hits) < 1  # a test that can tell the two apart
    assert probe.hit_rate(model) == pytest.approx(np.mean(hits))


def test_ranking_probe_estimates_popularity_like_a_full_ranking_by_followers():
    n, split, known, followers, probe = _exact_probe(communities=3)

    def above(u, item, cands):  # ties count half
        others = followers[cands]
        return (others > followers[item]).sum() + 0.5 * (others == followers[item]).sum()

    hits = _held_out_hits(split, known, n, above)
    p = np.mean(hits)
    assert 0 < p < 1
    assert probe.popularity_hit_rate() == pytest.approx(p)
    assert probe.floor(p) == pytest.approx(p + 2 * np.sqrt(p * (1 - p) / len(hits)))


def test_patience_is_spent_only_once_a_run_has_passed_the_floor():
    from graphrec.model.train import _Run

    def stopped_after(scores, floor):
        run = _Run(NeuMFConfig(patience=3), None)
        for epoch, score in enumerate(scores, start=1):
            run.record(epoch, score, lambda: [], floor)
            if run.stopped:
                return epoch, run.best_epoch
        return None, run.best_epoch

    plateau_then_learning = [0.09, 0.08, 0.085, 0.09, 0.2, 0.19, 0.18, 0.17, 0.3]
    # without a floor, the plateau spends the patience and the run stops before it learns
    assert stopped_after(plateau_then_learning, -np.inf) == (4, 1)
    # with popularity's level as the floor it trains through the plateau, then stops as usual
    assert stopped_after(plateau_then_learning, 0.1) == (8, 5)
    # a run that never passes the floor is never stopped early
    assert stopped_after([0.09, 0.05, 0.05, 0.05, 0.05], 0.1) == (None, 1)


def test_training_goes_on_through_a_plateau_below_popularity(tmp_path, monkeypatch):
    from graphrec.model import train as train_module

    curve = iter([0.05, 0.04, 0.05, 0.04, 0.05, 0.3, 0.25, 0.2, 0.2, 0.2])
    monkeypatch.setattr(train_module.RankingProbe, "hit_rate", lambda self, model: next(curve))
    monkeypatch.setattr(train_module.RankingProbe, "floor", lambda self, popularity: 0.1)
    src, dst = community_follows(communities=2, size=12, follows=6)
    config = NeuMFConfig(epochs=10, patience=2, batch_size=1024, search=(), two_tower=False)
    figures = train_module.train(src, dst, tmp_path, config, silent=True)
    assert figures["best_epoch"] == 6 and figures["epochs"] == 8
    assert figures["patience_floor"] == 0.1


def test_the_default_batch_gives_a_small_graph_enough_steps_and_a_big_one_the_largest():
    from graphrec.model.train import (
        MAX_BATCH,
        MIN_CHOSEN_BATCH,
        MIN_STEPS_PER_EPOCH,
        epoch_batch,
    )

    auto = NeuMFConfig()
    for n_examples in (100_000, 365_551, 1_666_714, MIN_STEPS_PER_EPOCH * MAX_BATCH - 1):
        size = epoch_batch(auto, n_examples)
        steps = -(-n_examples // size)
        assert size == MIN_CHOSEN_BATCH or steps >= MIN_STEPS_PER_EPOCH, (n_examples, size)
        # the largest such power of two: twice the batch would fall short of the steps
        assert size == MAX_BATCH or n_examples < MIN_STEPS_PER_EPOCH * 2 * size
        assert size & (size - 1) == 0
    assert epoch_batch(auto, 365_551) < MAX_BATCH
    assert epoch_batch(auto, MIN_STEPS_PER_EPOCH * MAX_BATCH) == MAX_BATCH
    assert epoch_batch(auto, 10**9) == MAX_BATCH
    # a tiny epoch gets a batch it fills
    assert epoch_batch(auto, MIN_CHOSEN_BATCH - 1) == MIN_CHOSEN_BATCH // 2
    # a batch that is given is kept, unless one batch would hold the whole epoch
    given = NeuMFConfig(batch_size=1024)
    assert epoch_batch(given, 365_551) == 1024
    assert epoch_batch(given, 700) == 512


@pytest.mark.parametrize("rival_wins", [True, False])
def test_a_small_graph_keeps_the_batch_with_the_better_validation_estimate(
    tmp_path, monkeypatch, rival_wins
):
    from graphrec.model import train as train_module

    # three epochs at the small batch, then three at the largest the epoch fills
    small, large = [0.2, 0.3, 0.3], [0.5, 0.6, 0.6]
    curve = iter(small + large if rival_wins else large + small)
    monkeypatch.setattr(train_module.RankingProbe, "hit_rate", lambda self, model: next(curve))
    monkeypatch.setattr(train_module.RankingProbe, "floor", lambda self, popularity: 0.0)
    # enough follows that the batch chosen for the search is smaller than the epoch
    src, dst = community_follows(communities=4, size=30, follows=6)
    config = NeuMFConfig(epochs=3, search=(), two_tower=False)
    figures = train_module.train(src, dst, tmp_path, config, silent=True)

    first, rival = figures["search"]
    assert first["batch_size"] < rival["batch_size"]
    kept = rival if rival_wins else first
    assert kept["chosen"] and not (first if rival_wins else rival)["chosen"]
    assert figures["batch_size"] == kept["batch_size"]
    assert figures["best_val_hr@10"] == pytest.approx(0.6)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["config"]["batch_size"] == kept["batch_size"]


def test_each_run_of_the_race_pre_trains_at_its_own_batch(tmp_path, monkeypatch):
    from graphrec.model import train as train_module

    pretrained_at: list[int] = []
    original = train_module._pretrain

    def recording(tower, n_ids, config, fit, known, rng, batch_size, silent):
        pretrained_at.append(batch_size)
        return original(tower, n_ids, config, fit, known, rng, batch_size, silent)

    monkeypatch.setattr(train_module, "_pretrain", recording)
    src, dst = community_follows(communities=4, size=30, follows=6)
    config = NeuMFConfig(epochs=1, pretrain_epochs=1, search=(), two_tower=False)
    figures = train_module.train(src, dst, tmp_path, config, silent=True)

    first, rival = (row["batch_size"] for row in figures["search"])
    assert first < rival
    assert pretrained_at == [first, first, rival, rival]  # GMF then MLP, for each run


def test_a_given_batch_is_not_raced(tmp_path):
    from graphrec.model import train as train_module

    src, dst = community_follows(communities=2, size=12, follows=6)
    config = NeuMFConfig(epochs=2, batch_size=512, search=(), two_tower=False)
    figures = train_module.train(src, dst, tmp_path, config, silent=True)
    assert [row["batch_size"] for row in figures["search"]] == [512]


def test_validation_follows_are_kept_out_of_training(tmp_path, monkeypatch):
    from graphrec.model import train as train_module

    positives: list[set[int]] = []
    original = train_module.example_chunks

    def recording(users, items, *args, **kwargs):
        chunks = list(original(users, items, *args, **kwargs))
        u, i, y = (np.concatenate([c[j] for c in chunks]).astype(np.int64) for j in range(3))
        positives.append(set((u[y == 1] * 10_000 + i[y == 1]).tolist()))
        yield from chunks

    monkeypatch.setattr(train_module, "example_chunks", recording)
    src, dst = community_follows(communities=2, size=12, follows=6)
    config = NeuMFConfig(
        epochs=1, batch_size=1024, validation_fraction=0.1, search=(), two_tower=False
    )
    train_module.train(src, dst, tmp_path, config, silent=True)
    scorer = NumpyScorer.load(tmp_path)
    with np.load(tmp_path / artifacts.VALIDATION) as val:
        val_pairs = set(zip(val["users"].tolist(), val["items"].tolist(), strict=True))
        vu, vi = scorer.index_of(val["users"]), scorer.index_of(val["items"])
    with np.load(tmp_path / artifacts.HOLDOUT) as held:
        hu, hi = scorer.index_of(held["users"]), scorer.index_of(held["items"])
    follows = set(zip(src.tolist(), dst.tolist(), strict=True))
    assert 0 < vu.size <= round(0.1 * (src.size - hu.size))
    assert len(set(vu.tolist())) == vu.size  # one per user, like the test hold-out
    assert val_pairs <= follows
    val_keys = set((vu * 10_000 + vi).tolist())
    assert val_keys in positives  # the validation examples...
    assert all(not val_keys & p for p in positives if p != val_keys)  # ...never trained on
    assert not val_keys & set((hu * 10_000 + hi).tolist())


# --------------------------------------------------------------------------- CLI end to end


def test_train_from_neo4j_cli_json(graph, cli_env, tmp_path, monkeypatch):
    from graphrec.model import train_worker

    # the two training processes of a large graph, one after the other (small ones take one)
    monkeypatch.setattr(train_worker, "SEPARATE_STAGES_FROM_FOLLOWS", 0)
    src, dst = community_follows()
    load_into_neo4j(graph, src, dst)
    model_dir = tmp_path / "m"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--epochs",
            "2",
            "--batch-size",
            "2048",
            "--model-dir",
            str(model_dir),
            "--eval-users",
            "50",
            "--early-stopping",
            "loss",
            "--write-embeddings",
            "--json",
        ],
        env=cli_env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("examples", "examples_per_second", "epochs", "seconds"):
        assert data[key] > 0
    assert 1 <= data["epochs"] <= 2
    assert set(data["metrics"]) >= {"neumf", "popularity", "fof", "adamic_adar"}
    assert data["embeddings"]["written"] == src.size
    assert data["embeddings"]["model_version"] == data["version"]
    assert data["process"]["child_peak_rss_mb"] > 0  # what the training processes reported
    meta = json.loads((model_dir / artifacts.META).read_text())
    assert meta["n_follows"] == src.size
    assert data["early_stopping"] == meta["config"]["early_stopping"] == "loss"
    assert (model_dir / artifacts.METRICS).exists()
    # the models fitted beside NeuMF, in the second training process, are in the model too
    assert data["two_tower"]["epochs"] >= 1 and meta["two_tower_history"]
    scorer = NumpyScorer.load(model_dir)
    assert scorer.towers is not None and scorer.has_mf
    assert meta["figures"]["two_tower"] == data["two_tower"]
    assert sorted(p.name for p in model_dir.iterdir() if p.name.startswith("fit_")) == []


def test_train_on_empty_graph_fails(graph, cli_env, tmp_path):
    result = CliRunner().invoke(
        cli, ["train", "--model-dir", str(tmp_path / "m")], env=cli_env, catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "Error: no follows in the graph" in result.output


def test_evaluate_without_model_fails(cli_env, tmp_path):
    csv = tmp_path / "follows.csv"
    csv.write_text("uid,fid\n1,2\n2,3\n")
    result = CliRunner().invoke(
        cli,
        ["evaluate", "--model-dir", str(tmp_path / "none"), "--from-csv", str(csv)],
        env=cli_env,
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: no trained model in ")


def test_train_from_csv_without_active_users_skips_evaluation(cli_env, tmp_path):
    csv = tmp_path / "follows.csv"
    csv.write_text("uid,fid,rank\n" + "".join(f"{u},{u + 1},0\n" for u in range(30)))
    model_dir = tmp_path / "m"
    result = CliRunner().invoke(
        cli,
        ["train", "--from-csv", str(csv), "--epochs", "1", "--model-dir", str(model_dir), "--json"],
        env=cli_env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout holds only the JSON; progress goes to stderr
    assert data["held_out"] == 0 and "metrics" not in data
    assert "nothing held out" in result.stderr
    assert "indexing the follows: done in" in result.stderr
    assert NumpyScorer.load(model_dir).uids.tolist() == list(range(31))


def _train_from_csv(cli_env, tmp_path, src, dst, *options: str):
    """`graphrec train --from-csv` on these follows for one epoch: (result, model dir)."""
    csv = tmp_path / "follows.csv"
    csv.write_text("uid,fid\n" + "".join(f"{u},{f}\n" for u, f in zip(src, dst, strict=True)))
    model_dir = tmp_path / "m"
    result = CliRunner().invoke(
        cli,
        ["train", "--from-csv", str(csv), "--epochs", "1", "--model-dir", str(model_dir), *options],
        env=cli_env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result, model_dir


def test_train_shows_every_long_phase_on_stderr(cli_env, tmp_path):
    src, dst = community_follows(communities=2, size=20, follows=5)
    result, _ = _train_from_csv(cli_env, tmp_path, src, dst, "--latent-dim", "4", "--no-two-tower")
    phases = [
        "indexing the follows ...",
        "indexing the follows: done in",
        "holding out test and validation follows ...",
        "examples (100%)",  # within the epoch
        "training: ",
        "fitting the dot-product MF the ranker reads (implicit ALS): ",
        "evaluating: ",
    ]
    where = [result.stderr.find(p) for p in phases]
    assert -1 not in where, result.stderr
    assert where == sorted(where)


def test_train_cli_model_shape_options_reach_the_model(cli_env, tmp_path):
    src, dst = community_follows(communities=2, size=10, follows=4)
    options = ["--latent-dim", "4", "--tie", "gmf", "--pretrain-epochs", "1", "--no-holdout"]
    options += ["--no-two-tower", "--optimizer", "lazy-adam"]
    _, model_dir = _train_from_csv(cli_env, tmp_path, src, dst, *options, "--json")
    scorer = NumpyScorer.load(model_dir)
    config = scorer.config
    assert (config.latent_dim, config.tie, config.pretrain_epochs) == (4, "gmf", 1)
    assert config.optimizer == "lazy_adam"
    assert scorer.relation_dim == 4 + 8
    assert np.array_equal(scorer.gmf_user, scorer.gmf_item)
    assert not np.array_equal(scorer.mlp_user, scorer.mlp_item)


@pytest.mark.parametrize("mutual,expected", [(True, "both"), (False, "none")])
def test_auto_tie_follows_the_graphs_reciprocity(tmp_path, mutual, expected):
    from graphrec.model.train import train

    src, dst = community_follows(communities=2, size=10, follows=4)
    if mutual:  # every follow followed back
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    else:  # only "upwards" follows: none can be followed back
        up = src < dst
        src, dst = src[up], dst[up]
    config = NeuMFConfig(epochs=1, batch_size=1024, search=(), two_tower=False)
    figures = train(src, dst, tmp_path, config, silent=True)
    assert figures["tie"] == expected
    assert figures["optimizer"] == "adam"  # "auto" on a small graph
    # measured on the training follows: the hold-out and validation split break a few pairs
    assert figures["reciprocity"] > 0.7 if mutual else figures["reciprocity"] == 0.0
    assert NumpyScorer.load(tmp_path).config.tie == expected


# --------------------------------------------------------------------------- capacity search


def test_search_keeps_the_rung_the_validation_estimate_prefers(tmp_path, monkeypatch):
    from graphrec.model import train as train_module

    # the estimate prefers latent 8 whatever the weights: the search must follow it
    def estimate(self, model):
        return {2: 0.1, 8: 0.9, 4: 0.5}[model.get_layer("gmf_user").output_dim]

    monkeypatch.setattr(train_module.RankingProbe, "hit_rate", estimate)
    dropped = []
    drop = train_module._Run.drop_model

    def record_drop(run):
        dropped.append(run.config.latent_dim)
        drop(run)
        assert run.model is None and run.best_weights is None

    monkeypatch.setattr(train_module._Run, "drop_model", record_drop)
    src, dst = community_follows(communities=2, size=12, follows=6)
    config = NeuMFConfig(
        epochs=3,
        batch_size=1024,
        search=((2, 0.01), (8, 0.003), (4, 0.01)),
        search_rounds=(1, 2),
        index_dim=8,
        two_tower=False,
    )
    figures = train_module.train(src, dst, tmp_path, config, silent=True)
    rows = {r["latent_dim"]: r for r in figures["search"]}
    assert [r["chosen"] for r in figures["search"]] == [False, True, False]
    assert rows[8]["epochs"] == 3 and rows[2]["epochs"] == 1  # halved after round one
    assert (figures["latent_dim"], figures["learning_rate"]) == (8, 0.003)
    assert figures["search_epochs"] == 1 + 1
    assert sorted(dropped) == [2, 4]  # the rungs out of the search gave their models back
    scorer = NumpyScorer.load(tmp_path)
    assert scorer.config.latent_dim == 8 and scorer.config.learning_rate == 0.003
    # 8 + the last MLP layer is wider than the index: what is indexed is projected
    assert scorer.relation_dim == 16 and scorer.index_dim == 8 == figures["index_dim"]
    users, items = np.arange(5), np.arange(5, 10)
    indexed = scorer.index_embedding(users, items)
    assert indexed.shape == (5, 8)
    assert np.allclose(indexed, scorer.relation_embedding(users, items) @ scorer.index_projection)


def test_search_skips_rungs_too_large_for_the_graph():
    from graphrec.model.train import search_rungs

    config = NeuMFConfig(search=((8, 0.01), (64, 0.01)), search_max_params=4 * 1000 * 8)
    assert [c.latent_dim for c in search_rungs(config, 1000)] == [8]
    assert [c.latent_dim for c in search_rungs(config, 10)] == [8, 64]
    assert search_rungs(NeuMFConfig(search=()), 10) == [NeuMFConfig(search=())]


def test_model_as_wide_as_the_index_is_not_projected(trained):
    model_dir, figures, _ = trained
    scorer = NumpyScorer.load(model_dir)
    assert scorer.index_projection is None and scorer.index_dim == scorer.relation_dim


# --------------------------------------------------------------------------- dot-product MF


def test_training_fits_the_mf_the_ranker_reads(trained):
    model_dir, figures, _ = trained
    scorer = NumpyScorer.load(model_dir)
    assert scorer.has_mf and scorer.mf_user.shape == scorer.mf_item.shape
    assert scorer.mf_user.shape[0] == len(scorer.uids)
    chosen = (figures["mf"]["factors"], figures["mf"]["regularization"], figures["mf"]["alpha"])
    tried = [(g["factors"], g["regularization"], g["alpha"]) for g in figures["mf"]["grid"]]
    best = max(figures["mf"]["grid"], key=lambda g: g["val_hr@10"])
    assert chosen in tried and figures["mf"]["val_hr@10"] == best["val_hr@10"]
    items = np.arange(7)
    assert np.allclose(scorer.mf_scores(3, items), scorer.mf_item[items] @ scorer.mf_user[3])


def test_mf_hit_rate_ranks_against_every_unfollowed_account():
    import scipy.sparse as sp

    from graphrec.model.mf import hit_rate

    # one user, accounts scored 0..5 by their index; the user (0) and its follow (5) skipped
    users = np.zeros((6, 1), np.float32)
    users[0] = 1.0
    items = np.arange(6, dtype=np.float32)[:, None]
    known = sp.csr_matrix(([1.0], ([0], [5])), shape=(6, 6))
    assert hit_rate(users, items, np.array([0]), np.array([4]), known, k=1) == 1.0
    assert hit_rate(users, items, np.array([0]), np.array([3]), known, k=1) == 0.0
    assert hit_rate(users, items, np.array([0]), np.array([3]), known, k=2) == 1.0


def test_mf_hit_rate_is_the_same_scored_a_few_users_at_a_time(monkeypatch):
    import scipy.sparse as sp

    from graphrec import numeric
    from graphrec.model.mf import hit_rate

    rng = np.random.default_rng(3)
    n = 40
    factors = rng.normal(size=(n, 4)).astype(np.float32)
    known = sp.csr_matrix((np.ones(80), (rng.integers(0, n, 80), rng.integers(0, n, 80))), (n, n))
    users, targets = np.arange(n), rng.integers(0, n, n)
    whole = hit_rate(factors, factors, users, targets, known, k=5)
    monkeypatch.setattr(numeric, "SCORE_CELLS", 3 * n)  # three users at a time
    assert numeric.users_per_batch(n, 256) == 3
    assert hit_rate(factors, factors, users, targets, known, k=5) == whole
