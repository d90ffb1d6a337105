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

Training builds a model in a folder of its own and publishes it whole (``publish``):
MODEL_DIR is a symbolic link to ``.NAME.versions/VERSION``, replaced in one rename, so a
reader sees the old model or the new one, never a mix, and an interrupted training leaves the
old model as it was. Every reader here names the file it could not read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphrec.errors import GraphrecError, ModelNotFound, ModelUnreadable
from graphrec.files import write_text

META = "meta.json"
WEIGHTS = "weights.npz"
KERAS_MODEL = "model.keras"
HOLDOUT = "holdout.npz"
VALIDATION = "validation.npz"
METRICS = "metrics.json"
CURVES = "curves.png"
TABLES = "tables"
RANKER = "ranker.json"  # written by graphrec.evaluation.ranker_fit, read by recommend.rank
BASELINE_TUNING = "baseline_tuning.json"  # graphrec.evaluation.tuning_memo
# what a model folder may hold; training replaces a plain folder only when it holds no more
MODEL_FILES = frozenset(
    {
        META,
        WEIGHTS,
        KERAS_MODEL,
        HOLDOUT,
        VALIDATION,
        METRICS,
        CURVES,
        TABLES,
        RANKER,
        BASELINE_TUNING,
    }
)
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
    graph. The other knobs are the best found with bench/quality.py (docs/history.md has the
    tuning log). L2 stays off: Keras applies it to the whole embedding table every step, and
    under Adam that pulls rarely seen ids hard towards zero.
    """

    latent_dim: int = 8  # GMF and MLP embedding size
    mlp_layers: tuple[int, ...] = (64, 32, 16, 8)
    # "gmf", "mlp" or "both": one embedding table per tower for a uid as follower and as
    # followed account, so "a follows b" informs "b follows a"; "auto": "both" when at least
    # half of the training follows are followed back, else "none" (train.auto_tie)
    tie: str = "auto"
    negatives: int = 16
    # examples per step; None: chosen from the epoch's size (train.epoch_batch)
    batch_size: int | None = None
    epochs: int = 20
    learning_rate: float = 0.01
    # "adam" (Keras's: every row of every table, each step), "lazy_adam" (only the rows the
    # batch looked up: model/optimizers.py), or "auto": lazy from train.LAZY_ADAM_FROM_UIDS,
    # where Keras's whole-table update would make an epoch grow with follows x uids
    optimizer: str = "auto"
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
    # and the multi-interest model over its account vectors (model/multi_interest.py)
    multi_interest: bool = True
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


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Errors of reading the model file ``path`` as one ModelUnreadable naming it."""
    try:
        yield
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise ModelUnreadable(
            f"{path}: unreadable ({e.__class__.__name__}: {e}); it may be truncated or "
            "corrupt: train the model again (`graphrec train`)"
        ) from e


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


def add_weights(model_dir: Path, extra: dict[str, np.ndarray]) -> None:
    """Add ``extra`` to what :func:`save_weights` wrote: its tables beside the others, its
    other arrays into weights.npz."""
    for key in TABLE_KEYS:
        if key in extra:
            np.save(model_dir / TABLES / f"{key}.npy", np.ascontiguousarray(extra[key]))
    with np.load(model_dir / WEIGHTS, allow_pickle=False) as data:
        small = {k: data[k] for k in data.files}
    small.update({k: v for k, v in extra.items() if k not in TABLE_KEYS})
    np.savez(model_dir / WEIGHTS, **small)


def load_weights(model_dir: str | Path) -> dict[str, np.ndarray]:
    """Every array of a model: weights.npz read, tables/*.npy memory-mapped (read-only)."""
    path = require_model_dir(model_dir)
    with reading(path / WEIGHTS), np.load(path / WEIGHTS, allow_pickle=False) as data:
        weights = {k: data[k] for k in data.files}
    for table in sorted((path / TABLES).glob("*.npy")):
        with reading(table):
            weights[table.stem] = np.load(table, mmap_mode="r", allow_pickle=False)
    return weights


def read_meta(model_dir: str | Path) -> dict:
    path = require_model_dir(model_dir) / META
    with reading(path):
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict) or "version" not in meta:
            raise ValueError("not a graphrec model's meta.json")
        return meta


def read_pairs(model_dir: str | Path, name: str = HOLDOUT) -> np.ndarray:
    """The (n, 2) (uid, fid) pairs of holdout.npz or validation.npz; empty when the model has
    no such file."""
    path = Path(model_dir) / name
    if not path.exists():
        return np.zeros((0, 2), dtype=np.int64)
    with reading(path), np.load(path, allow_pickle=False) as data:
        users, items = np.asarray(data["users"], np.int64), np.asarray(data["items"], np.int64)
        if users.shape != items.shape:
            raise ValueError("users and items differ in length")
        return np.stack([users, items], axis=1).reshape(-1, 2)


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, default=lambda v: v.tolist()))


def _versions(model_dir: Path) -> Path:
    return model_dir.parent / f".{model_dir.name}.versions"


def staging_dir(model_dir: str | Path) -> Path:
    """A new, empty folder beside ``model_dir`` for a model being trained (``publish`` it
    when complete). Folders that killed trainings of this machine left are removed."""
    model_dir = Path(model_dir).absolute()
    if model_dir.is_dir() and not model_dir.is_symlink():
        others = sorted(
            p.name for p in model_dir.iterdir() if p.name.split(".tmp.")[0] not in MODEL_FILES
        )
        if others:
            raise GraphrecError(
                f"{model_dir} holds files that are not a graphrec model's "
                f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); "
                "train into another --model-dir"
            )
    versions = _versions(model_dir)
    versions.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    for old in versions.glob("tmp.*"):
        _, pid, _, where = (old.name.split(".", 3) + ["", "", ""])[:4]
        if where == host and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = versions / f"tmp.{os.getpid()}.{uuid.uuid4().hex[:8]}.{host}"
    path.mkdir()
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish(staged: Path, model_dir: str | Path, version: str) -> Path:
    """Make the complete model in ``staged`` the one at ``model_dir``, atomically, and delete
    the model it replaces. A ``model_dir`` that is a plain folder (a model from before
    versioned folders, or anything else) is moved aside into the versions folder first."""
    model_dir = Path(model_dir).absolute()
    versions = _versions(model_dir)
    final = versions / version
    staged.rename(final)
    previous = None
    if model_dir.is_symlink():
        previous = model_dir.resolve()
    elif model_dir.exists():
        previous = versions / f"replaced-{uuid.uuid4().hex[:8]}"
        model_dir.rename(previous)
    link = model_dir.parent / f".{model_dir.name}.link-{uuid.uuid4().hex[:8]}"
    link.symlink_to(final.relative_to(model_dir.parent))
    link.replace(model_dir)  # rename(2): atomic
    if previous is not None and previous.parent == versions and previous != final:
        shutil.rmtree(previous, ignore_errors=True)
    return model_dir


def discard(staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)


def build_and_publish(model_dir: str | Path, build: Callable[[Path], dict]) -> dict:
    """``build(staged)`` a model in a new staging folder (it returns the model's figures,
    with its ``version``), then publish it as ``model_dir``; on any failure, or an interrupt,
    the staging folder is removed and the old model stays. The figures are returned with
    ``model_dir``."""
    staged = staging_dir(model_dir)
    try:
        figures = build(staged)
        final = publish(staged, model_dir, figures["version"])
    except BaseException:
        discard(staged)
        raise
    return {**figures, "model_dir": str(final)}


def remove_model(model_dir: str | Path) -> None:
    """Delete the model at ``model_dir`` and every version kept beside it."""
    model_dir = Path(model_dir).absolute()
    if model_dir.is_symlink():
        model_dir.unlink()
    elif model_dir.exists():
        shutil.rmtree(model_dir)
    shutil.rmtree(_versions(model_dir), ignore_errors=True)
