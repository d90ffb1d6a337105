"""Training the multi-interest model, ComiRec-SA (imports TensorFlow: call it lazily).

The model reads the two-tower account vectors, frozen: each training follow (user -> target)
gets a bag of the user's other followees, self-attention turns the bag into K interest
vectors (interests.py has the forward pass), and the target is routed to the interest closest
to it, as in ComiRec: only that interest is trained on it. The loss is the two-tower's
in-batch sampled softmax with log-Q correction, so every other target of the batch is a
negative. Early stopping reads HR@10 over every account for a sample of the validation
follows, each account scored by its best interest, as the pool retrieves them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from graphrec.model.interests import KEYS, InterestScorer, MultiInterestConfig
from graphrec.model.tf_runtime import keras, tf
from graphrec.model.two_tower import (
    FollowLists,
    effective_batch,
    fit_epochs,
    in_batch_softmax_loss,
    popularity_log_q,
    validation_sample,
)
from graphrec.numeric import users_per_batch

MASKED = -1e9  # the attention logit of a bag's padding


class _Attention(keras.Model):
    def __init__(self, dim: int, config: MultiInterestConfig) -> None:
        super().__init__()
        init = keras.initializers.GlorotUniform(seed=config.seed)
        self.w1 = self.add_weight(shape=(dim, config.hidden), initializer=init, name="w1")
        self.w2 = self.add_weight(shape=(config.hidden, config.interests), initializer=init)
        self.projection = self.add_weight(shape=(dim, dim), initializer="identity")
        self.bias = self.add_weight(shape=(dim,), initializer="zeros")

    def interests(self, h: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """(batch, K, dim) unit interests of bags ``h`` (batch, bag, dim)."""
        logits = tf.tensordot(tf.tanh(tf.tensordot(h, self.w1, 1)), self.w2, 1)
        logits = tf.where(mask[..., None], logits, MASKED)
        attention = tf.nn.softmax(logits, axis=1)  # over the bag
        pooled = tf.einsum("blk,bld->bkd", attention, h)
        return tf.math.l2_normalize(tf.tensordot(pooled, self.projection, 1) + self.bias, axis=-1)

    def export(self) -> dict[str, np.ndarray]:
        values = (self.w1, self.w2, self.projection, self.bias)
        return {k: np.asarray(v.numpy(), np.float32) for k, v in zip(KEYS, values, strict=True)}


def _batches(
    users: np.ndarray,
    items: np.ndarray,
    lists: FollowLists,
    log_q: np.ndarray,
    size: int,
    bag: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, ...]]:
    order = rng.permutation(users.size)
    for start in range(0, users.size - size + 1, size):
        rows = order[start : start + size]
        u, i = users[rows], items[rows]
        yield lists.bags(u, i, bag, rng), i.astype(np.int32), log_q[i]


def hit_rate(
    scorer: InterestScorer,
    lists: FollowLists,
    users: np.ndarray,
    items: np.ndarray,
    k: int = 10,
) -> float:
    """HR@k over every account of the validation follows (users[j] -> items[j]), each
    account scored by the user's best interest, training follows and the user excluded."""
    hits = 0
    n_ids, k_interests = scorer.vectors.shape[0], scorer.k
    # a chunk of users at a time: one matrix product reads the account vectors once per chunk
    step = users_per_batch(n_ids * k_interests, 256)
    for start in range(0, users.size, step):
        chunk = [
            (u, t, lists.of(u), scorer.interests(lists.of(u)))
            for u, t in zip(
                users[start : start + step].tolist(),
                items[start : start + step].tolist(),
                strict=True,
            )
        ]
        chunk = [c for c in chunk if c[3] is not None]  # no known followee: a miss
        if not chunk:
            continue
        stacked = np.vstack([c[3].vectors for c in chunk])  # type: ignore[union-attr]
        best = (scorer.vectors @ stacked.T).reshape(n_ids, len(chunk), k_interests).max(axis=2)
        for j, (u, target, own, _) in enumerate(chunk):
            scores = best[:, j]
            scores[own] = -np.inf
            scores[u] = -np.inf
            hits += int((scores > scores[target]).sum() < k)
    return hits / max(users.size, 1)


def train_multi_interest(
    account_vectors: np.ndarray,
    fit_users: np.ndarray,
    fit_items: np.ndarray,
    val_users: np.ndarray,
    val_items: np.ndarray,
    config: MultiInterestConfig | None = None,
    silent: bool = False,
) -> tuple[dict[str, np.ndarray], dict]:
    """Train over the frozen two-tower ``account_vectors`` on the training follows, stop on
    the validation follows' HR@10; returns the weights (``mi_*``) and the training figures."""
    config = config or MultiInterestConfig()
    if fit_users.size < 2:
        raise ValueError("the multi-interest model needs at least two training follows")
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed + 201)
    n_ids, dim = account_vectors.shape
    size = effective_batch(config.batch_size, fit_users.size)
    lists = FollowLists(fit_users, fit_items, n_ids)
    in_degree = np.bincount(fit_items, minlength=n_ids)
    log_q = popularity_log_q(fit_items, in_degree, config.log_q)
    val_u, val_i = validation_sample(val_users, val_items, config.seed + 202)

    vectors = tf.constant(np.asarray(account_vectors, np.float32))
    model = _Attention(dim, config)
    optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)

    @tf.function(jit_compile=True)
    def step(bag, item, item_log_q):  # type: ignore[no-untyped-def]
        mask = bag >= 0
        h = tf.gather(vectors, tf.maximum(bag, 0)) * tf.cast(mask, tf.float32)[..., None]
        target = tf.gather(vectors, item)
        with tf.GradientTape() as tape:
            interests = model.interests(h, mask)
            # ComiRec's routing: the interest closest to the target answers for it
            closest = tf.argmax(tf.einsum("bkd,bd->bk", interests, target), axis=1)
            u = tf.gather(interests, closest, batch_dims=1)
            loss = in_batch_softmax_loss(u, target, item, item_log_q, config.temperature)
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    spec = (
        tf.TensorSpec((size, config.bag), tf.int32),
        tf.TensorSpec((size,), tf.int32),
        tf.TensorSpec((size,), tf.float32),
    )

    def evaluate() -> tuple[float, dict[str, np.ndarray]]:
        weights = model.export()
        scorer = InterestScorer(weights, account_vectors, config)
        return hit_rate(scorer, lists, val_u, val_i), weights

    weights, figures = fit_epochs(
        "multi-interest",
        config.epochs,
        config.patience,
        size,
        fit_users.size // size,
        lambda: _batches(fit_users, fit_items, lists, log_q, size, config.bag, rng),
        spec,
        step,
        evaluate,
        started,
        silent,
    )
    figures["config"] = {**config.to_dict(), "batch_size": size}
    return weights, figures
