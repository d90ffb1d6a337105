"""The tuned baselines: formulas against dense references, the contract, validation tuning."""

from __future__ import annotations

import numpy as np
import pytest

from graphrec.evaluation import baselines as bl
from graphrec.evaluation import methods, metrics
from graphrec.evaluation.tuning_memo import TuningMemo
from graphrec.model import splits
from graphrec.model.artifacts import NeuMFConfig


def random_split(n: int = 14, density: float = 0.3, seed: int = 0) -> splits.Split:
    """A random follow graph, one follow held out for every user with three or more."""
    rng = np.random.default_rng(seed)
    src, dst = np.nonzero((rng.random((n, n)) < density) & ~np.eye(n, dtype=bool))
    return splits.leave_one_out_split(src, dst, n, seed=seed)


def dense(split: splits.Split) -> np.ndarray:
    return split.train_matrix.toarray().astype(np.float64)


def tiebreak(r: np.ndarray) -> np.ndarray:
    pop = r.sum(axis=0)
    return bl.TIEBREAK * pop / max(pop.max(), 1.0)


def row_normalised(m: np.ndarray, power: float) -> np.ndarray:
    sums = m.sum(axis=1, keepdims=True)
    return np.where(m > 0, (m / np.maximum(sums, 1e-12)) ** power, 0.0)


@pytest.fixture
def clique_split() -> splits.Split:
    src, dst = [], []
    for group in range(2):
        members = range(group * 8, (group + 1) * 8)
        src += [u for u in members for f in members if u != f]
        dst += [f for u in members for f in members if u != f]
    return splits.leave_one_out_split(np.array(src), np.array(dst), 16, seed=3)


# --------------------------------------------------------------------------- formulas


def test_follow_back_ranks_the_follower_first():
    # 1 follows 0 (0 does not follow back); 5 is followed by everyone else, 0 included
    src = np.array([1, 1, 2, 3, 4, 0, 2, 3])
    dst = np.array([0, 5, 5, 5, 5, 5, 4, 4])
    split = splits.Split(6, src, dst, np.zeros(0, np.int64), np.zeros(0, np.int64))
    rec = bl.FollowBack(split)
    top = rec.top_k(np.array([0, 4]), 3)
    assert top[0, 0] == 1  # the follower, although 4 has more followers
    assert top[0, 1] == 4  # then popularity
    assert 5 not in top[0]  # already followed
    assert set(top[1, :2]) == {2, 3}  # both follow 4; 1 does not


def test_item_knn_equals_the_dense_formula():
    split = random_split()
    r = dense(split)
    pop = r.sum(axis=0)
    shrink = 3.0
    sim = (r.T @ r) / (np.sqrt(pop)[:, None] * np.sqrt(pop)[None, :] + shrink)
    np.fill_diagonal(sim, 0.0)
    users = np.arange(split.n_ids)
    got = bl.ItemKNN(split, shrink=shrink).scores(users)
    np.testing.assert_allclose(got, r @ sim + tiebreak(r), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("neighbours", [None, 1000])  # the factored path and the row path
def test_rp3beta_equals_the_dense_formula(neighbours):
    split = random_split(seed=1)
    r = dense(split)
    alpha, beta = 0.7, 0.4
    pop = r.sum(axis=0)
    w = row_normalised(r.T, alpha) @ row_normalised(r, alpha)
    w *= np.where(pop > 0, np.maximum(pop, 1.0) ** -beta, 0.0)[None, :]
    np.fill_diagonal(w, 0.0)
    want = r @ w + tiebreak(r)
    users = np.arange(split.n_ids)
    got = bl.RP3beta(split, alpha=alpha, beta=beta, neighbours=neighbours).scores(users)
    unfollowed = r == 0  # the factored path keeps the diagonal: only followed accounts differ
    np.testing.assert_allclose(got[unfollowed], want[unfollowed], rtol=1e-6, atol=1e-9)
    if neighbours is not None:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def kept_are_the_largest(full: np.ndarray, kept: np.ndarray, k: int) -> None:
    """Each row of ``kept``: at most k entries of ``full``'s row, none below a dropped one
    (pruned weights are float32)."""
    for row, mine in zip(full, kept, strict=True):
        on = mine != 0
        assert on.sum() == min(k, (row != 0).sum())
        np.testing.assert_allclose(mine[on], row[on], rtol=1e-6)
        dropped = row[~on & (row != 0)]
        assert dropped.size == 0 or dropped.max() <= mine[on].min() * (1 + 1e-6)


def test_pruned_neighbourhoods_keep_the_top_entries():
    split = random_split(n=18, density=0.4, seed=8)
    r = dense(split)
    pop = r.sum(axis=0)
    sim = (r.T @ r) / (np.sqrt(pop)[:, None] * np.sqrt(pop)[None, :] + 1.0)
    np.fill_diagonal(sim, 0.0)
    knn = bl.ItemKNN(split, shrink=1.0, neighbours=3)
    w = knn.prune().toarray()
    kept_are_the_largest(sim.T, w.T, 3)  # per candidate account: its columns
    users = np.arange(split.n_ids)
    np.testing.assert_allclose(knn.scores(users), r @ w + tiebreak(r), rtol=1e-6, atol=1e-9)

    rp3 = bl.RP3beta(split, alpha=0.8, beta=0.3, neighbours=4)
    full = row_normalised(r.T, 0.8) @ row_normalised(r, 0.8)
    full *= np.where(pop > 0, np.maximum(pop, 1.0) ** -0.3, 0.0)[None, :]
    np.fill_diagonal(full, 0.0)
    w = rp3.prune().toarray()
    kept_are_the_largest(full, w, 4)  # per followed account: its rows
    np.testing.assert_allclose(rp3.scores(users), r @ w + tiebreak(r), rtol=1e-6, atol=1e-9)


def test_item_knn_settings_sharing_a_shrinkage_share_one_pruning_pass(monkeypatch):
    split = random_split(n=40, density=0.3, seed=6)
    grid = [
        {"shrink": 1.0, "neighbours": None},
        {"shrink": 1.0, "neighbours": 3},
        {"shrink": 1.0, "neighbours": 8},
        {"shrink": 5.0, "neighbours": 8},
    ]
    passes: list[int] = []
    real = bl.ItemKNN.top_rows
    monkeypatch.setattr(bl.ItemKNN, "top_rows", lambda self, k: passes.append(k) or real(self, k))
    shared = list(bl.ItemKNN.fit_grid(split, grid))
    assert passes == [8, 8]  # one per shrinkage, at its widest pruning
    for setting, rec in zip(grid, shared, strict=True):
        alone = bl.ItemKNN(split, **setting)
        assert (rec.shrink, rec.neighbours) == (setting["shrink"], setting["neighbours"])
        if alone.weights is None:
            assert rec.weights is None
            continue
        # the same kept values in every candidate's column (ties may keep other accounts)
        for mine, theirs in zip(rec.weights.T.tocsr(), alone.weights.T.tocsr(), strict=True):
            np.testing.assert_allclose(np.sort(mine.data), np.sort(theirs.data), rtol=1e-6)


def test_row_chunks_cover_every_row_within_the_budget():
    bounds = np.array([5, 1, 1, 9, 2, 2, 2, 30, 0])
    chunks = bl.row_chunks(bounds, budget=6)
    np.testing.assert_array_equal(np.concatenate(chunks), np.arange(bounds.size))
    for chunk in chunks:
        assert chunk.size == 1 or bounds[chunk].sum() <= 6


def test_top_per_row_keeps_the_largest_entries():
    import scipy.sparse as sp

    rng = np.random.default_rng(2)
    m = rng.random((6, 9)) * (rng.random((6, 9)) < 0.7)
    pruned = bl.top_per_row(sp.csr_matrix(m), 3).toarray()
    for row, kept in zip(m, pruned, strict=True):
        want = np.sort(row[row > 0])[::-1][:3]
        np.testing.assert_allclose(np.sort(kept[kept > 0])[::-1], want)
        assert set(np.flatnonzero(kept)) <= set(np.flatnonzero(row))


def test_top_rows_stacked_chunk_by_chunk_equal_pruning_the_whole_matrix():
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    m = sp.csr_matrix(rng.random((11, 11)) * (rng.random((11, 11)) < 0.6))
    chunks = [np.arange(0, 4), np.arange(4, 5), np.arange(5, 11)]
    stacked = bl.stacked_top_rows(chunks, lambda rows: m[rows], 11, 3)
    assert stacked.dtype == np.float32
    np.testing.assert_allclose(stacked.toarray(), bl.top_per_row(m, 3).toarray(), rtol=1e-6)


def test_ease_on_its_kept_accounts_equals_the_closed_form():
    split = random_split(n=16, density=0.35, seed=4)
    r = dense(split)
    pop = r.sum(axis=0)
    cap, l2 = 5, 2.0
    rec = bl.EASE(split, l2=l2, max_items=cap)
    kept = np.sort(np.argsort(-pop, kind="stable")[:cap])
    np.testing.assert_array_equal(rec.kept, kept)
    x = r[:, kept]
    p = np.linalg.inv(x.T @ x + l2 * np.eye(cap))
    b = np.eye(cap) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    users = np.arange(split.n_ids)
    scores = rec.scores(users)
    np.testing.assert_allclose(scores[:, kept], x @ b + tiebreak(r)[kept], atol=1e-9)
    outside = np.setdiff1d(users, kept)
    assert scores[:, outside].max() < scores[:, kept].min()
    # the rest are still ranked, most followed first, after every kept account
    top = rec.top_k(users[:1], split.n_ids)[0]
    top = top[top >= 0]
    n_kept = np.isin(top, kept).sum()
    assert np.isin(top[:n_kept], kept).all()
    assert (np.diff(pop[top[n_kept:]]) <= 0).all()


def make_all(split: splits.Split) -> list[methods.Recommender]:
    recs = [
        bl.FollowBack(split),
        bl.RP3beta(split),
        bl.RP3beta(split, neighbours=2),
        bl.ItemKNN(split),
        bl.ItemKNN(split, shrink=0.0, neighbours=2),
        bl.EASE(split),
        bl.EASE(split, max_items=3),
    ]
    return [*recs, methods.ImplicitALS(split, factors=4, iterations=3)]


def test_top_k_contract(clique_split):
    train = clique_split.train_matrix
    users = np.arange(16)
    for rec in make_all(clique_split):
        assert isinstance(rec, methods.Recommender)
        top = rec.top_k(users, 12)
        assert top.shape == (16, 12)
        for u, row in zip(users, top, strict=True):
            real = row[row >= 0]
            assert u not in real, rec.name
            assert not set(real) & set(train[u].indices), rec.name
            assert len(set(real)) == real.size
            assert real.size == 16 - 1 - train[u].nnz  # every other account, then padding
        assert rec.score_items(users, np.tile(np.arange(16), (16, 1))).shape == (16, 16)


def test_neighbourhood_methods_find_the_held_out_clique_member(clique_split):
    methods = [bl.RP3beta(clique_split), bl.ItemKNN(clique_split), bl.EASE(clique_split)]
    results = metrics.ranking_metrics(methods, clique_split, n_users=100, ks=(1,))
    for name in ("rp3beta", "item_knn", "ease"):
        assert results[name]["hr@1"] == 1.0, name


# --------------------------------------------------------------------------- validation


def test_validation_split_holds_out_training_follows_only():
    split = random_split(n=30, density=0.3, seed=5)
    train = bl.training_only(split)
    assert train.test_users.size == 0
    val = bl.validation_split(train, max_users=7, seed=1)
    n = split.n_ids
    train_keys = set((split.train_src * n + split.train_dst).tolist())
    val_keys = set((val.test_users * n + val.test_items).tolist())
    fit_keys = set((val.train_src * n + val.train_dst).tolist())
    assert val.test_users.size == 7 and len(set(val.test_users.tolist())) == 7
    assert val_keys <= train_keys
    assert fit_keys | val_keys == train_keys and not fit_keys & val_keys
    assert not set((split.test_users * n + split.test_items).tolist()) & (fit_keys | val_keys)


def test_validation_split_of_int32_follows_on_a_large_graph():
    # training passes int32 indices; uid * n_ids overflows int32 when ids pass 46,341
    n = 100_000
    src = np.full(6, n - 1, np.int32)
    dst = np.arange(n - 7, n - 1, dtype=np.int32)
    empty = np.zeros(0, np.int32)
    val = bl.validation_split(splits.Split(n, src, dst, empty, empty), seed=1)
    assert val.test_users.tolist() == [n - 1] and val.test_items[0] in dst
    assert sorted(val.train_dst.tolist() + val.test_items.tolist()) == dst.tolist()
    assert (val.train_src == n - 1).all()


def test_validation_from_pairs_keeps_training_follows():
    split = random_split(n=30, density=0.3, seed=6)
    train = bl.training_only(split)
    users = np.r_[train.train_src[:5], split.test_users[:2], -1]
    items = np.r_[train.train_dst[:5], split.test_items[:2], 3]
    val = bl.validation_from_pairs(train, users, items, max_users=100)
    np.testing.assert_array_equal(val.test_users, train.train_src[:5])  # no test pair
    np.testing.assert_array_equal(val.test_items, train.train_dst[:5])
    assert val.train_src.size == train.train_src.size - 5


class Pick(methods.DenseScoreRecommender):
    """Ranks ``(u + offset) % n`` first and ``(u + other) % n`` last, records its split."""

    name = "pick"
    seen: list[splits.Split] = []

    def __init__(self, split: splits.Split, offset: int, other: int) -> None:
        super().__init__(split)
        Pick.seen.append(split)
        self.offset, self.other = offset, other

    def scores(self, users):
        n = self.split.n_ids
        out = np.zeros((len(users), n))
        out[np.arange(len(users)), (users + self.offset) % n] = 2.0
        out[np.arange(len(users)), (users + self.other) % n] = -1.0
        return out


def test_tuning_chooses_on_validation_and_never_sees_the_test_follows():
    n = 40
    users = np.arange(n)
    # training: u follows u+1 (validation candidates) and u+3..u+5; test: u -> u+2
    src = np.repeat(users, 4)
    dst = (src + np.tile([1, 3, 4, 5], n)) % n
    split = splits.Split(n, src, dst, users, (users + 2) % n)
    train = bl.training_only(split)
    validation = bl.validation_from_pairs(train, users, (users + 1) % n)
    grid = [{"offset": 2, "other": 1}, {"offset": 1, "other": 2}]  # test-best first
    Pick.seen = []
    rec = bl.tune(Pick, grid, train, validation)
    assert rec.extra_figures["params"] == {"offset": 1, "other": 2}
    assert rec.extra_figures["validation_hr@10"] == 1.0
    assert [g["hr@10"] for g in rec.extra_figures["grid"]] == [0.0, 1.0]
    test_keys = set((split.test_users * n + split.test_items).tolist())
    for seen in Pick.seen:  # neither fitted on nor validated with a test follow
        assert not test_keys & set((seen.train_src * n + seen.train_dst).tolist())
        assert not test_keys & set((seen.test_users * n + seen.test_items).tolist())
    figures = metrics.ranking_metrics([rec], split, n_users=n)["pick"]
    assert figures["hr@10"] == 0.0  # the validation choice, which is wrong on the test follows
    assert figures["params"] == {"offset": 1, "other": 2}
    assert {"fit_seconds", "tune_seconds", "ncf_hr@10"} <= set(figures)


def test_tuned_baselines_do_not_read_the_test_items():
    split = random_split(n=40, density=0.2, seed=7)
    moved = splits.Split(
        split.n_ids,
        split.train_src,
        split.train_dst,
        split.test_users,
        (split.test_items + 1) % split.n_ids,
    )
    grids = {"als": [{"factors": 4, "iterations": 2}, {"factors": 8, "iterations": 2}]}
    first = list(bl.tuned_baselines(split, seed=3, grids=grids))
    second = list(bl.tuned_baselines(moved, seed=3, grids=grids))
    users = np.arange(split.n_ids)
    assert [r.name for r in first] == ["follow_back", "rp3beta", "item_knn", "ease", "als"]
    for a, b in zip(first, second, strict=True):
        assert a.extra_figures["params"] == b.extra_figures["params"]
        assert [g["hr@10"] for g in a.extra_figures["grid"]] == [
            g["hr@10"] for g in b.extra_figures["grid"]
        ]
        np.testing.assert_allclose(
            a.score_items(users, users[None].repeat(users.size, 0)),
            b.score_items(users, users[None].repeat(users.size, 0)),
        )


def _tuned(split: splits.Split, memo: TuningMemo) -> dict:
    grids = {"als": [{"factors": 4, "iterations": 2}, {"factors": 8, "iterations": 2}]}
    return {r.name: r for r in bl.tuned_baselines(split, seed=3, grids=grids, memo=memo)}


def test_a_search_on_the_same_follows_is_reused_and_one_on_other_follows_is_not(
    tmp_path, monkeypatch
):
    split = random_split(n=40, density=0.2, seed=7)
    path = tmp_path / "baseline_tuning.json"
    memo = TuningMemo(path)
    searched = _tuned(split, memo)
    assert not path.exists()  # written when saved
    memo.save()
    assert {r.extra_figures["tuning"] for r in searched.values()} == {"searched", "none"}

    def no_search(*args, **kwargs):
        raise AssertionError("searched a grid whose outcome was kept")

    with monkeypatch.context() as patched:
        for factory, _ in bl.tunable():
            patched.setattr(factory, "fit_grid", classmethod(no_search))
        reused = _tuned(split, TuningMemo(path))
    users = np.arange(split.n_ids)
    for name, rec in reused.items():
        figures, before = rec.extra_figures, searched[name].extra_figures
        assert figures["tuning"] == ("none" if name == "follow_back" else "reused")
        assert figures["params"] == before["params"]
        assert figures["grid"] == before["grid"]
        np.testing.assert_allclose(
            rec.score_items(users, users[None].repeat(users.size, 0)),
            searched[name].score_items(users, users[None].repeat(users.size, 0)),
        )

    # one more training follow: other inputs, so every grid is searched again
    missing = np.argwhere(~dense(split).astype(bool) & ~np.eye(split.n_ids, dtype=bool))[0]
    grown = splits.Split(
        split.n_ids,
        np.append(split.train_src, missing[0]),
        np.append(split.train_dst, missing[1]),
        split.test_users,
        split.test_items,
    )
    again = _tuned(grown, TuningMemo(path))
    assert {r.extra_figures["tuning"] for r in again.values()} == {"searched", "none"}


def test_ranking_metrics_without_the_ncf_protocol_and_with_extra_figures(clique_split):
    rec = methods.Popularity(clique_split)
    rec.extra_figures = {"params": {"a": 1}, "hr@10": -1.0}
    figures = metrics.ranking_metrics([rec], clique_split, ks=(10,), n_negatives=0)["popularity"]
    assert "ncf_hr@10" not in figures
    assert figures["params"] == {"a": 1}
    assert 0.0 <= figures["hr@10"] <= 1.0  # a measured figure is never replaced


def test_als_grid_keeps_to_the_settings_training_could_afford():
    cap = NeuMFConfig.search_max_params
    grid = bl.GRIDS["als"]
    n_ids = cap // (2 * 200)  # room for up to 200 factors per uid
    kept = bl.affordable(grid, n_ids)
    assert {g["factors"] for g in kept} == {f for f in (64, 128, 256) if f <= 200}
    assert kept == [g for g in grid if g["factors"] <= 200]
    assert bl.affordable(grid, cap) == [min(grid, key=lambda g: g["factors"])]
    assert bl.affordable(bl.GRIDS["rp3beta"], cap) == list(bl.GRIDS["rp3beta"])
    full = bl.tuning_fits(1000, include_als=True)
    assert bl.tuning_fits(n_ids, include_als=True) == full - (len(grid) - len(kept))
