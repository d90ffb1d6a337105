"""Training NeuMF (imports TensorFlow: call it lazily, from command bodies only).

``train(src_uids, dst_uids, model_dir)`` maps ids to dense indices through one sorted ``uids``
array, optionally holds out one follow per user (saved to holdout.npz and never shown to the
model), splits off a validation set, and trains with fresh uniform negatives every epoch
(never a known positive, held-out ones included). Examples are drawn in numpy a chunk at a
time, on tf.data's thread while the previous batches train, so memory does not grow with the
epoch; whole batches of one static shape feed an XLA-compiled train step, which is what makes
a 2-core CPU do more than a million examples a second.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from graphrec.model import artifacts
from graphrec.model.artifacts import NeuMFConfig
from graphrec.model.interests import MultiInterestConfig
from graphrec.model.keras_model import (
    build_neumf,
    export_weights,
    import_weights,
    init_from_towers,
)
from graphrec.model.mf import choose_als
from graphrec.model.multi_interest import train_multi_interest
from graphrec.model.optimizers import LazyAdam
from graphrec.model.sampling import KnownPairs, example_chunks, known_pairs
from graphrec.model.scorer import INDEX_PROJECTION, MF_ITEM, MF_USER, NumpyScorer
from graphrec.model.splits import index_follows, leave_one_out_split
from graphrec.model.tf_runtime import keras, tf
from graphrec.model.towers import VECTORS, InBatchConfig, TwoTowerConfig
from graphrec.model.two_tower import train_two_tower
from graphrec.numeric import reciprocity
from graphrec.progress import Progress, Step

PREFETCH_BATCHES = 4  # batches drawn ahead of the train step, on tf.data's thread
FIT_FOLLOWS = "fit_follows.tmp.npz"  # NeuMF's training and validation follows, for the next stage
RECIPROCAL = 0.5  # share of follows followed back from which tie="auto" ties the tables
# optimizer="auto" takes lazy Adam from this many uids: near where Keras's Adam, at the
# narrowest rung of the search, starts to cost a step more than lazy Adam. Where the crossover
# lies depends on the machine's memory bandwidth; past it Keras's step grows with the tables,
# so erring low costs little and erring high a lot (docs/benchmarks.md, "NeuMF step")
LAZY_ADAM_FROM_UIDS = 150_000
# The batch when none is given: the largest power of two up to MAX_BATCH that gives an epoch
# at least MIN_STEPS_PER_EPOCH optimizer steps. At MAX_BATCH a small graph's epoch is a handful
# of steps, and NeuMF may learn little per epoch; on other small graphs the large batch ends
# higher. So where the two differ, the search runs at the smaller one, the winner's setting is
# then also trained at the largest batch the epoch fills, and the better validation estimate
# is kept (docs/benchmarks.md, "NeuMF's batch on small graphs").
MAX_BATCH = 65_536
MIN_STEPS_PER_EPOCH = 64
# ...but never below this one: smaller batches cost more time per example, and on the smallest
# shared graph added nothing the validation estimate could tell apart
MIN_CHOSEN_BATCH = 4_096
MIN_BATCH = 256  # a batch is never halved below this to fit a tiny epoch
OPTIMIZERS = ("auto", "adam", "lazy_adam")


def auto_tie(mutual: float) -> str:
    """tie="auto": one table per uid in both towers on mostly mutual graphs, where "a follows
    b" says most about "b follows a"; separate tables otherwise, where tying hurts (the
    measurements behind the threshold: docs/history.md, "Model quality")."""
    return "both" if mutual >= RECIPROCAL else "none"


def auto_optimizer(n_ids: int) -> str:
    """optimizer="auto": Keras's Adam updates every row of every table at each step, so its
    step grows with the uids and an epoch with follows x uids; lazy Adam's step is flat in
    the uids and as cheap or cheaper from about LAZY_ADAM_FROM_UIDS (docs/benchmarks.md,
    "NeuMF step")."""
    return "lazy_adam" if n_ids >= LAZY_ADAM_FROM_UIDS else "adam"


def _blocks(
    chunks: Iterable[tuple[np.ndarray, ...]], batch_size: int
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]:
    """Chunks of examples cut into (steps, batch_size) blocks of whole batches, so every
    step has one static shape; the last batch is padded with zero-weight rows."""
    carry: list[np.ndarray] | None = None
    for chunk in chunks:
        columns = list(chunk)
        if carry is not None:
            columns = [np.concatenate([c, x]) for c, x in zip(carry, columns, strict=True)]
        whole = columns[0].size // batch_size * batch_size
        if whole:
            yield _block([c[:whole] for c in columns], batch_size)
        carry = [c[whole:] for c in columns]
    if carry is not None and carry[0].size:
        pad = batch_size - carry[0].size
        yield _block([np.concatenate([c, np.zeros(pad, c.dtype)]) for c in carry], batch_size)


def _block(
    columns: list[np.ndarray], batch_size: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    users, items, labels, weights = (c.reshape(-1, batch_size) for c in columns)
    return {"user": users, "item": items}, labels[..., None], weights


def _stream(
    chunks: Callable[[], Iterable[tuple[np.ndarray, ...]]], n_examples: int, batch_size: int
) -> tuple[tf.data.Dataset, float]:
    """One pass over ``chunks()`` as a dataset of whole batches, drawn while Keras trains.

    Keras divides each batch's weighted loss by the batch size, padding included; the
    returned factor turns its mean back into the mean over real examples.
    """
    ids = tf.TensorSpec((None, batch_size), tf.int32)
    spec = (
        {"user": ids, "item": ids},
        tf.TensorSpec((None, batch_size, 1), tf.float32),
        tf.TensorSpec((None, batch_size), tf.float32),
    )
    ds = tf.data.Dataset.from_generator(
        lambda: _blocks(chunks(), batch_size), output_signature=spec
    )
    steps = max(1, -(-n_examples // batch_size))
    factor = steps * batch_size / max(n_examples, 1)
    ds = ds.unbatch().apply(tf.data.experimental.assert_cardinality(steps))
    return ds.prefetch(PREFETCH_BATCHES), factor


def epoch_batch(config: NeuMFConfig, n_examples: int) -> int:
    """Examples per step for an epoch of ``n_examples``: ``config.batch_size`` when given, else
    chosen from the epoch's size (``MAX_BATCH``, ``MIN_STEPS_PER_EPOCH``, ``MIN_CHOSEN_BATCH``);
    either halved while one batch would hold the whole epoch (not below ``MIN_BATCH``)."""
    if config.batch_size is None:
        size = MAX_BATCH
        while size > MIN_CHOSEN_BATCH and n_examples < MIN_STEPS_PER_EPOCH * size:
            size //= 2
    else:
        size = config.batch_size
    while size > MIN_BATCH and n_examples < size:
        size //= 2
    return size


def validation_split(
    src: np.ndarray, dst: np.ndarray, n_ids: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fit users, fit items, validation users, validation items).

    Validation is leave-one-out like the test hold-out (one follow each for a random subset
    of users who keep at least two), at most ``fraction`` of the follows. Besides early
    stopping it is what ``fit-ranker`` learns from: follows in the graph the model never saw.
    """
    if src.size <= 20 or fraction <= 0:
        empty = np.zeros(0, np.int64)
        return src, dst, empty, empty
    split = leave_one_out_split(src, dst, n_ids, seed=seed + 1)
    users, items = split.test_users, split.test_items
    cap = int(round(fraction * src.size))
    if users.size > cap:
        keep = np.sort(np.random.default_rng(seed + 2).choice(users.size, cap, replace=False))
        back = np.setdiff1d(np.arange(users.size), keep)
        users, items, extra = users[keep], items[keep], (users[back], items[back])
        fit_src = np.concatenate([split.train_src, extra[0]])
        fit_dst = np.concatenate([split.train_dst, extra[1]])
        return fit_src, fit_dst, users, items
    return split.train_src, split.train_dst, users, items


class RankingProbe:
    """Estimated full-ranking HR@10 of validation follows, scored in numpy from live weights.

    Up to ``config.rank_users`` validation users are ranked against one shared pool of
    ``config.rank_pool`` accounts (every account when the graph is that small), skipping
    accounts they follow: the most followed half of the pool counted exactly (uniform
    negatives push popular accounts to the top, and a random pool would miss them) and a
    random rest that stands for every other account. Validation loss is a poor guide to the
    top of the ranking (on slashdot0902 it picked an epoch that ranked almost no held-out
    follow in the top ten); this is a direct one, scored by the same NumpyScorer that serves
    recommendations.
    """

    def __init__(
        self,
        val_users: np.ndarray,
        val_items: np.ndarray,
        n_ids: int,
        known: KnownPairs,
        config: NeuMFConfig,
        followers: np.ndarray,
        k: int = 10,
    ) -> None:
        rng = np.random.default_rng(config.seed + 11)
        rows = rng.choice(val_users.size, min(config.rank_users, val_users.size), replace=False)
        self.users, self.items = val_users[rows], val_items[rows]
        self.exact = config.rank_pool >= n_ids
        n_top = config.rank_pool // 2
        top = np.argsort(-followers, kind="stable")[:n_top]
        rest = np.setdiff1d(np.arange(n_ids), top)
        drawn = rng.choice(rest, min(rest.size, config.rank_pool - n_top), replace=False)
        self.pool = np.arange(n_ids) if self.exact else np.concatenate([top, np.sort(drawn)])
        self.n_top = 0 if self.exact else n_top
        grid_users = np.repeat(self.users, self.pool.size)
        grid_items = np.tile(self.pool, self.users.size)
        followed = known.contains(grid_users, grid_items) | (grid_items == grid_users)
        self.valid = ~followed.reshape(self.users.size, self.pool.size)
        degree = known.follow_counts()
        self.candidates = n_ids - 1 - degree[self.users]  # accounts a full ranking would rank
        self.k = k
        self.config = config
        self.followers = followers
        self.ids = np.arange(n_ids)  # the probe works in indices; the scorer wants "uids"

    def hit_rate(self, model: keras.Model) -> float:
        """HR@k estimate (exact when the pool is every account)."""
        if self.users.size == 0:
            return 0.0
        scorer = NumpyScorer(export_weights(model, self.ids, self.config))
        grid_users = np.repeat(self.users, self.pool.size)
        grid_items = np.tile(self.pool, self.users.size)
        return self._estimate(
            scorer.logits(self.users, self.items),
            scorer.logits(grid_users, grid_items).reshape(self.users.size, -1),
        )

    def popularity_hit_rate(self) -> float:
        """The same estimate for ranking by followers in the fit follows."""
        if self.users.size == 0:
            return 0.0
        pool = self.followers[self.pool].astype(np.float64)
        return self._estimate(
            self.followers[self.items].astype(np.float64),
            np.broadcast_to(pool, (self.users.size, pool.size)),
        )

    def floor(self, popularity: float) -> float:
        """``popularity`` (its :meth:`popularity_hit_rate`) plus two standard errors of a hit
        rate at that level over these users: a run below it has not yet learned more than
        popularity."""
        p = popularity
        return p + 2.0 * float(np.sqrt(p * (1.0 - p) / max(self.users.size, 1)))

    def _estimate(self, pos_scores: np.ndarray, pool_scores: np.ndarray) -> float:
        # an account scored the same as the held-out one counts as half above it
        beats = (pool_scores > pos_scores[:, None]) + 0.5 * (pool_scores == pos_scores[:, None])
        beats = beats * self.valid
        t = self.n_top
        exact_above = beats[:, :t].sum(axis=1) if t else beats.sum(axis=1)
        if self.exact:
            return float((exact_above < self.k).mean())
        # each random account stands for others/drawn accounts outside the most followed
        above = beats[:, t:].sum(axis=1)
        drawn = np.maximum(self.valid[:, t:].sum(axis=1), 1)
        others = self.candidates - self.valid[:, :t].sum(axis=1)
        return float((exact_above + above * others / drawn < self.k).mean())


def _compiled(model: keras.Model, learning_rate: float, optimizer: str) -> keras.Model:
    if optimizer not in OPTIMIZERS[1:]:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS[1:]} (train resolves 'auto')")
    adam = LazyAdam if optimizer == "lazy_adam" else keras.optimizers.Adam
    model.compile(
        optimizer=adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        jit_compile=True,
    )
    return model


def _pretrain(
    tower: str,
    n_ids: int,
    config: NeuMFConfig,
    fit: tuple[np.ndarray, np.ndarray],
    known: KnownPairs,
    rng: np.random.Generator,
    batch_size: int,
    silent: bool,
) -> keras.Model:
    """GMF or MLP alone, trained for ``config.pretrain_epochs`` on fresh negatives."""
    model = _compiled(
        build_neumf(n_ids, config, towers=(tower,)), config.learning_rate, config.optimizer
    )
    n_examples = fit[0].size * (1 + config.negatives)
    for epoch in range(1, config.pretrain_epochs + 1):
        ds, factor = _stream(
            lambda: example_chunks(*fit, known, config.negatives, rng),
            n_examples,
            batch_size,
        )
        loss = factor * float(model.fit(ds, epochs=1, verbose=0, shuffle=False).history["loss"][-1])
        if not silent:
            print(
                f"pre-training {tower} {epoch}/{config.pretrain_epochs}: loss {loss:.4f}",
                file=sys.stderr,
                flush=True,
            )
    return model


def _save_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax3, ax2) = plt.subplots(1, 3, figsize=(15, 4))
    ax1.plot(epochs, [h["loss"] for h in history], marker="o", label="train loss")
    ax1.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("binary cross-entropy")
    ax1.legend()
    ax3.plot(epochs, [h["val_hr@10"] for h in history], marker="o")
    ax3.set_xlabel("epoch")
    ax3.set_ylabel("validation HR@10 (estimate)")
    ax2.plot(epochs, [h["examples_per_second"] for h in history], marker="o")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("examples / s")
    fig.suptitle("NeuMF training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass
class _Data:
    """What every epoch of every configuration reads."""

    fit_users: np.ndarray
    fit_items: np.ndarray
    n_ids: int
    known: KnownPairs
    rng: np.random.Generator
    val_ds: tf.data.Dataset | None
    val_factor: float
    probe: RankingProbe | None
    by_ranking: bool
    # patience is spent only by a run that has passed this (RankingProbe.floor)
    floor: float = -np.inf


@dataclass
class _Run:
    """One configuration in training: its model, its epochs so far and its best one."""

    config: NeuMFConfig
    model: keras.Model | None
    history: list[dict] = field(default_factory=list)
    best: float = -np.inf
    best_weights: list | None = None
    best_epoch: int = 1
    waited: int = 0
    stopped: bool = False

    def drop_model(self) -> None:
        self.model, self.best_weights = None, None

    def record(
        self,
        epoch: int,
        score: float,
        weights: Callable[[], list],
        floor: float = -np.inf,
        min_gain: float = 0.0,
    ) -> None:
        """Keep ``epoch`` (and its ``weights()``) when its ``score`` beats the best so far by
        more than ``min_gain``. Otherwise the epoch spends patience, but only once the best
        has passed ``floor``: until a run beats popularity it has not started to learn more,
        and a flat validation estimate then says nothing about whether it will."""
        if score > self.best + min_gain:
            self.best, self.best_weights, self.best_epoch, self.waited = (
                score,
                weights(),
                epoch,
                0,
            )
        elif self.best > floor:
            self.waited += 1
            self.stopped = self.waited >= self.config.patience

    @property
    def best_val_hr(self) -> float:
        return float(self.history[self.best_epoch - 1]["val_hr@10"]) if self.history else 0.0

    @property
    def label(self) -> str:
        return (
            f"latent {self.config.latent_dim}, Adam {self.config.learning_rate:g}, "
            f"batch {self.config.batch_size:,}"
        )


def _epochs(run: _Run, data: _Data, until: int, progress: Progress | None, silent: bool) -> None:
    """Train ``run`` on until epoch ``until`` (or until its patience runs out)."""
    config, model = run.config, run.model
    assert model is not None, "a run out of the search trains no more"
    batch_size = _run_batch(config)
    while not run.stopped and len(run.history) < until:
        epoch = len(run.history) + 1
        n_examples = data.fit_users.size * (1 + config.negatives)
        ds, factor = _stream(
            lambda: example_chunks(
                data.fit_users, data.fit_items, data.known, config.negatives, data.rng
            ),
            n_examples,
            batch_size,
        )
        t = time.perf_counter()
        label = f"[{run.label}] epoch {epoch}"
        with Progress(label, total=n_examples, unit="examples", silent=silent) as within:
            shown = [_EpochProgress(within, batch_size)] if not silent else None
            fitted = model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=shown)
        loss = factor * float(fitted.history["loss"][-1])
        seconds = time.perf_counter() - t
        val_loss = (
            data.val_factor * float(model.evaluate(data.val_ds, verbose=0))
            if data.val_ds is not None
            else loss
        )
        val_hr = data.probe.hit_rate(model) if data.probe is not None else 0.0
        row = {
            "epoch": epoch,
            "loss": loss,
            "val_loss": val_loss,
            "val_hr@10": val_hr,
            "seconds": round(seconds, 3),
            "examples": n_examples,
            "examples_per_second": n_examples / seconds,
        }
        run.history.append(row)
        if not silent:
            sys.stderr.write(
                f"[{run.label}] epoch {epoch}: loss {loss:.4f}, val_loss {val_loss:.4f}, "
                f"val_hr@10 {val_hr:.4f}, {n_examples:,} examples in {seconds:.1f}s "
                f"({row['examples_per_second']:,.0f} examples/s)\n"
            )
        if progress is not None:
            progress.update(1)
        if data.by_ranking:
            run.record(epoch, val_hr, model.get_weights, data.floor)
        else:
            run.record(epoch, -val_loss, model.get_weights, min_gain=1e-4)


class _EpochProgress(keras.callbacks.Callback):
    """The examples an epoch has trained on so far, with rate and ETA: at millions of
    follows one epoch takes minutes."""

    def __init__(self, progress: Progress, batch_size: int) -> None:
        super().__init__()
        self.progress, self.batch_size = progress, batch_size

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        left = (self.progress.total or 0) - self.progress.done
        self.progress.update(min(self.batch_size, left))  # the last batch is padded


def _run_batch(config: NeuMFConfig) -> int:
    assert config.batch_size is not None, "train() fixes every run's batch before the search"
    return config.batch_size


def _new_run(config: NeuMFConfig, data: _Data, silent: bool) -> _Run:
    model = build_neumf(data.n_ids, config)
    learning_rate = config.learning_rate
    if config.pretrain_epochs:
        towers = [
            _pretrain(
                t,
                data.n_ids,
                config,
                (data.fit_users, data.fit_items),
                data.known,
                data.rng,
                _run_batch(config),
                silent,
            )
            for t in ("gmf", "mlp")
        ]
        init_from_towers(model, *towers)
        learning_rate = config.finetune_learning_rate
    return _Run(config, _compiled(model, learning_rate, config.optimizer))


def search_rungs(config: NeuMFConfig, n_ids: int) -> list[NeuMFConfig]:
    """The configurations ``search`` tries: each ladder rung whose four embedding tables fit
    in ``search_max_params`` (the plain configuration when the ladder is empty)."""
    rungs = [
        dataclasses.replace(config, latent_dim=latent, learning_rate=rate)
        for latent, rate in config.search
        if 4 * n_ids * latent <= config.search_max_params
    ]
    return rungs or [config]


def _search(
    config: NeuMFConfig, data: _Data, silent: bool, race_batch: int | None = None
) -> tuple[_Run, list[dict], list[dict]]:
    """Successive halving over the ladder, judged by the validation estimate; returns the
    winner (trained to the end), one summary row per run and every epoch's history row.

    ``race_batch``: the winner's setting is then trained again at this batch, to the end, and
    whichever of the two has the better estimate wins."""
    rungs = search_rungs(config, data.n_ids) if data.probe is not None else [config]
    runs = [_new_run(c, data, silent) for c in rungs]
    race = race_batch is not None and data.probe is not None
    # with fewer epochs than a round has, the rounds end at the last epoch
    rounds = sorted({min(e, config.epochs) for e in config.search_rounds})
    schedule = rounds if len(runs) > 1 else []
    alive = list(runs)
    total, done, n = 0, 0, len(runs)
    for until in schedule:  # the most epochs the schedule can take
        total, done, n = total + n * (until - done), until, max(1, n // 2)
    total += config.epochs - done + race * config.epochs
    with Progress("training", total=total, unit="epochs", silent=silent) as progress:
        for until in schedule:
            for run in alive:
                _epochs(run, data, until, progress, silent)
            alive.sort(key=lambda r: -r.best_val_hr)
            for run in alive[max(1, len(alive) // 2) :]:
                run.drop_model()  # out of the search: its figures stay, its memory goes
            alive = alive[: max(1, len(alive) // 2)]
        winner = alive[0]
        _epochs(winner, data, config.epochs, progress, silent)
        if race:
            at_race_batch = dataclasses.replace(winner.config, batch_size=race_batch)
            rival = _new_run(at_race_batch, data, silent)
            runs.append(rival)
            _epochs(rival, data, config.epochs, progress, silent)
            if rival.best_val_hr > winner.best_val_hr:
                winner, rival = rival, winner
            rival.drop_model()
    summary = [
        {
            "latent_dim": r.config.latent_dim,
            "learning_rate": r.config.learning_rate,
            "batch_size": r.config.batch_size,
            "epochs": len(r.history),
            "best_epoch": r.best_epoch,
            "best_val_hr@10": round(r.best_val_hr, 4),
            "chosen": r is winner,
        }
        for r in runs
    ]
    if not silent and len(runs) > 1:
        sys.stderr.write(f"chose {winner.label} on the validation follows\n")
    return winner, summary, [h for r in runs for h in r.history]


def index_projection(
    scorer: NumpyScorer, users: np.ndarray, items: np.ndarray, dims: int, seed: int
) -> np.ndarray | None:
    """(relation_dim, dims) principal directions of the relation embeddings of a sample of
    training follows, or None when the relation embedding already fits the index."""
    if scorer.relation_dim <= dims:
        return None
    rng = np.random.default_rng(seed + 13)
    rows = rng.choice(users.size, min(users.size, 100_000), replace=False)
    relations = scorer.relation_embedding(users[rows], items[rows]).astype(np.float64)
    _, _, vt = np.linalg.svd(relations, full_matrices=False)
    return vt[:dims].T.astype(np.float32)


def train(
    src_uids: np.ndarray,
    dst_uids: np.ndarray,
    model_dir: str | Path,
    config: NeuMFConfig | None = None,
    holdout: bool = True,
    silent: bool = False,
) -> dict:
    """Train NeuMF on the follows ``src_uids -> dst_uids`` and write the model directory.

    Returns the training figures (examples, examples_per_second, epochs, seconds, the search
    over capacity and learning rate, ...), which are also stored in meta.json. The model is
    built in a folder of its own and replaces the one at ``model_dir`` only once complete
    (artifacts.publish): an interrupted training leaves the old model as it was.
    """
    chosen = config or NeuMFConfig()
    return artifacts.build_and_publish(
        model_dir,
        lambda staged: train_into(staged, src_uids, dst_uids, chosen, holdout, silent),
    )


def train_into(
    model_dir: Path,
    src_uids: np.ndarray,
    dst_uids: np.ndarray,
    config: NeuMFConfig,
    holdout: bool = True,
    silent: bool = False,
) -> dict:
    """``train`` into the empty folder ``model_dir``, unpublished (the caller publishes it:
    artifacts.build_and_publish): NeuMF, then the models fitted beside it."""
    fit_neumf_into(model_dir, src_uids, dst_uids, config, holdout, silent)
    return fit_beside_into(model_dir, silent)


def fit_neumf_into(
    model_dir: Path,
    src_uids: np.ndarray,
    dst_uids: np.ndarray,
    config: NeuMFConfig,
    holdout: bool = True,
    silent: bool = False,
) -> dict:
    """The first stage of :func:`train_into`: the hold-out, the validation follows and NeuMF,
    written to ``model_dir`` with the follows that :func:`fit_beside_into` fits on."""
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    with Step("indexing the follows", silent):
        uids, src, dst = index_follows(src_uids, dst_uids)
        n_ids = len(uids)
        if src.size == 0:
            raise ValueError("no follows to train on")
        if n_ids < 2**31:  # half the memory for every copy of the follows below
            src, dst = src.astype(np.int32), dst.astype(np.int32)
        known = known_pairs(src, dst, n_ids)  # every positive, held-out ones included

    with Step("holding out test and validation follows", silent):
        if holdout:
            split = leave_one_out_split(src, dst, n_ids, seed=config.seed)
            train_src, train_dst = split.train_src, split.train_dst
            np.savez(
                model_dir / artifacts.HOLDOUT,
                users=uids[split.test_users],
                items=uids[split.test_items],
                seed=np.int64(config.seed),
            )
            del split
        else:
            train_src, train_dst = src, dst

        fit_users, fit_items, val_users, val_items = validation_split(
            train_src, train_dst, n_ids, config.validation_fraction, config.seed
        )
    mutual = reciprocity(train_src, train_dst)
    if config.tie == "auto":
        config = dataclasses.replace(config, tie=auto_tie(mutual))
    if config.optimizer == "auto":
        config = dataclasses.replace(config, optimizer=auto_optimizer(n_ids))
    n_val = val_users.size
    np.savez(model_dir / artifacts.VALIDATION, users=uids[val_users], items=uids[val_items])
    examples_per_epoch = fit_users.size * (1 + config.negatives)
    batch_size = epoch_batch(config, examples_per_epoch)
    # the largest batch that the epoch fills, for the race (see MAX_BATCH)
    largest = epoch_batch(dataclasses.replace(config, batch_size=MAX_BATCH), examples_per_epoch)
    race_batch = largest if config.batch_size is None and batch_size < largest else None
    config = dataclasses.replace(config, batch_size=batch_size)
    negatives, val_seed = config.negatives, config.seed + 7
    val_ds, val_factor = (
        _stream(  # the same negatives every epoch (same seed), so the losses compare
            lambda: example_chunks(
                val_users, val_items, known, negatives, np.random.default_rng(val_seed)
            ),
            n_val * (1 + config.negatives),
            batch_size,
        )
        if n_val
        else (None, 1.0)
    )
    followers = np.bincount(fit_items, minlength=n_ids)
    with Step("choosing the validation users ranked after each epoch", silent or not n_val):
        probe = (
            RankingProbe(val_users, val_items, n_ids, known, config, followers) if n_val else None
        )
    by_ranking = config.early_stopping == "ranking" and probe is not None
    popularity_hr: float | None = None
    floor = -np.inf
    if probe is not None:
        popularity_hr = probe.popularity_hit_rate()
        if by_ranking:
            floor = probe.floor(popularity_hr)
            if not silent:
                sys.stderr.write(
                    f"popularity's val_hr@10 is {popularity_hr:.4f}: a run spends patience "
                    f"once it passes {floor:.4f}\n"
                )
    data = _Data(
        fit_users,
        fit_items,
        n_ids,
        known,
        rng,
        val_ds,
        val_factor,
        probe,
        by_ranking,
        floor,
    )

    winner, search, every_epoch = _search(config, data, silent, race_batch)
    model, history, best_epoch = winner.model, winner.history, winner.best_epoch
    assert model is not None
    config = winner.config
    if winner.best_weights is not None:
        model.set_weights(winner.best_weights)
        winner.best_weights = None  # the export below takes its room
    steady = history[1:] or history  # the first epoch includes XLA compilation
    steady_rate = sum(h["examples"] for h in steady) / sum(h["seconds"] for h in steady)
    total_examples = sum(h["examples"] for h in every_epoch)
    fit_seconds = sum(h["seconds"] for h in every_epoch)
    weights = export_weights(model, uids, config)
    projection = index_projection(
        NumpyScorer(weights), fit_users, fit_items, config.index_dim, config.seed
    )
    if projection is not None:
        weights[INDEX_PROJECTION] = projection
    figures = {
        "examples": int(total_examples),
        "examples_per_second": round(steady_rate),
        "examples_per_second_incl_compile": round(total_examples / fit_seconds),
        "epochs": len(history),
        "search_epochs": len(every_epoch) - len(history),
        "best_epoch": best_epoch,
        "seconds": round(time.perf_counter() - started, 3),
        "fit_seconds": round(fit_seconds, 3),
        "seconds_per_epoch": round(fit_seconds / len(every_epoch), 3),
        "batch_size": config.batch_size,
        "best_val_loss": float(history[best_epoch - 1]["val_loss"]),
        "best_val_hr@10": float(history[best_epoch - 1]["val_hr@10"]),
        "early_stopping": "ranking" if data.by_ranking else "loss",
        "popularity_val_hr@10": None if popularity_hr is None else round(popularity_hr, 4),
        "patience_floor": round(floor, 4) if np.isfinite(floor) else None,
        "held_out": int(src.size - train_src.size),
        "reciprocity": round(mutual, 4),
        "tie": config.tie,
        "optimizer": config.optimizer,
        "latent_dim": config.latent_dim,
        "learning_rate": config.learning_rate,
        "relation_dim": config.relation_dim,
        "index_dim": config.relation_dim if projection is None else int(projection.shape[1]),
        "search": search,
        "mf": None,
        "two_tower": None,
        "multi_interest": None,
    }
    meta = {
        "version": uuid.uuid4().hex,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "n_ids": n_ids,
        "n_follows": int(src.size),
        "n_train_follows": int(fit_users.size),
        "n_validation_follows": int(n_val),
        "n_held_out": int(src.size - train_src.size),
        "holdout": holdout,
        "figures": figures,
        "history": history,
        "two_tower": {},
        "two_tower_history": [],
        "multi_interest": {},
        "multi_interest_history": [],
    }
    artifacts.save_weights(model_dir, weights)
    np.savez(
        model_dir / FIT_FOLLOWS,
        fit_users=fit_users,
        fit_items=fit_items,
        val_users=val_users,
        val_items=val_items,
    )
    _save_curves(history, model_dir / artifacts.CURVES)
    artifacts.write_json(model_dir / artifacts.META, meta)
    return {**figures, "version": meta["version"]}


def _save_keras_model(model_dir: Path, config: NeuMFConfig, n_ids: int) -> None:
    """model.keras, rebuilt from the exported weights: saved here rather than where NeuMF
    trained, it holds no optimizer state, and its saving does not add to that stage's peak."""
    model = build_neumf(n_ids, config)
    import_weights(model, artifacts.load_weights(model_dir), config)
    model.save(model_dir / artifacts.KERAS_MODEL)
    del model
    keras.backend.clear_session(free_memory=True)


def _beside_epochs(config: NeuMFConfig) -> int:
    """The retrieval models keep their own maximum, but never train longer than NeuMF may."""
    return min(InBatchConfig.epochs, config.epochs)


def _summary(fitted: dict) -> dict | None:
    """A retrieval model's figures, without the config and history kept in meta.json."""
    return {k: v for k, v in fitted.items() if k not in ("config", "history")} or None


def fit_beside_into(model_dir: Path, silent: bool = False) -> dict:
    """The second stage of :func:`train_into`, in a process of its own or not: NeuMF's
    model.keras, then the models fitted beside NeuMF on the same follows (the MF the ranker
    reads, the two-tower and multi-interest retrieval models), added to the model in
    ``model_dir``. Returns the model's figures."""
    started = time.perf_counter()
    keras.backend.clear_session(free_memory=True)  # NeuMF's models, in one process
    meta = artifacts.read_meta(model_dir)
    config = NeuMFConfig.from_dict(meta["config"])
    n_ids = int(meta["n_ids"])
    _save_keras_model(model_dir, config, n_ids)
    keras.utils.set_random_seed(config.seed)
    with np.load(model_dir / FIT_FOLLOWS) as split:
        fit_users, fit_items = split["fit_users"], split["fit_items"]
        val_users, val_items = split["val_users"], split["val_items"]
    (model_dir / FIT_FOLLOWS).unlink()
    n_val = val_users.size
    weights: dict[str, np.ndarray] = {}
    figures = meta["figures"]
    if config.mf and n_val:
        weights[MF_USER], weights[MF_ITEM], figures["mf"] = choose_als(
            fit_users,
            fit_items,
            val_users,
            val_items,
            n_ids,
            config.seed,
            max_params=config.search_max_params,
            silent=silent,
        )
    towers: dict = {}
    if config.two_tower and n_val and fit_users.size >= 2:
        tower_weights, towers = train_two_tower(
            fit_users,
            fit_items,
            val_users,
            val_items,
            n_ids,
            TwoTowerConfig(seed=config.seed, epochs=_beside_epochs(config)),
            silent=silent,
        )
        weights.update(tower_weights)
    interests: dict = {}
    if towers and config.multi_interest:
        interest_weights, interests = train_multi_interest(
            weights[VECTORS],
            fit_users,
            fit_items,
            val_users,
            val_items,
            MultiInterestConfig(seed=config.seed, epochs=_beside_epochs(config)),
            silent=silent,
        )
        weights.update(interest_weights)
    figures["two_tower"], figures["multi_interest"] = _summary(towers), _summary(interests)
    figures["seconds"] = round(figures["seconds"] + time.perf_counter() - started, 3)
    meta.update(
        figures=figures,
        two_tower=towers.get("config", {}),
        two_tower_history=towers.get("history", []),
        multi_interest=interests.get("config", {}),
        multi_interest_history=interests.get("history", []),
    )
    if weights:
        artifacts.add_weights(model_dir, weights)
    artifacts.write_json(model_dir / artifacts.META, meta)
    return {**figures, "version": meta["version"]}
