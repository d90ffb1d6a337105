"""NeuMF inference in numpy: fast to import, no TensorFlow.

Batch first: every method takes arrays of indices and returns arrays. The forward pass is
exactly the Keras model's (see keras_model.py):

    gmf      = P_gmf[u] * Q_gmf[i]                           (latent_dim)
    mlp      = relu(... relu([P_mlp[u], Q_mlp[i]] W0 + b0) ...)  (mlp_layers[-1])
    relation = [gmf, mlp]                                    (the relation embedding)
    score    = sigmoid(relation . w_out + b_out)

What the vector index holds is ``index_embedding``: the relation embedding itself, or, for a
model wider than the index (``index_projection`` in weights.npz), its projection onto the
principal directions of the training relations, so the index stays small whatever capacity
training chose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphrec.model.artifacts import NeuMFConfig, load_weights, read_meta, require_model_dir
from graphrec.model.interests import InterestScorer, MultiInterestConfig
from graphrec.model.towers import TowerScorer, TwoTowerConfig

EMBEDDING_KEYS = ("gmf_user", "gmf_item", "mlp_user", "mlp_item")
INDEX_PROJECTION = "index_projection"
MF_USER, MF_ITEM = "mf_user", "mf_item"  # optional dot-product MF factors (model/mf.py)
PAIRS_AT_ONCE = 1 << 16  # pairs whose hidden layers are held at once (see logits)


class NumpyScorer:
    """Scores (user, account) pairs with weights exported from a trained NeuMF model."""

    def __init__(self, weights: dict[str, np.ndarray], meta: dict | None = None) -> None:
        self.meta = meta or {}
        self.uids = np.asarray(weights["uids"], dtype=np.int64)
        self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item = (
            np.ascontiguousarray(weights[k], dtype=np.float32) for k in EMBEDDING_KEYS
        )
        n_layers = sum(1 for k in weights if k.startswith("mlp_kernel_"))
        self.kernels = [np.asarray(weights[f"mlp_kernel_{i}"], np.float32) for i in range(n_layers)]
        self.biases = [np.asarray(weights[f"mlp_bias_{i}"], np.float32) for i in range(n_layers)]
        self.out_kernel = np.asarray(weights["out_kernel"], np.float32).reshape(-1)
        self.out_bias = np.float32(np.asarray(weights["out_bias"]).reshape(-1)[0])
        self.mf_user, self.mf_item = (
            None if weights.get(k) is None else np.ascontiguousarray(weights[k], np.float32)
            for k in (MF_USER, MF_ITEM)
        )
        self.towers = (
            TowerScorer(weights, TwoTowerConfig.from_dict(self.meta.get("two_tower", {})))
            if TowerScorer.present(weights)
            else None
        )
        self.interests = (
            InterestScorer(
                weights,
                self.towers.vectors,
                MultiInterestConfig.from_dict(self.meta.get("multi_interest", {})),
            )
            if self.towers is not None and InterestScorer.present(weights)
            else None
        )
        projection = weights.get(INDEX_PROJECTION)
        self.index_projection = None if projection is None else np.asarray(projection, np.float32)
        n = len(self.uids)
        for key in EMBEDDING_KEYS:
            if getattr(self, key).shape[0] != n:
                raise ValueError(f"{key} has {getattr(self, key).shape[0]} rows, expected {n}")
        if np.any(np.diff(self.uids) <= 0):
            raise ValueError("uids must be sorted and unique")

    @classmethod
    def load(cls, model_dir: str | Path) -> NumpyScorer:
        path = require_model_dir(model_dir)
        return cls(load_weights(path), read_meta(path))

    @property
    def config(self) -> NeuMFConfig:
        return NeuMFConfig.from_dict(self.meta.get("config", {}))

    @property
    def version(self) -> str:
        return str(self.meta.get("version", ""))

    @property
    def relation_dim(self) -> int:
        return self.gmf_user.shape[1] + self.kernels[-1].shape[1]

    @property
    def index_dim(self) -> int:
        """Width of what the vector index stores (``index_embedding``)."""
        if self.index_projection is None:
            return self.relation_dim
        return int(self.index_projection.shape[1])

    def index_of(self, uids: np.ndarray | list[int] | int) -> np.ndarray:
        """Row index of each uid, -1 where the model has never seen it."""
        uids = np.atleast_1d(np.asarray(uids, dtype=np.int64))
        pos = np.searchsorted(self.uids, uids)
        pos = np.minimum(pos, len(self.uids) - 1)
        return np.where(self.uids[pos] == uids, pos, -1)

    def relation_embedding(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The vectors feeding the output unit, shape (n, relation_dim), float32."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if users.shape != items.shape:
            raise ValueError(f"users {users.shape} and items {items.shape} differ in shape")
        if users.size and (users.min() < 0 or items.min() < 0):
            raise IndexError("negative index: map uids with index_of and drop unknown ones")
        gmf = self.gmf_user[users] * self.gmf_item[items]
        h = np.concatenate([self.mlp_user[users], self.mlp_item[items]], axis=1)
        for kernel, bias in zip(self.kernels, self.biases, strict=True):
            h = np.maximum(h @ kernel + bias, 0.0)
        return np.concatenate([gmf, h], axis=1).astype(np.float32, copy=False)

    def index_embedding(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """What ``r.embedding`` and the vector index hold, shape (n, index_dim), float32."""
        relation = self.relation_embedding(users, items)
        if self.index_projection is None:
            return relation
        return relation @ self.index_projection

    @property
    def has_mf(self) -> bool:
        return self.mf_user is not None and self.mf_item is not None

    def mf_scores(self, user: int, items: np.ndarray) -> np.ndarray:
        """The dot-product MF score of one user index with each account index."""
        if self.mf_user is None or self.mf_item is None:
            raise ValueError("this model has no MF factors")
        return self.mf_item[np.asarray(items, np.int64)] @ self.mf_user[int(user)]

    def logits(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Pre-sigmoid score of each (user, item) index pair, float32.

        Scored ``PAIRS_AT_ONCE`` pairs at a time: the hidden layers of millions of pairs
        (e.g. every held-out follow with its negatives) would otherwise be held at once.
        """
        users, items = np.asarray(users), np.asarray(items)
        if users.shape != items.shape:
            raise ValueError(f"users {users.shape} and items {items.shape} differ in shape")
        flat_users, flat_items = users.reshape(-1), items.reshape(-1)
        out = np.empty(flat_users.size, np.float32)
        for start in range(0, flat_users.size, PAIRS_AT_ONCE):
            block = slice(start, start + PAIRS_AT_ONCE)
            relation = self.relation_embedding(flat_users[block], flat_items[block])
            out[block] = relation @ self.out_kernel + self.out_bias
        return out.reshape(users.shape)

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Follow probability of each (user, item) index pair."""
        return (1.0 / (1.0 + np.exp(-self.logits(users, items)))).astype(np.float32)

    def score_user(self, user: int, items: np.ndarray | None = None) -> np.ndarray:
        """Scores of one user index against ``items`` (default: every known account)."""
        items = np.arange(len(self.uids)) if items is None else np.asarray(items, np.int64)
        return self.score(np.full(items.shape, user, dtype=np.int64), items)
