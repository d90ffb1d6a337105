"""The NeuMF network in Keras 3 (imports TensorFlow: call it lazily).

    user, item (int32 indices into one shared id table)
      GMF:  gmf_user[u] * gmf_item[i]                                  -> latent_dim
      (config.tie = "gmf", "mlp" or "both": that tower's user and account tables are one)
      MLP:  concat(mlp_user[u], mlp_item[i]) -> Dense 64-32-16-8 ReLU   -> mlp_layers[-1]
      relation = concat(GMF, MLP)   (layer "relation", the relation embedding)
      score    = Dense(1, sigmoid)(relation)

``export_weights`` turns a trained model into the arrays ``NumpyScorer`` reads.
"""

from __future__ import annotations

import numpy as np

from graphrec.model.artifacts import NeuMFConfig
from graphrec.model.tf_runtime import keras

layers = keras.layers

RELATION_LAYER = "relation"


TOWERS = ("gmf", "mlp")
TIES = ("none", "gmf", "mlp", "both")


def build_neumf(n_ids: int, config: NeuMFConfig, towers: tuple[str, ...] = TOWERS) -> keras.Model:
    """An uncompiled NeuMF model over ``n_ids`` ids (users and accounts share one index).

    ``towers=("gmf",)`` or ``("mlp",)`` builds that tower alone with its own output unit
    (GMF or MLP of the NCF paper), for pre-training: layer names match NeuMF's.
    """
    if n_ids < 1:
        raise ValueError("n_ids must be positive")
    if not towers or set(towers) - set(TOWERS):
        raise ValueError(f"towers must be a non-empty subset of {TOWERS}")
    if config.tie not in TIES:
        raise ValueError(f"tie must be one of {TIES} (train resolves 'auto'), not {config.tie!r}")
    reg = keras.regularizers.L2(config.l2) if config.l2 else None

    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")

    seeds = {"gmf_user": 0, "gmf_item": 1, "mlp_user": 2, "mlp_item": 3}

    def embedding(name: str) -> keras.layers.Embedding:
        # one seed per table: a seeded initializer repeats its values on every call
        init = keras.initializers.RandomNormal(
            stddev=config.init_std, seed=config.seed * 10 + seeds[name]
        )
        return layers.Embedding(
            n_ids,
            config.latent_dim,
            embeddings_initializer=init,
            embeddings_regularizer=reg,
            name=name,
        )

    def pair(tower: str) -> tuple[keras.layers.Embedding, keras.layers.Embedding]:
        """The user-role and account-role tables of one tower (one shared table if tied)."""
        user_table = embedding(f"{tower}_user")
        tied = config.tie in (tower, "both")
        return user_table, user_table if tied else embedding(f"{tower}_item")

    parts = []
    if "gmf" in towers:
        gmf_user, gmf_item = pair("gmf")
        parts.append(layers.Multiply(name="gmf")([gmf_user(user), gmf_item(item)]))
    if "mlp" in towers:
        mlp_user, mlp_item = pair("mlp")
        h = layers.Concatenate(name="mlp_input")([mlp_user(user), mlp_item(item)])
        for i, units in enumerate(config.mlp_layers):
            h = layers.Dense(
                units,
                activation="relu",
                kernel_regularizer=reg,
                kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed + i),
                name=f"mlp_{i}",
            )(h)
        parts.append(h)
    relation = layers.Concatenate(name=RELATION_LAYER)(parts) if len(parts) > 1 else parts[0]
    out = layers.Dense(
        1,
        activation="sigmoid",
        kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed + 99),
        name="score",
    )(relation)
    name = "neumf" if len(towers) > 1 else towers[0]
    return keras.Model(inputs={"user": user, "item": item}, outputs=out, name=name)


def init_from_towers(
    model: keras.Model, gmf: keras.Model, mlp: keras.Model, alpha: float = 0.5
) -> None:
    """Start NeuMF from pre-trained GMF and MLP models (He et al. 2017, section 3.4.1).

    Embeddings and hidden layers are copied; the output unit concatenates the two towers'
    output weights scaled by ``alpha`` and ``1 - alpha``.
    """
    for tower in (gmf, mlp):
        for layer in tower.layers:
            if layer.weights and layer.name != "score":
                model.get_layer(layer.name).set_weights(layer.get_weights())
    (k_gmf, b_gmf), (k_mlp, b_mlp) = (t.get_layer("score").get_weights() for t in (gmf, mlp))
    model.get_layer("score").set_weights(
        [
            np.concatenate([alpha * k_gmf, (1 - alpha) * k_mlp]),
            alpha * b_gmf + (1 - alpha) * b_mlp,
        ]
    )


def relation_model(model: keras.Model) -> keras.Model:
    """A model with the same inputs whose output is the relation embedding."""
    return keras.Model(inputs=model.inputs, outputs=model.get_layer(RELATION_LAYER).output)


def export_weights(model: keras.Model, uids: np.ndarray, config: NeuMFConfig) -> dict:
    """Every array the numpy scorer needs (the keys of weights.npz)."""
    weights: dict[str, np.ndarray] = {"uids": np.asarray(uids, dtype=np.int64)}
    for tower in ("gmf", "mlp"):
        user_table = np.asarray(model.get_layer(f"{tower}_user").embeddings, dtype=np.float32)
        weights[f"{tower}_user"] = user_table
        tied = config.tie in (tower, "both")
        weights[f"{tower}_item"] = (
            user_table
            if tied
            else np.asarray(model.get_layer(f"{tower}_item").embeddings, dtype=np.float32)
        )
    for i in range(len(config.mlp_layers)):
        kernel, bias = model.get_layer(f"mlp_{i}").get_weights()
        weights[f"mlp_kernel_{i}"] = kernel.astype(np.float32)
        weights[f"mlp_bias_{i}"] = bias.astype(np.float32)
    kernel, bias = model.get_layer("score").get_weights()
    weights["out_kernel"] = kernel.astype(np.float32)
    weights["out_bias"] = bias.astype(np.float32)
    return weights


def import_weights(model: keras.Model, weights: dict, config: NeuMFConfig) -> None:
    """Set a model built by ``build_neumf(n_ids, config)`` to the arrays ``export_weights``
    returned (the inverse of it)."""
    for tower in ("gmf", "mlp"):
        model.get_layer(f"{tower}_user").set_weights([np.asarray(weights[f"{tower}_user"])])
        if config.tie not in (tower, "both"):
            model.get_layer(f"{tower}_item").set_weights([np.asarray(weights[f"{tower}_item"])])
    for i in range(len(config.mlp_layers)):
        layer = model.get_layer(f"mlp_{i}")
        layer.set_weights([weights[f"mlp_kernel_{i}"], weights[f"mlp_bias_{i}"]])
    model.get_layer("score").set_weights([weights["out_kernel"], weights["out_bias"]])
