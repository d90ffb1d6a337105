"""The multi-interest user model in numpy (ComiRec-SA): no TensorFlow, on the request path.

A user's K interest vectors come from self-attention over the two-tower account vectors of the
accounts they follow (H, one row per followee):

    A         = softmax over followees of (tanh(H W1) W2)     (followees x K)
    interest  = normalise((A^T H) P + b)                      (K x dim)
    score     = max over interests of interest . account vector

The interests live in the two-tower account space, so each one queries the same node vector
index (``account_embedding``) for its share of the ``multi_interest`` pool. Training
(multi_interest.py, Keras) learns W1, W2, P and b with the account vectors frozen. Like the
two-tower user vector, the interests are computed at request time from the follows as the
graph has them now.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphrec.model.towers import InBatchConfig, normalise

KEYS = ("mi_attention_kernel", "mi_attention_heads", "mi_projection_kernel", "mi_projection_bias")


@dataclass(frozen=True)
class MultiInterestConfig(InBatchConfig):
    """Sizes of the multi-interest model; its training knobs are the two-tower model's, whose
    account vectors it reads. K is the reference design's."""

    interests: int = 4  # K
    hidden: int = 64  # width of the attention's tanh layer


@dataclass(frozen=True)
class Interests:
    """One user's interest vectors, and how much each followee weighs in each of them."""

    vectors: np.ndarray  # (K, dim), unit rows
    attention: np.ndarray  # (K, followees); each row sums to 1
    followees: np.ndarray  # (followees,) the account indices the attention reads

    def leading(self, interest: int, n: int = 2) -> np.ndarray:
        """The ``n`` followee indices that weigh most in one interest."""
        return self.followees[np.argsort(-self.attention[interest], kind="stable")[:n]]


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class InterestScorer:
    """Interest vectors from followees, and scores against the two-tower account vectors."""

    def __init__(
        self,
        weights: dict[str, np.ndarray],
        account_vectors: np.ndarray,
        config: MultiInterestConfig,
    ) -> None:
        self.config = config
        self.vectors = account_vectors
        self.w1, self.w2, self.projection, self.bias = (
            np.asarray(weights[k], np.float32) for k in KEYS
        )

    @staticmethod
    def present(weights: dict[str, np.ndarray]) -> bool:
        return all(k in weights for k in KEYS)

    @property
    def k(self) -> int:
        return int(self.w2.shape[1])

    def interests(self, followees: np.ndarray) -> Interests | None:
        """The interests of a user following the account indices ``followees`` (-1: unknown to
        the model, left out); None when the model knows none of them."""
        rows = np.unique(np.asarray(followees, np.int64))
        rows = rows[rows >= 0]
        if rows.size == 0:
            return None
        h = self.vectors[rows]
        attention = _softmax(np.tanh(h @ self.w1) @ self.w2, axis=0).T  # (K, followees)
        vectors = normalise((attention @ h) @ self.projection + self.bias).astype(np.float32)
        return Interests(vectors, attention, rows)

    def scores(self, interests: Interests, accounts: np.ndarray) -> np.ndarray:
        """The best interest's dot product with each account index's vector."""
        return (self.vectors[np.asarray(accounts, np.int64)] @ interests.vectors.T).max(axis=1)
