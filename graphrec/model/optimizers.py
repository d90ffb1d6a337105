"""A row-sparse ("lazy") Adam for embedding tables (imports TensorFlow: call it lazily).

Keras's Adam updates every row of a table, and both of its moments, at every step, even
when the batch looked up a few hundred rows: a step then costs in proportion to the whole
table. ``LazyAdam`` updates only the rows a batch looked up (their moments too), which is
what an embedding table needs when batches are small and tables are large. Dense variables
(the layers) get Keras's Adam unchanged.

A row looked up several times in a batch gets the sum of its gradients, squared once for the
second moment, as Adam is defined (Keras's Adam, given such a sparse gradient, adds up the
squares of the parts instead). The step never deduplicates the rows: sorting them inside
the compiled step, or XLA's `unique`, cost a CPU more than the rest of the update
(docs/benchmarks.md). Instead every write is one that repeats cannot spoil: a row's first
moment is decayed by writing the same value once per repeat, then each repeat's gradient is
scatter-added to it, which sums them; the summed gradient is read back from the moment it
moved, and the second moment and the row itself are written, again the same value per
repeat.
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
        rows = gradient.indices
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        m_old, v_old = _gather(m, rows), _gather(v, rows)
        self.assign(m, tf.IndexedSlices(beta_1 * m_old, rows))
        self.assign_add(m, tf.IndexedSlices((1 - beta_1) * tf.cast(gradient.values, dtype), rows))
        m_new = _gather(m, rows)
        summed = (m_new - beta_1 * m_old) / (1 - beta_1)  # each row's gradients, added up
        v_new = beta_2 * v_old + (1 - beta_2) * tf.square(summed)
        self.assign(v, tf.IndexedSlices(v_new, rows))
        moved = _gather(variable, rows) - alpha * m_new / (tf.sqrt(v_new) + self.epsilon)
        self.assign(variable, tf.IndexedSlices(moved, rows))


def _gather(variable, rows: tf.Tensor) -> tf.Tensor:  # type: ignore[no-untyped-def]
    """The rows of a Keras or a TensorFlow variable, read after every earlier write."""
    return tf.gather(variable.value if isinstance(variable, keras.Variable) else variable, rows)
