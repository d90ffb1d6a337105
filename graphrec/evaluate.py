"""Offline evaluation: one seeded leave-one-out split, one ranking pass for every method.

Every method implements :class:`Recommender` over dense indices ``0..n_ids-1`` (the model's
index: ``NumpyScorer.uids``), so NeuMF and the baselines are scored by the same code on the
same users:

* full ranking: the held-out account against every account the user does not follow in the
  training data (never the user itself) -> HR@10, NDCG@10, HR@50, NDCG@50;
* the NCF-paper protocol: the held-out account against 99 sampled accounts the user does not
  follow at all (held-out follow included) -> ncf_hr@10, ncf_ndcg@10.

No TensorFlow here: NeuMF is scored with the numpy scorer.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from graphrec.model.sampling import KnownPairs, known_pairs, sample_negatives
from graphrec.model.scorer import NumpyScorer
from graphrec.numeric import unique_sorted, users_per_batch
from graphrec.progress import Progress

DEFAULT_USERS = 2000
DEFAULT_SEED = 42


# --------------------------------------------------------------------------- data and split


def index_follows(
    src_uids: np.ndarray, dst_uids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uids, src, dst): sorted unique uids and the follows as dense indices into them.

    Self-follows are dropped and duplicate follows collapsed; every uid that appears (even
    only in a self-follow) keeps its index.
    """
    src_uids = np.asarray(src_uids, np.int64)
    dst_uids = np.asarray(dst_uids, np.int64)
    if src_uids.shape != dst_uids.shape:
        raise ValueError("src and dst differ in length")
    uids = unique_sorted(np.concatenate([src_uids, dst_uids]))
    src = np.searchsorted(uids, src_uids)
    dst = np.searchsorted(uids, dst_uids)
    keys = unique_sorted(src[src != dst] * len(uids) + dst[src != dst])
    return uids, keys // len(uids), keys % len(uids)


@dataclass(frozen=True)
class Split:
    """Training follows and one held-out follow per test user, all as dense indices."""

    n_ids: int
    train_src: np.ndarray
    train_dst: np.ndarray
    test_users: np.ndarray
    test_items: np.ndarray

    @functools.cached_property
    def train_matrix(self) -> sp.csr_matrix:
        data = np.ones(self.train_src.size, np.float32)
        m = sp.csr_matrix((data, (self.train_src, self.train_dst)), shape=(self.n_ids,) * 2)
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    @functools.cached_property
    def known(self) -> KnownPairs:
        """Every follow, training and held-out."""
        return known_pairs(
            np.concatenate([self.train_src, self.test_users]),
            np.concatenate([self.train_dst, self.test_items]),
            self.n_ids,
        )


def leave_one_out_split(
    src: np.ndarray, dst: np.ndarray, n_ids: int, seed: int = DEFAULT_SEED, min_follows: int = 3
) -> Split:
    """Hold out one random follow of every user with at least ``min_follows`` follows.

    The split keeps the integer type of ``src`` and ``dst`` (training passes int32 indices).
    """
    src = np.asarray(src)
    dst = np.asarray(dst)
    if not np.issubdtype(src.dtype, np.integer) or src.dtype != dst.dtype:
        src, dst = src.astype(np.int64), dst.astype(np.int64)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(src.size), src))  # users in order, follows shuffled within
    s = src[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if s.size else np.array([], np.int64)
    counts = np.diff(np.r_[starts, s.size])
    picked = order[starts[counts >= min_follows]]
    keep = np.ones(src.size, bool)
    keep[picked] = False
    return Split(n_ids, src[keep], dst[keep], src[picked], dst[picked])


def dense_index(uids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The index of every value in the sorted ``uids``, -1 where it is not there."""
    values = np.asarray(values, np.int64)
    if len(uids) == 0:
        return np.full(values.shape, -1, np.int64)
    pos = np.minimum(np.searchsorted(uids, values), len(uids) - 1)
    return np.where(uids[pos] == values, pos, -1)


def split_from_holdout(
    uids: np.ndarray,
    src_uids: np.ndarray,
    dst_uids: np.ndarray,
    held_users: np.ndarray,
    held_items: np.ndarray,
) -> Split:
    """The split a model was trained on: every follow the model knows, minus its held-out ones.

    ``uids`` is the model's index; follows with an endpoint the model never saw are dropped.
    """
    n = len(uids)
    s, d = dense_index(uids, src_uids), dense_index(uids, dst_uids)
    ok = (s >= 0) & (d >= 0) & (s != d)
    keys = unique_sorted(s[ok] * n + d[ok])
    hu, hi = dense_index(uids, held_users), dense_index(uids, held_items)
    hok = (hu >= 0) & (hi >= 0)
    hu, hi = hu[hok], hi[hok]
    train_keys = np.setdiff1d(keys, hu * n + hi, assume_unique=False)
    return Split(n, train_keys // n, train_keys % n, hu, hi)


# --------------------------------------------------------------------------- recommenders


@runtime_checkable
class Recommender(Protocol):
    """What every evaluated method provides, over dense indices.

    A method may also carry ``extra_figures`` (a JSON-serialisable dict) for its figures.
    """

    name: str

    def top_k(self, users: np.ndarray, k: int) -> np.ndarray:
        """(n, k) item indices, best first, -1 padded; never the user or a training follow."""
        ...

    def score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(n, m) scores of ``items[j]`` for ``users[j]`` (higher is better)."""
        ...


class DenseScoreRecommender:
    """Base for methods that can score every account for a batch of users.

    A batch is at most ``batch_users`` users, and fewer on large graphs: its dense scores
    (and their working copies) stay within a fixed number of cells, so memory does not grow with
    the number of accounts (:func:`graphrec.numeric.users_per_batch`).
    """

    name = "dense"
    batch_users = 256
    extra_figures: dict[str, Any]

    def __init__(self, split: Split) -> None:
        self.split = split
        self.train = split.train_matrix

    @property
    def batch(self) -> int:
        """Users scored at once."""
        return users_per_batch(self.split.n_ids, self.batch_users)

    def scores(self, users: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def top_k(self, users: np.ndarray, k: int) -> np.ndarray:
        users = np.asarray(users, np.int64)
        out = np.full((users.size, k), -1, np.int64)
        for start in range(0, users.size, self.batch):
            batch = users[start : start + self.batch]
            scores = np.asarray(self.scores(batch), np.float64)
            rows = self.train[batch]
            scores[np.repeat(np.arange(batch.size), np.diff(rows.indptr)), rows.indices] = -np.inf
            scores[np.arange(batch.size), batch] = -np.inf
            kk = min(k, scores.shape[1])
            part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
            part_scores = np.take_along_axis(scores, part, axis=1)
            order = np.argsort(-part_scores, axis=1, kind="stable")
            best = np.take_along_axis(part, order, axis=1)
            best[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
            out[start : start + batch.size, :kk] = best
        return out

    def score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users = np.asarray(users, np.int64)
        items = np.asarray(items, np.int64)
        out = np.empty(items.shape, np.float64)
        for start in range(0, users.size, self.batch):
            sl = slice(start, start + self.batch)
            scores = self.scores(users[sl])
            out[sl] = np.take_along_axis(np.asarray(scores), items[sl], axis=1)
        return out


class Popularity(DenseScoreRecommender):
    """Most-followed accounts in the training data."""

    name = "popularity"

    def __init__(self, split: Split) -> None:
        super().__init__(split)
        self.popularity = np.asarray(self.train.sum(axis=0)).ravel().astype(np.float64)

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(users), self.split.n_ids)).copy()


class _PathCount(DenseScoreRecommender):
    """Two-hop path scores u -> w -> i, ties broken by popularity."""

    def __init__(self, split: Split) -> None:
        super().__init__(split)
        pop = np.asarray(self.train.sum(axis=0)).ravel().astype(np.float64)
        self.tiebreak = 1e-6 * pop / max(pop.max(initial=0.0), 1.0)
        self.second_hop = self.train.tocsr()

    def scores(self, users: np.ndarray) -> np.ndarray:
        paths = (self.train[users] @ self.second_hop).toarray().astype(np.float64)
        return paths + self.tiebreak


class FriendsOfFriends(_PathCount):
    """Number of accounts the user follows that follow the candidate."""

    name = "fof"


class AdamicAdar(_PathCount):
    """Friends-of-friends paths weighted by 1/log(degree) of the account in between."""

    name = "adamic_adar"

    def __init__(self, split: Split) -> None:
        super().__init__(split)
        degree = (
            np.asarray(self.train.sum(axis=0)).ravel() + np.asarray(self.train.sum(axis=1)).ravel()
        )
        weight = np.where(degree > 1, 1.0 / np.log(np.maximum(degree, 2)), 0.0)
        self.second_hop = (sp.diags(weight.astype(np.float32)) @ self.train).tocsr()


class ImplicitALS(DenseScoreRecommender):
    """Dot-product matrix factorisation (implicit's ALS, fitted as training fits it)."""

    name = "als"

    def __init__(
        self,
        split: Split,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 15,
        seed: int = DEFAULT_SEED,
    ) -> None:
        super().__init__(split)
        from graphrec.model.mf import fit_als_matrix

        self.user_factors, self.item_factors = fit_als_matrix(
            self.train, factors, regularization, alpha, seed, iterations
        )

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T


def als_available() -> bool:
    try:
        import implicit.cpu.als  # noqa: F401
    except ImportError:
        return False
    return True


class NeuMFRecommender(DenseScoreRecommender):
    """The trained NeuMF model, scored in numpy (logits: same order as probabilities)."""

    name = "neumf"
    batch_users = 64

    def __init__(self, scorer: NumpyScorer, split: Split, chunk_rows: int = 1 << 18) -> None:
        super().__init__(split)
        if len(scorer.uids) != split.n_ids:
            raise ValueError("the split and the model index differ in size")
        self.scorer = scorer
        self.chunk_rows = chunk_rows
        d = scorer.mlp_user.shape[1]
        k0 = scorer.kernels[0]
        self.user_part = scorer.mlp_user @ k0[:d]  # first MLP layer split by input half
        self.item_part = scorer.mlp_item @ k0[d:] + scorer.biases[0]
        g = scorer.gmf_user.shape[1]
        self.w_gmf = scorer.out_kernel[:g]
        self.w_mlp = scorer.out_kernel[g:]
        self.item_gmf = scorer.gmf_item * self.w_gmf  # fold the output weights in

    def scores(self, users: np.ndarray) -> np.ndarray:
        s = self.scorer
        n = self.split.n_ids
        out = np.empty((len(users), n), np.float32)
        per = max(1, self.chunk_rows // n)
        for start in range(0, len(users), per):
            batch = users[start : start + per]
            h = np.maximum(self.user_part[batch][:, None, :] + self.item_part[None], 0.0)
            h = h.reshape(-1, h.shape[-1])
            for kernel, bias in zip(s.kernels[1:], s.biases[1:], strict=True):
                h = np.maximum(h @ kernel + bias, 0.0)
            mlp = (h @ self.w_mlp).reshape(len(batch), n)
            gmf = s.gmf_user[batch] @ self.item_gmf.T
            out[start : start + len(batch)] = mlp + gmf + s.out_bias
        return out

    def score_items(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users = np.asarray(users, np.int64)
        items = np.asarray(items, np.int64)
        flat_users = np.repeat(users, items.shape[1])
        return self.scorer.logits(flat_users, items.reshape(-1)).reshape(items.shape)


# --------------------------------------------------------------------------- metrics


def _sample_eval_users(split: Split, n_users: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = min(n_users, split.test_users.size)
    return np.sort(rng.choice(split.test_users.size, size=n, replace=False))


def ncf_negatives(
    split: Split, users: np.ndarray, n_negatives: int = 99, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """(n, n_negatives) accounts each user does not follow at all (held-out included)."""
    rng = np.random.default_rng(seed + 1)
    flat = sample_negatives(np.repeat(users, n_negatives), split.known, rng)
    return flat.reshape(len(users), n_negatives)


def _ncf_figures(rec: Recommender, users: np.ndarray, candidates: np.ndarray) -> dict[str, float]:
    """NCF protocol: the held-out account (column 0) against the sampled ones."""
    if not users.size:
        return {"ncf_hr@10": 0.0, "ncf_ndcg@10": 0.0}
    scores = rec.score_items(users, candidates)
    # rank of the held-out account among the candidates; ties count against it
    ncf_rank = (scores[:, 1:] >= scores[:, :1]).sum(axis=1)
    inside = ncf_rank < 10
    return {
        "ncf_hr@10": float(inside.mean()),
        "ncf_ndcg@10": float(np.where(inside, 1.0 / np.log2(ncf_rank + 2.0), 0.0).mean()),
    }


def ranking_metrics(
    recommenders: list[Recommender],
    split: Split,
    n_users: int = DEFAULT_USERS,
    seed: int = DEFAULT_SEED,
    ks: tuple[int, ...] = (10, 50),
    n_negatives: int = 99,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """HR/NDCG at each k (full ranking) and NCF-protocol HR/NDCG@10, per method.

    ``n_negatives=0`` skips the NCF protocol (full ranking only). A method's optional
    ``extra_figures`` dict (chosen hyperparameters, fit times) is added to its figures
    without replacing any of the ones measured here.
    """
    rows = _sample_eval_users(split, n_users, seed)
    users, held = split.test_users[rows], split.test_items[rows]
    candidates = None
    if n_negatives > 0:
        negatives = ncf_negatives(split, users, n_negatives, seed)
        candidates = np.concatenate([held[:, None], negatives], axis=1)
    results: dict[str, dict[str, Any]] = {}
    for rec in recommenders:
        started = time.perf_counter()
        figures: dict[str, Any] = {"users": int(users.size)}
        top = rec.top_k(users, max(ks)) if users.size else np.empty((0, max(ks)), np.int64)
        hit = top == held[:, None]
        rank = np.where(hit.any(axis=1), hit.argmax(axis=1), np.iinfo(np.int64).max)
        for k in ks:
            inside = rank < k
            figures[f"hr@{k}"] = float(inside.mean()) if users.size else 0.0
            gain = np.where(inside, 1.0 / np.log2(np.minimum(rank, k) + 2.0), 0.0)
            figures[f"ndcg@{k}"] = float(gain.mean()) if users.size else 0.0
        if candidates is not None:
            figures.update(_ncf_figures(rec, users, candidates))
        figures["seconds"] = round(time.perf_counter() - started, 3)
        for key, value in getattr(rec, "extra_figures", {}).items():
            figures.setdefault(key, value)
        results[rec.name] = figures
        if progress is not None:
            progress.update(1)
    return results


def classification_metrics(
    scorer: NumpyScorer,
    split: Split,
    negatives: int = 4,
    seed: int = DEFAULT_SEED,
    threshold: float = 0.5,
) -> dict[str, float]:
    """The reference's figures: held-out follows plus sampled non-follows, cut at 0.5."""
    rng = np.random.default_rng(seed + 2)
    neg_users = np.repeat(split.test_users, negatives)
    neg_items = sample_negatives(neg_users, split.known, rng)
    ok = neg_items >= 0
    users = np.concatenate([split.test_users, neg_users[ok]])
    items = np.concatenate([split.test_items, neg_items[ok]])
    labels = np.r_[np.ones(split.test_users.size, bool), np.zeros(ok.sum(), bool)]
    assert not split.known.contains(neg_users[ok], neg_items[ok]).any()
    predicted = scorer.score(users, items) >= threshold
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float((predicted == labels).mean()) if labels.size else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def baselines(
    split: Split,
    include_als: bool | None = None,
    validation: Split | None = None,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> list[Recommender]:
    """Popularity, friends-of-friends, Adamic-Adar, and the tuned baselines (``progress``
    counts each fit of a tuned one).

    The tuned ones (graphrec.baselines: follow-back, RP3beta, item-KNN, EASE, and ALS when
    ``implicit`` is installed) choose their hyperparameters on ``validation`` (carved out of
    the training follows when None) and never see the test follows.
    """
    from graphrec.baselines import tuned_baselines  # it imports this module

    methods: list[Recommender] = [Popularity(split), FriendsOfFriends(split), AdamicAdar(split)]
    return methods + tuned_baselines(split, validation, include_als, seed=seed, progress=progress)


def evaluate_model(
    scorer: NumpyScorer,
    split: Split,
    n_users: int = DEFAULT_USERS,
    seed: int = DEFAULT_SEED,
    include_als: bool | None = None,
    validation_pairs: tuple[np.ndarray, np.ndarray] | None = None,
    silent: bool = True,
) -> dict[str, dict[str, Any]]:
    """Ranking figures for NeuMF and every baseline, plus NeuMF's classification figures.

    ``validation_pairs`` (follower uids, followed uids), e.g. the model's validation.npz:
    follows NeuMF never trained on, which the baselines then tune on too. Without them the
    baselines carve their own validation follows out of the training follows.
    """
    validation = None
    if validation_pairs is not None:
        from graphrec.baselines import training_only, validation_from_pairs

        users, items = (dense_index(scorer.uids, v) for v in validation_pairs)
        validation = validation_from_pairs(training_only(split), users, items, seed=seed)
        if validation.test_users.size == 0:  # none left in the graph: carve our own
            validation = None
    from graphrec.baselines import tuning_fits

    # a step per fit of a tuned baseline, then one per method ranked
    fits = tuning_fits(split.n_ids, include_als)
    with Progress("evaluating", total=fits, unit="steps", silent=silent) as progress:
        methods: list[Recommender] = [
            NeuMFRecommender(scorer, split),
            *baselines(split, include_als, validation, seed, progress),
        ]
        progress.total = (progress.total or 0) + len(methods)
        results = ranking_metrics(methods, split, n_users=n_users, seed=seed, progress=progress)
    results["neumf"].update(classification_metrics(scorer, split, seed=seed))
    return results
