"""The two-tower retrieval model in numpy: no TensorFlow, on the request path.

    consumer(user) = normalise(MLP([user_id[u], mean(account_id[f] for f in follows(u)),
                                    log1p(out-degree)]))
    producer(acct) = normalise(MLP([account_id[a], log1p(in-degree)]))
    score          = consumer . producer / temperature

Training (two_tower.py, Keras) learns the tables and layers; the account vectors are computed
once after training and stored in the model (``tt_vectors``) and on the ``:User`` nodes, where
a node vector index serves the ``two_tower`` pool. The user vector is computed here, at
request time, from the user's follows *as the graph has them now*: a follow added after
training moves it at once, without retraining.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Self

import numpy as np

USER_TABLE, ACCOUNT_TABLE, VECTORS = "tt_user", "tt_account", "tt_vectors"
TABLE_KEYS = (USER_TABLE, ACCOUNT_TABLE, VECTORS)


@dataclass(frozen=True)
class InBatchConfig:
    """Training knobs of the models trained by in-batch softmax (two_tower.fit_epochs): the
    two-tower model and the multi-interest model. Chosen on wiki-vote's validation follows
    (docs/history.md, "Two-tower retrieval")."""

    temperature: float = 0.1
    log_q: bool = True  # subtract log(sampling probability) from each in-batch logit
    batch_size: int = 512  # in-batch softmax: every other positive of the batch is a negative
    bag: int = 20  # followees sampled into the bag per training example
    epochs: int = 10
    patience: int = 2
    learning_rate: float = 0.003
    seed: int = 42

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Self:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TwoTowerConfig(InBatchConfig):
    """Sizes of the two-tower model. The id width was chosen with the training knobs; the
    output width is the reference design's."""

    dim: int = 64  # the L2-normalised output of each tower
    id_dim: int = 16  # id embedding width (user ids, account ids, the bag of followees)
    hidden: int = 128  # one ReLU layer in each tower before the output


def normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def _mlp(x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    for j, (kernel, bias) in enumerate(layers):
        x = x @ kernel + bias
        if j < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x


def _layers(weights: dict[str, np.ndarray], tower: str) -> list[tuple[np.ndarray, np.ndarray]]:
    n = sum(1 for k in weights if k.startswith(f"tt_{tower}_kernel_"))
    return [
        (
            np.asarray(weights[f"tt_{tower}_kernel_{j}"], np.float32),
            np.asarray(weights[f"tt_{tower}_bias_{j}"], np.float32),
        )
        for j in range(n)
    ]


def _producer(
    rows: np.ndarray, in_degree: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """The producer tower over account id embeddings ``rows`` with their follower counts."""
    x = np.concatenate(
        [np.asarray(rows, np.float32), np.log1p(np.asarray(in_degree, np.float32))[:, None]],
        axis=1,
    )
    return normalise(_mlp(x, layers)).astype(np.float32)


def every_account_vector(weights: dict[str, np.ndarray], in_degree: np.ndarray) -> np.ndarray:
    """What ``tt_vectors`` holds: every account's unit vector from the producer tower in
    ``weights`` (the tables and layers), a chunk of accounts at a time."""
    table, layers, step = weights[ACCOUNT_TABLE], _layers(weights, "producer"), 65536
    return np.concatenate(
        [
            _producer(table[s : s + step], in_degree[s : s + step], layers)
            for s in range(0, in_degree.size, step)
        ]
    )


class TowerScorer:
    """User vectors from follows, account vectors from the model, and their scores."""

    def __init__(self, weights: dict[str, np.ndarray], config: TwoTowerConfig) -> None:
        self.config = config
        self.user_table = weights[USER_TABLE]
        self.account_table = weights[ACCOUNT_TABLE]
        self.vectors = weights[VECTORS]
        self.consumer = _layers(weights, "consumer")
        self.producer = _layers(weights, "producer")

    @staticmethod
    def present(weights: dict[str, np.ndarray]) -> bool:
        return all(k in weights for k in TABLE_KEYS)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def user_vectors(self, users: np.ndarray, bags: list[np.ndarray]) -> np.ndarray:
        """(n, dim) unit vectors of ``users[j]`` (-1: unknown to the model) following the
        account indices ``bags[j]`` (-1: an account the model does not know, left out of the
        mean but counted in the degree)."""
        users = np.asarray(users, np.int64)
        id_dim = self.user_table.shape[1]
        x = np.zeros((users.size, 2 * id_dim + 1), np.float32)
        for j, (u, bag) in enumerate(zip(users.tolist(), bags, strict=True)):
            bag = np.asarray(bag, np.int64)
            if u >= 0:
                x[j, :id_dim] = self.user_table[u]
            known = bag[bag >= 0]
            if known.size:
                x[j, id_dim : 2 * id_dim] = self.account_table[np.sort(known)].mean(axis=0)
            x[j, -1] = np.log1p(bag.size)
        return normalise(_mlp(x, self.consumer)).astype(np.float32)

    def account_vectors(self, accounts: np.ndarray, in_degree: np.ndarray) -> np.ndarray:
        """(n, dim) unit vectors of account indices with the given follower counts (what
        training stores as ``tt_vectors``, recomputed)."""
        rows = self.account_table[np.asarray(accounts, np.int64)]
        return _producer(rows, in_degree, self.producer)

    def scores(self, user_vector: np.ndarray, accounts: np.ndarray) -> np.ndarray:
        """Dot products of one user vector with the stored vectors of account indices."""
        return self.vectors[np.asarray(accounts, np.int64)] @ user_vector
