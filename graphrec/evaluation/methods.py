"""The methods offline evaluation ranks: NeuMF (scored in numpy, never TensorFlow) and the
untuned heuristics, each a :class:`Recommender` over dense indices ``0..n_ids-1`` (the model's
index: ``NumpyScorer.uids``), so that every method is scored by the same code on the same
users. The tuned baselines are in :mod:`graphrec.evaluation.baselines`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from graphrec.model.scorer import NumpyScorer
from graphrec.model.splits import DEFAULT_SEED, Split
from graphrec.numeric import users_per_batch


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

    @classmethod
    def fit_grid(
        cls, split: Split, grid: Sequence[Mapping[str, Any]]
    ) -> Iterator[DenseScoreRecommender]:
        """The method fitted with each setting of ``grid`` in turn, each when asked for. A
        method whose settings can share work overrides this."""
        for setting in grid:
            yield cls(split, **setting)

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
