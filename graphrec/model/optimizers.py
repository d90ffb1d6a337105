"""A row-sparse ("lazy") Adam for embedding tables (imports TensorFlow: call it lazily).

Keras's Adam updates every row of a table, and both of its moments, at every step, even
when the batch looked up a few hundred rows: a step then costs in proportion to the whole
table. ``LazyAdam`` updates only the rows a batch looked up (their moments too), which is
what an embedding table needs when batches are small and tables are large. Dense variables
(the layers) get Keras's Adam unchanged.

A row looked up several times in a batch gets the sum of its gradients, squared once for the
second moment, as Adam is defined (Keras's Adam, given such a sparse gradient, adds up the
squares of the parts instead). Rows are deduplicated by sorting their indices inside the
compiled step: XLA's `unique` on a CPU cost more than the whole dense update
(docs/benchmarks.md).
"""

from __future__ import annotations

from graphrec.model.tf_runtime import keras, tf


class LazyAdam(keras.optimizers.Adam):
    """Adam whose update of an embedding table touches only the rows in the gradient."""

    def update_step(self, gradient, variable, learning_rate):  # type: ignore[no-untyped-def]
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = (
            tf.cast(learning_rate, dtype)
            * tf.sqrt(1 - tf.pow(beta_2, step))
            / (1 - tf.pow(beta_1, step))
        )
        rows, grad, valid = _summed_rows(gradient, dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        m_old, v_old = tf.gather(m.value, rows), tf.gather(v.value, rows)
        m_new = beta_1 * m_old + (1 - beta_1) * grad
        v_new = beta_2 * v_old + (1 - beta_2) * tf.square(grad)
        # padding rows (valid = 0) add nothing wherever they point
        self.assign_add(m, tf.IndexedSlices(valid * (m_new - m_old), rows))
        self.assign_add(v, tf.IndexedSlices(valid * (v_new - v_old), rows))
        step_size = valid * alpha * m_new / (tf.sqrt(v_new) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(step_size, rows))


def _summed_rows(gradient: tf.IndexedSlices, dtype: tf.DType) -> tuple[tf.Tensor, ...]:
    """(rows, their summed gradients, a (n, 1) 1/0 mask of real rows), with as many entries
    as the gradient has (a static shape for XLA): each row once, then padding."""
    indices = gradient.indices
    n = tf.shape(indices)[0]
    order = tf.argsort(indices)
    ordered = tf.gather(indices, order)
    first = tf.concat([tf.ones([1], tf.bool), ordered[1:] != ordered[:-1]], axis=0)
    segment = tf.cumsum(tf.cast(first, tf.int32)) - 1
    values = tf.gather(tf.cast(gradient.values, dtype), order)
    grad = tf.math.unsorted_segment_sum(values, segment, n)
    valid = tf.range(n) <= segment[-1]
    rows = tf.where(valid, tf.math.unsorted_segment_max(ordered, segment, n), 0)
    return rows, grad, tf.cast(valid, dtype)[:, None]
