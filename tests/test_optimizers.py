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

    return table, lambda: step(tf.constant(rows, tf.int32))


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
