"""The models. TensorFlow is imported through ``graphrec.model.tf_runtime`` alone, by the
Keras and training modules; ``graphrec.model.scorer`` and ``towers`` score with numpy alone
(used by recommend)."""
