"""Training the two-tower retrieval model (imports TensorFlow: call it lazily), and the
in-batch softmax training it shares with the multi-interest model (multi_interest.py): the
loss, the log-Q correction, the validation sample and the epoch loop with early stopping.

The consumer tower reads a user's id embedding, the mean id embedding of a sample of the
accounts they follow (the bag of followees, never the account being predicted) and their log
out-degree; the producer tower reads an account's id embedding and its log in-degree. Both end
in L2-normalised vectors; a pair's score is their dot product over a temperature.

Loss: in-batch sampled softmax with log-Q correction (Yi et al., RecSys 2019). Each follow of
a batch is a positive, and every other account of the batch a negative for it. Popular
accounts turn up as negatives in proportion to their followers, so log(followers / follows)
is subtracted from every logit, and an account that is twice in a batch is not its own
negative. Batches are drawn an epoch's shuffle at a time, in numpy on tf.data's thread, so
memory holds the follows once (as NeuMF's streaming does), not an epoch of examples.

Early stopping reads HR@10 over every account for a sample of the validation follows, with
the user vectors computed exactly as at request time (towers.TowerScorer, numpy).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

import numpy as np

from graphrec.model.optimizers import LazyAdam
from graphrec.model.tf_runtime import keras, tf
from graphrec.model.towers import (
    ACCOUNT_TABLE,
    USER_TABLE,
    VECTORS,
    TowerScorer,
    TwoTowerConfig,
    every_account_vector,
)
from graphrec.numeric import users_per_batch
from graphrec.progress import Progress

layers = keras.layers

VALIDATION_USERS = 1000
PREFETCH_BATCHES = 8
PROGRESS_EVERY = 50  # batches between progress updates
NOT_SELF = -1e9  # the logit of a batch's duplicate of a positive: never a negative


class _Towers(keras.Model):
    def __init__(self, n_ids: int, config: TwoTowerConfig) -> None:
        super().__init__()
        init = keras.initializers.RandomNormal(stddev=0.05, seed=config.seed)
        self.user_table = layers.Embedding(n_ids, config.id_dim, embeddings_initializer=init)
        self.account_table = layers.Embedding(n_ids, config.id_dim, embeddings_initializer=init)
        self.consumer = [
            layers.Dense(config.hidden, activation="relu"),
            layers.Dense(config.dim),
        ]
        self.producer = [
            layers.Dense(config.hidden, activation="relu"),
            layers.Dense(config.dim),
        ]

    def users(self, user: tf.Tensor, bag: tf.Tensor, degree: tf.Tensor) -> tf.Tensor:
        mask = tf.cast(bag >= 0, tf.float32)[..., None]
        summed = tf.reduce_sum(self.account_table(tf.maximum(bag, 0)) * mask, axis=1)
        mean = summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        x = tf.concat([self.user_table(user), mean, degree[:, None]], axis=1)
        for layer in self.consumer:
            x = layer(x)
        return tf.math.l2_normalize(x, axis=1)

    def accounts(self, item: tf.Tensor, degree: tf.Tensor) -> tf.Tensor:
        x = tf.concat([self.account_table(item), degree[:, None]], axis=1)
        for layer in self.producer:
            x = layer(x)
        return tf.math.l2_normalize(x, axis=1)


class FollowLists:
    """Each user's training follows, as CSR over dense indices."""

    def __init__(self, users: np.ndarray, items: np.ndarray, n_ids: int) -> None:
        order = np.argsort(users, kind="stable")
        self.items = np.asarray(items)[order]
        self.degree = np.bincount(users, minlength=n_ids)
        self.starts = np.concatenate([[0], np.cumsum(self.degree)[:-1]])

    def bags(
        self, users: np.ndarray, targets: np.ndarray, size: int, rng: np.random.Generator
    ) -> np.ndarray:
        """(n, size) sampled followees of each user (with repeats), never its target; -1 pads."""
        degree = self.degree[users]
        offsets = (rng.random((users.size, size)) * degree[:, None]).astype(np.int64)
        bag = self.items[np.minimum(self.starts[users][:, None] + offsets, self.items.size - 1)]
        bag = bag.astype(np.int32)
        bag[(bag == targets[:, None]) | (degree == 0)[:, None]] = -1
        return bag

    def of(self, user: int) -> np.ndarray:
        return self.items[self.starts[user] : self.starts[user] + self.degree[user]]


def _batches(
    users: np.ndarray,
    items: np.ndarray,
    lists: FollowLists,
    log_q: np.ndarray,
    in_degree: np.ndarray,
    config: TwoTowerConfig,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, ...]]:
    size = config.batch_size
    order = rng.permutation(users.size)
    for start in range(0, users.size - size + 1, size):
        rows = order[start : start + size]
        u, i = users[rows], items[rows]
        yield (
            u.astype(np.int32),
            lists.bags(u, i, config.bag, rng),
            np.log1p(lists.degree[u]).astype(np.float32),
            i.astype(np.int32),
            np.log1p(in_degree[i]).astype(np.float32),
            log_q[i],
        )


def effective_batch(size: int, n_follows: int) -> int:
    """``size``, or a smaller power of two that a small graph fills four times (at least two
    follows: one negative each)."""
    while size > 2 and size > n_follows // 4:
        size //= 2
    return size


def export_weights(model: _Towers, in_degree: np.ndarray) -> dict[str, np.ndarray]:
    weights: dict[str, np.ndarray] = {
        USER_TABLE: np.asarray(model.user_table.embeddings.numpy(), np.float32),
        ACCOUNT_TABLE: np.asarray(model.account_table.embeddings.numpy(), np.float32),
    }
    for tower in ("consumer", "producer"):
        for j, layer in enumerate(getattr(model, tower)):
            kernel, bias = layer.get_weights()
            weights[f"tt_{tower}_kernel_{j}"] = kernel
            weights[f"tt_{tower}_bias_{j}"] = bias
    weights[VECTORS] = every_account_vector(weights, in_degree)
    return weights


def hit_rate(
    scorer: TowerScorer,
    lists: FollowLists,
    users: np.ndarray,
    items: np.ndarray,
    k: int = 10,
) -> float:
    """HR@k over every account of the validation follows (users[j] -> items[j]), each user's
    training follows and themselves excluded, user vectors computed as at request time."""
    if users.size == 0:
        return 0.0
    n_ids = scorer.vectors.shape[0]
    hits = 0
    step = users_per_batch(n_ids, 256)
    for start in range(0, users.size, step):
        u, target = users[start : start + step], items[start : start + step]
        follows = [lists.of(int(x)) for x in u]
        vectors = scorer.user_vectors(u, follows)
        scores = vectors @ scorer.vectors.T
        for j, own in enumerate(follows):
            scores[j, own] = -np.inf
            scores[j, u[j]] = -np.inf
        above = (scores > scores[np.arange(u.size), target][:, None]).sum(axis=1)
        hits += int((above < k).sum())
    return hits / users.size


def popularity_log_q(fit_items: np.ndarray, in_degree: np.ndarray, on: bool) -> np.ndarray:
    """Each account's log sampling probability as an in-batch negative (its share of the
    training follows), subtracted from its logits; zeros when the correction is off."""
    log_q = np.log(np.maximum(in_degree, 1) / max(fit_items.size, 1)).astype(np.float32)
    if not on:
        log_q[:] = 0.0
    return log_q


def validation_sample(
    val_users: np.ndarray, val_items: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The validation follows early stopping reads: at most VALIDATION_USERS, seeded."""
    pick = np.random.default_rng(seed).permutation(val_users.size)[:VALIDATION_USERS]
    return val_users[pick], val_items[pick]


def in_batch_softmax_loss(
    users: tf.Tensor, targets: tf.Tensor, item: tf.Tensor, item_log_q: tf.Tensor, temperature: float
) -> tf.Tensor:
    """Sampled softmax over the batch: row j's positive is target j, every other target of
    the batch a negative, log-Q corrected; a duplicate of the positive is not a negative."""
    size = item.shape[0]
    logits = tf.matmul(users, targets, transpose_b=True) / temperature - item_log_q[None, :]
    duplicate = (item[:, None] == item[None, :]) & ~tf.eye(size, dtype=tf.bool)
    logits = tf.where(duplicate, NOT_SELF, logits)
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.range(size), logits=logits)
    )


def fit_epochs(
    name: str,
    epochs: int,
    patience: int,
    size: int,
    steps: int,
    batches: Callable[[], Iterator[tuple[np.ndarray, ...]]],
    spec: tuple,
    step: Callable[..., tf.Tensor],
    evaluate: Callable[[], tuple[float, dict[str, np.ndarray]]],
    started: float,
    silent: bool,
) -> tuple[dict[str, np.ndarray], dict]:
    """The epoch loop of the in-batch retrieval models: ``step`` over ``batches`` (drawn on
    tf.data's thread), then ``evaluate`` (validation HR@10, weights) after each epoch; stops
    ``patience`` epochs after the best. Returns the best epoch's weights and the figures
    (``seconds`` since ``started``)."""
    history: list[dict] = []
    best: tuple[float, int, dict[str, np.ndarray] | None] = (-1.0, 0, None)
    # counted in follows, so a long epoch shows its rate and ETA as it goes
    total_follows = epochs * steps * size
    with Progress(name, total=total_follows, unit="follows", silent=silent) as progress:
        for epoch in range(1, epochs + 1):
            epoch_started = time.perf_counter()
            ds = tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(
                PREFETCH_BATCHES
            )
            total = 0.0
            for j, batch in enumerate(ds, 1):
                total += float(step(*batch))
                if j % PROGRESS_EVERY == 0 or j == steps:
                    progress.update(((epoch - 1) * steps + j) * size - progress.done)
            seconds = time.perf_counter() - epoch_started
            hr, weights = evaluate()
            history.append(
                {
                    "epoch": epoch,
                    "loss": round(total / max(steps, 1), 4),
                    "val_hr@10": round(hr, 4),
                    "seconds": round(seconds, 3),
                    "examples": steps * size,
                }
            )
            if not silent:
                sys.stderr.write(
                    f"{name} epoch {epoch}: loss {history[-1]['loss']}, val HR@10 {hr:.4f}\n"
                )
            if hr > best[0]:
                best = (hr, epoch, weights)
            elif epoch - best[1] >= patience:
                break
    assert best[2] is not None
    steady = history[1:] or history
    figures = {
        "epochs": len(history),
        "best_epoch": best[1],
        "best_val_hr@10": round(best[0], 4),
        "batch_size": size,
        "examples_per_second": round(
            sum(h["examples"] for h in steady) / max(sum(h["seconds"] for h in steady), 1e-9)
        ),
        "seconds": round(time.perf_counter() - started, 3),
        "history": history,
    }
    keras.backend.clear_session(free_memory=True)
    return best[2], figures


def train_two_tower(
    fit_users: np.ndarray,
    fit_items: np.ndarray,
    val_users: np.ndarray,
    val_items: np.ndarray,
    n_ids: int,
    config: TwoTowerConfig | None = None,
    silent: bool = False,
) -> tuple[dict[str, np.ndarray], dict]:
    """Train on the training follows, stop on the validation follows' HR@10; returns the
    weights (the numpy scorer's arrays, ``tt_*``) and the training figures."""
    config = config or TwoTowerConfig()
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed + 101)
    size = effective_batch(config.batch_size, fit_users.size)
    config = TwoTowerConfig.from_dict({**config.to_dict(), "batch_size": size})
    lists = FollowLists(fit_users, fit_items, n_ids)
    in_degree = np.bincount(fit_items, minlength=n_ids)
    log_q = popularity_log_q(fit_items, in_degree, config.log_q)
    val_u, val_i = validation_sample(val_users, val_items, config.seed + 102)

    if fit_users.size < 2:
        raise ValueError("the two-tower model needs at least two training follows")
    model = _Towers(n_ids, config)
    optimizer = LazyAdam(learning_rate=config.learning_rate)

    @tf.function(jit_compile=True)
    def step(user, bag, user_degree, item, item_degree, item_log_q):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            u = model.users(user, bag, user_degree)
            v = model.accounts(item, item_degree)
            loss = in_batch_softmax_loss(u, v, item, item_log_q, config.temperature)
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    spec = (
        tf.TensorSpec((size,), tf.int32),
        tf.TensorSpec((size, config.bag), tf.int32),
        tf.TensorSpec((size,), tf.float32),
        tf.TensorSpec((size,), tf.int32),
        tf.TensorSpec((size,), tf.float32),
        tf.TensorSpec((size,), tf.float32),
    )

    def evaluate() -> tuple[float, dict[str, np.ndarray]]:
        weights = export_weights(model, in_degree)
        return hit_rate(TowerScorer(weights, config), lists, val_u, val_i), weights

    weights, figures = fit_epochs(
        "two-tower",
        config.epochs,
        config.patience,
        size,
        fit_users.size // size,
        lambda: _batches(fit_users, fit_items, lists, log_q, in_degree, config, rng),
        spec,
        step,
        evaluate,
        started,
        silent,
    )
    figures["config"] = config.to_dict()
    return weights, figures
