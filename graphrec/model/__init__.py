"""The NeuMF model. Only ``graphrec.model.keras_model`` and ``graphrec.model.train`` import
TensorFlow; ``graphrec.model.scorer`` scores with numpy alone (used by recommend)."""
