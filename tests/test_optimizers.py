"""LazyAdam: Keras's Adam on the rows a batch looked up, nothing on the others."""

from __future__ import annotations

import numpy as np
import pytest


def _table_and_step(optimizer, rows: list[int], dense: bool = False, seed: int = 0):
    import keras
    import tensorflow as tf

    table = keras.Variable(np.random.default_rng(seed).normal(size=(6, 3)).astype(np.float32))

    @tf.function(jit_compile=True)
    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(table.value, ids) ** 2)
        gradient = tape.gradient(loss, table.value)
        optimizer.apply([tf.convert_to_tensor(gradient) if dense else gradient], [table])

    return table, lambda ids=rows: step(tf.constant(ids, tf.int32))


@pytest.mark.parametrize("rows", [[1, 4], [4, 1, 4, 4]])  # repeats sum their gradients
def test_one_step_equals_adam_on_the_dense_gradient(rows):
    import keras

    from graphrec.model.optimizers import LazyAdam

    lazy, lazy_step = _table_and_step(LazyAdam(learning_rate=0.1), rows)
    # (given the sparse gradient of a repeated row, Keras's Adam squares each repeat apart)
    dense, dense_step = _table_and_step(keras.optimizers.Adam(0.1), rows, dense=True)
    lazy_step()
    dense_step()
    np.testing.assert_allclose(lazy.numpy(), dense.numpy(), rtol=1e-6, atol=1e-6)


def _lazy_adam_in_numpy(table: np.ndarray, batches: list[list[int]], lr: float) -> np.ndarray:
    """Adam on the rows each batch looked up, its repeats' gradients summed, for the loss
    of _table_and_step (each looked-up row's squared norm, once per repeat)."""
    b1, b2, eps = 0.9, 0.999, 1e-7
    w, m, v = table.astype(np.float64), np.zeros(table.shape), np.zeros(table.shape)
    for t, batch in enumerate(batches, start=1):
        rows, repeats = np.unique(batch, return_counts=True)
        grad = 2 * repeats[:, None] * w[rows]
        m[rows] = b1 * m[rows] + (1 - b1) * grad
        v[rows] = b2 * v[rows] + (1 - b2) * grad**2
        w[rows] -= lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m[rows] / (np.sqrt(v[rows]) + eps)
    return w


def test_steps_with_repeated_rows_follow_lazy_adam_in_numpy():
    """Several steps, rows repeated within a batch and coming back with their moments: the
    update that never deduplicates the rows still sums their gradients exactly enough."""
    from graphrec.model.optimizers import LazyAdam

    batches = [[4, 1, 4, 4], [0, 4], [1, 1, 5], [4, 4, 0, 1]]
    table, step = _table_and_step(LazyAdam(learning_rate=0.1), batches[0])
    expected = _lazy_adam_in_numpy(table.numpy(), batches, lr=0.1)
    for batch in batches:
        step(batch)
    np.testing.assert_allclose(table.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_rows_never_looked_up_never_move():
    from graphrec.model.optimizers import LazyAdam

    table, step = _table_and_step(LazyAdam(learning_rate=0.1), [0, 2, 2])
    before = table.numpy().copy()
    for _ in range(3):
        step()
    after = table.numpy()
    assert np.array_equal(after[[1, 3, 4, 5]], before[[1, 3, 4, 5]])
    # the rows looked up move towards zero (the loss is their squared norm)
    assert (np.linalg.norm(after[[0, 2]], axis=1) < np.linalg.norm(before[[0, 2]], axis=1)).all()


@pytest.mark.parametrize("optimizer", ["adam", "lazy_adam"])
def test_neumf_fit_with_lazy_adam_moves_only_the_rows_in_the_batch(optimizer):
    """Through Keras's fit, as train uses it: after a step on rows {0, 1}, a step on rows
    {2, 3} leaves rows 0 and 1 where they were with lazy Adam; Keras's Adam moves them on with
    their momentum (which is why its step costs the whole table)."""
    from graphrec.model.artifacts import NeuMFConfig
    from graphrec.model.keras_model import build_neumf
    from graphrec.model.train import _compiled

    config = NeuMFConfig(latent_dim=4, tie="none", init_std=0.5)
    model = _compiled(build_neumf(8, config), 0.1, optimizer)

    def step(users: list[int], items: list[int]) -> None:
        x = {"user": np.array(users, np.int32), "item": np.array(items, np.int32)}
        model.fit(x, np.array([1.0, 0.0]), batch_size=2, epochs=1, verbose=0)

    step([0, 1], [4, 5])
    table = model.get_layer("gmf_user")
    before = table.get_weights()[0].copy()
    step([2, 3], [6, 7])
    after = table.get_weights()[0]
    untouched = np.array_equal(after[[0, 1]], before[[0, 1]])
    assert untouched == (optimizer == "lazy_adam")
    assert not np.array_equal(after[[2, 3]], before[[2, 3]])


def test_auto_optimizer_takes_lazy_adam_on_many_uids():
    from graphrec.model.train import LAZY_ADAM_FROM_UIDS, auto_optimizer

    assert auto_optimizer(LAZY_ADAM_FROM_UIDS - 1) == "adam"
    assert auto_optimizer(LAZY_ADAM_FROM_UIDS) == "lazy_adam"
