"""The model directory: what training writes and what scoring reads.

    MODEL_DIR/
      meta.json        config, model version, training figures, dataset summary
      weights.npz      the small arrays the numpy scorer needs (MLP layers, projection)
      tables/          the per-uid arrays (``uids``, embedding tables, MF factors), one .npy
                       each, memory-mapped when loaded: a fresh process reads only the rows
                       it scores, however large the graph
      model.keras      the Keras model (for retraining/inspection; scoring never loads it)
      holdout.npz      held-out (uid, fid) pairs when trained with a hold-out
      validation.npz   (uid, fid) pairs kept out of training for early stopping and the ranker
      metrics.json     evaluation figures
      curves.png       training curves

``uids`` is the sorted array of every uid the model knows; a uid's index in it is its row in
both the user-role and the account-role embedding tables.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphrec.errors import ModelNotFound

META = "meta.json"
WEIGHTS = "weights.npz"
KERAS_MODEL = "model.keras"
HOLDOUT = "holdout.npz"
VALIDATION = "validation.npz"
METRICS = "metrics.json"
CURVES = "curves.png"
TABLES = "tables"
TABLE_KEYS = (
    "uids",
    "gmf_user",
    "gmf_item",
    "mlp_user",
    "mlp_item",
    "mf_user",
    "mf_item",
    "tt_user",  # two-tower tables (model/towers.py)
    "tt_account",
    "tt_vectors",
)


@dataclass(frozen=True)
class NeuMFConfig:
    """Model sizes and training knobs.

    Sizes follow the reference design; ``search`` lets training pick a wider model and another
    learning rate on the validation follows, because the best capacity differs from graph to
    graph. The other knobs are the best found with bench/quality.py (docs/benchmarks.md has
    the figures). L2 stays off: Keras applies it to the whole embedding table every step, and
    under Adam that pulls rarely seen ids hard towards zero.
    """

    latent_dim: int = 8  # GMF and MLP embedding size
    mlp_layers: tuple[int, ...] = (64, 32, 16, 8)
    # "gmf", "mlp" or "both": one embedding table per tower for a uid as follower and as
    # followed account, so "a follows b" informs "b follows a"; "auto": "both" when at least
    # half of the training follows are followed back, else "none" (train.auto_tie)
    tie: str = "auto"
    negatives: int = 16
    batch_size: int = 65536
    epochs: int = 20
    learning_rate: float = 0.01
    l2: float = 0.0
    # > 0: train GMF and MLP alone this many epochs each, start NeuMF from them (NCF paper)
    # and fine-tune it at finetune_learning_rate
    pretrain_epochs: int = 0
    finetune_learning_rate: float = 0.001
    init_std: float = 0.01
    validation_fraction: float = 0.05
    patience: int = 3
    early_stopping: str = "ranking"  # the validation HR@10 estimate (train.py), or "loss"
    rank_users: int = 1000  # validation users ranked after each epoch
    # Capacity and learning rate are chosen on the validation follows (train.search): every
    # (latent_dim, learning_rate) rung trains up to the first round's epochs, the better half
    # goes on to the next round's, and the best one trains on to `epochs`. Empty: train this
    # configuration alone. Rungs whose embedding tables would exceed search_max_params are
    # skipped, so a large graph keeps to the small rungs.
    search: tuple[tuple[int, float], ...] = ((8, 0.01), (32, 0.01), (64, 0.003), (128, 0.01))
    search_rounds: tuple[int, ...] = (4, 10)
    search_max_params: int = 100_000_000
    # also fit a dot-product MF (implicit ALS, model/mf.py) whose score the ranker reads
    mf: bool = True
    # also train the two-tower retrieval model (model/two_tower.py) behind the two_tower pool
    two_tower: bool = True
    # The vector index holds at most this many dimensions: a wider relation embedding is
    # projected onto its principal directions (NumpyScorer.index_embedding).
    index_dim: int = 16
    rank_pool: int = 2000  # shared random candidate accounts they are ranked against
    seed: int = 42
    extra: dict = field(default_factory=dict)

    @property
    def relation_dim(self) -> int:
        return self.latent_dim + self.mlp_layers[-1]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mlp_layers"] = list(self.mlp_layers)
        d["search"] = [list(rung) for rung in self.search]
        d["search_rounds"] = list(self.search_rounds)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NeuMFConfig:
        d = dict(d)
        d["mlp_layers"] = tuple(d.get("mlp_layers", cls.mlp_layers))
        if "search" in d:
            d["search"] = tuple((int(a), float(b)) for a, b in d["search"])
        if "search_rounds" in d:
            d["search_rounds"] = tuple(int(e) for e in d["search_rounds"])
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def require_model_dir(model_dir: str | Path) -> Path:
    path = Path(model_dir)
    if not (path / WEIGHTS).exists() or not (path / META).exists():
        raise ModelNotFound(
            f"no trained model in {path} (expected {WEIGHTS} and {META}); "
            "run `graphrec train` first or pass --model-dir"
        )
    return path


def save_weights(model_dir: Path, weights: dict[str, np.ndarray]) -> None:
    """The per-uid tables as tables/KEY.npy, every other array in weights.npz."""
    tables = model_dir / TABLES
    shutil.rmtree(tables, ignore_errors=True)
    tables.mkdir(parents=True)
    for key in TABLE_KEYS:
        if key in weights:
            np.save(tables / f"{key}.npy", np.ascontiguousarray(weights[key]))
    small: dict[str, Any] = {k: v for k, v in weights.items() if k not in TABLE_KEYS}
    np.savez(model_dir / WEIGHTS, **small)


def load_weights(model_dir: str | Path) -> dict[str, np.ndarray]:
    """Every array of a model: weights.npz read, tables/*.npy memory-mapped (read-only)."""
    path = require_model_dir(model_dir)
    with np.load(path / WEIGHTS, allow_pickle=False) as data:
        weights = {k: data[k] for k in data.files}
    for table in sorted((path / TABLES).glob("*.npy")):
        weights[table.stem] = np.load(table, mmap_mode="r", allow_pickle=False)
    return weights


def read_meta(model_dir: str | Path) -> dict:
    return json.loads((require_model_dir(model_dir) / META).read_text())


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=lambda v: v.tolist()))
    tmp.replace(path)
