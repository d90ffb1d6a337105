"""The NeuMF network in Keras 3 (one of the two modules allowed to import TensorFlow/Keras).

    user, item (int32 indices into one shared id table)
      GMF:  gmf_user[u] * gmf_item[i]                                  -> latent_dim
      MLP:  concat(mlp_user[u], mlp_item[i]) -> Dense 64-32-16-8 ReLU   -> mlp_layers[-1]
      relation = concat(GMF, MLP)   (layer "relation", the relation embedding)
      score    = Dense(1, sigmoid)(relation)

``export_weights`` turns a trained model into the arrays ``NumpyScorer`` reads.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from graphrec.model.artifacts import NeuMFConfig

RELATION_LAYER = "relation"


def build_neumf(n_ids: int, config: NeuMFConfig) -> keras.Model:
    """An uncompiled NeuMF model over ``n_ids`` ids (users and accounts share one index)."""
    if n_ids < 1:
        raise ValueError("n_ids must be positive")
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    init = keras.initializers.RandomNormal(stddev=config.init_std, seed=config.seed)

    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")

    def embedding(name: str) -> layers.Embedding:
        return layers.Embedding(
            n_ids,
            config.latent_dim,
            embeddings_initializer=init,
            embeddings_regularizer=reg,
            name=name,
        )

    gmf = layers.Multiply(name="gmf")([embedding("gmf_user")(user), embedding("gmf_item")(item)])
    h = layers.Concatenate(name="mlp_input")(
        [embedding("mlp_user")(user), embedding("mlp_item")(item)]
    )
    for i, units in enumerate(config.mlp_layers):
        h = layers.Dense(
            units,
            activation="relu",
            kernel_regularizer=reg,
            kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed + i),
            name=f"mlp_{i}",
        )(h)
    relation = layers.Concatenate(name=RELATION_LAYER)([gmf, h])
    out = layers.Dense(
        1,
        activation="sigmoid",
        kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed + 99),
        name="score",
    )(relation)
    return keras.Model(inputs={"user": user, "item": item}, outputs=out, name="neumf")


def relation_model(model: keras.Model) -> keras.Model:
    """A model with the same inputs whose output is the relation embedding."""
    return keras.Model(inputs=model.inputs, outputs=model.get_layer(RELATION_LAYER).output)


def export_weights(model: keras.Model, uids: np.ndarray, config: NeuMFConfig) -> dict:
    """Every array the numpy scorer needs (the keys of weights.npz)."""
    weights: dict[str, np.ndarray] = {"uids": np.asarray(uids, dtype=np.int64)}
    for key in ("gmf_user", "gmf_item", "mlp_user", "mlp_item"):
        weights[key] = np.asarray(model.get_layer(key).embeddings, dtype=np.float32)
    for i in range(len(config.mlp_layers)):
        kernel, bias = model.get_layer(f"mlp_{i}").get_weights()
        weights[f"mlp_kernel_{i}"] = kernel.astype(np.float32)
        weights[f"mlp_bias_{i}"] = bias.astype(np.float32)
    kernel, bias = model.get_layer("score").get_weights()
    weights["out_kernel"] = kernel.astype(np.float32)
    weights["out_bias"] = bias.astype(np.float32)
    return weights
