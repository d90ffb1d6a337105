"""``graphrec train|evaluate|embed``: the NeuMF model.

TensorFlow is imported only inside ``train``'s body; ``evaluate`` and ``embed`` use numpy.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from graphrec.cli.common import (
    App,
    json_option,
    model_dir_option,
    optional_pools_option,
    pass_app,
    quiet_server_notifications,
    silent_option,
)
from graphrec.errors import GraphrecError
from graphrec.output import emit_json, key_values, table, with_process_figures
from graphrec.paths import default_model_dir

if TYPE_CHECKING:  # numpy's import shows in every `graphrec` start: import it where used
    import numpy as np

METRIC_COLUMNS = [
    "method",
    "hr@10",
    "ndcg@10",
    "hr@50",
    "ndcg@50",
    "ncf_hr@10",
    "ncf_ndcg@10",
    "users",
]


def _follows(app: App, from_csv: Path | None, silent: bool) -> tuple[np.ndarray, np.ndarray]:
    """The follows of ``from_csv``, or of the graph; training from a file never imports the
    Neo4j driver."""
    if from_csv is not None:
        from graphrec.io import read_follow_arrays

        return read_follow_arrays(from_csv)
    from graphrec.graph import fetch_follows

    src, dst = fetch_follows(app.driver, app.database, silent=silent)
    if src.size == 0:
        raise GraphrecError("no follows in the graph; load some first (`graphrec load FILE`)")
    return src, dst


def _evaluate(
    model_dir: Path,
    src: np.ndarray,
    dst: np.ndarray,
    n_users: int,
    seed: int,
    silent: bool = True,
) -> dict:
    from graphrec.evaluation.offline import evaluate_model
    from graphrec.evaluation.tuning_memo import TuningMemo
    from graphrec.model.artifacts import (
        BASELINE_TUNING,
        HOLDOUT,
        VALIDATION,
        read_pairs,
        require_model_dir,
    )
    from graphrec.model.scorer import NumpyScorer
    from graphrec.model.splits import split_from_holdout

    path = require_model_dir(model_dir)
    if not (path / HOLDOUT).exists():
        raise GraphrecError(
            f"the model in {path} was trained without a hold-out (--no-holdout), so every "
            "follow is one it has seen; train with the default hold-out to evaluate it"
        )
    scorer = NumpyScorer.load(path)
    held = read_pairs(path, HOLDOUT)
    split = split_from_holdout(scorer.uids, src, dst, held[:, 0], held[:, 1])
    if split.test_users.size == 0:
        raise GraphrecError("no held-out follows to evaluate (no user has 3 or more follows)")
    pairs = read_pairs(path, VALIDATION)  # NeuMF validated on them; the baselines tune on them
    validation = (pairs[:, 0], pairs[:, 1]) if len(pairs) else None
    memo = TuningMemo(path / BASELINE_TUNING)
    metrics = evaluate_model(
        scorer,
        split,
        n_users=n_users,
        seed=seed,
        validation_pairs=validation,
        silent=silent,
        memo=memo,
    )
    memo.save()
    return metrics


def _metric_rows(metrics: dict) -> list[dict]:
    return [{"method": name, **figures} for name, figures in metrics.items()]


def _save_metrics(model_dir: Path, metrics: dict) -> None:
    from graphrec.model.artifacts import METRICS, write_json

    write_json(model_dir / METRICS, metrics)


@click.command()
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help="Maximum epochs of NeuMF [default: 20], and at most of the two-tower and "
    "multi-interest models [their own default: 10].",
)
@model_dir_option
@click.option(
    "--from-csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Train from a follows.csv instead of the graph in Neo4j.",
)
@click.option("--no-holdout", is_flag=True, help="Train on every follow (no evaluation).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Examples per step [default: large; on a small graph, where that leaves an epoch "
    "few steps, a smaller batch or the large one, whichever the validation follows prefer].",
)
@click.option("--negatives", type=click.IntRange(min=1), help="Negatives per follow.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), help="Adam rate.")
@click.option(
    "--early-stopping",
    type=click.Choice(["ranking", "loss"]),
    help="Keep the epoch with the best validation HR@10 estimate (default) or loss.",
)
@click.option(
    "--latent-dim",
    type=click.IntRange(min=1),
    help="GMF and MLP embedding size, instead of choosing one on the validation "
    "follows; the relation embedding is this plus the last MLP layer wide.",
)
@click.option(
    "--pretrain-epochs",
    type=click.IntRange(min=0),
    help="Pre-train GMF and MLP alone this many epochs each, then start NeuMF "
    "from them (NCF paper) [default: 0, no pre-training].",
)
@click.option(
    "--tie",
    type=click.Choice(["auto", "none", "gmf", "mlp", "both"]),
    help="One embedding table per tower for a uid as follower and as followed "
    "account. auto (default): tie both towers when at least half of the "
    "follows are followed back, else none.",
)
@click.option(
    "--optimizer",
    type=click.Choice(["auto", "adam", "lazy-adam"]),
    help="NeuMF's optimizer: Keras's Adam updates every row of the embedding tables at "
    "each step, lazy Adam only the rows the batch looked up. auto (default): lazy Adam on "
    "graphs with many uids, where the whole-table update would dominate a step.",
)
@click.option(
    "--eval-users",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Users sampled for the evaluation after training.",
)
@click.option(
    "--search/--no-search",
    default=True,
    show_default=True,
    help="Choose the embedding size and learning rate on the validation follows "
    "(off when --latent-dim or --learning-rate is given).",
)
@click.option(
    "--two-tower/--no-two-tower",
    "two_tower",
    default=True,
    show_default=True,
    help="Also train the two-tower retrieval model (a ranker feature, and the two_tower pool).",
)
@click.option(
    "--multi-interest/--no-multi-interest",
    "multi_interest",
    default=True,
    show_default=True,
    help="Also train the multi-interest model over the two-tower account vectors (a ranker "
    "feature, and the multi_interest pool).",
)
@click.option(
    "--write-embeddings/--no-write-embeddings",
    default=None,
    help="Run `graphrec embed` afterwards [default: on when training from the graph].",
)
@click.option(
    "--fit-ranker/--no-fit-ranker",
    "fit_ranker",
    default=True,
    show_default=True,
    help="Fit the ranker afterwards (needs the embeddings written).",
)
@click.option(
    "--ranker-users",
    type=click.IntRange(min=10),
    default=500,
    show_default=True,
    help="Users the ranker is fitted on.",
)
@json_option
@silent_option
@pass_app
def train(
    app: App,
    epochs,
    model_dir,
    from_csv,
    no_holdout,
    batch_size,
    negatives,
    learning_rate,
    early_stopping,
    latent_dim,
    pretrain_epochs,
    tie,
    optimizer,
    eval_users,
    search,
    two_tower,
    multi_interest,
    write_embeddings,
    fit_ranker,
    ranker_users,
    as_json,
    silent,
) -> None:
    """Train NeuMF on the follow graph and evaluate it on held-out follows.

    By default one follow of every user with 3 or more follows is held out (saved in the
    model dir), the embedding size and learning rate are chosen on validation follows, and
    the model is then evaluated against the baselines; the figures go to metrics.json.
    Trained from the graph, it then writes the relation embeddings and fits the ranker, so
    `graphrec recommend` is ready to use.

    \b
    Example:
        graphrec train --epochs 10 --model-dir models/demo --json
    """
    from graphrec.model.artifacts import NeuMFConfig
    from graphrec.model.train_worker import train_in_worker

    model_dir = model_dir or default_model_dir()
    overrides = {
        "epochs": epochs,
        "batch_size": batch_size,
        "negatives": negatives,
        "learning_rate": learning_rate,
        "early_stopping": early_stopping,
        "tie": tie,
        "optimizer": optimizer and optimizer.replace("-", "_"),
        "pretrain_epochs": pretrain_epochs,
        "latent_dim": latent_dim,
        "two_tower": two_tower,
        "multi_interest": multi_interest,
    }
    config = dataclasses.replace(
        NeuMFConfig(), **{k: v for k, v in overrides.items() if v is not None}
    )
    if not search or latent_dim is not None or learning_rate is not None:
        config = dataclasses.replace(config, search=())
    if write_embeddings is None:
        write_embeddings = from_csv is None
    src, dst = _follows(app, from_csv, silent)
    try:
        figures = train_in_worker(
            src, dst, model_dir, config, holdout=not no_holdout, silent=silent
        )
    except ValueError as e:
        raise GraphrecError(f"training failed: {e}") from e
    result: dict = {**figures}
    if not no_holdout and figures.get("held_out", 1) == 0:
        click.echo("No user has 3 or more follows: nothing held out, no evaluation.", err=True)
    elif not no_holdout:
        evaluate_started = time.perf_counter()
        metrics = _evaluate(Path(model_dir), src, dst, eval_users, config.seed, silent)
        _save_metrics(Path(model_dir), metrics)
        result["metrics"] = metrics
        result["evaluate_seconds"] = round(time.perf_counter() - evaluate_started, 3)
    if write_embeddings:
        from graphrec.account_vectors import write_account_vectors
        from graphrec.embed import write_embeddings as write
        from graphrec.model.scorer import NumpyScorer

        scorer = NumpyScorer.load(model_dir)
        result["embeddings"] = write(app.driver, scorer, app.database, silent=silent)
        result["account_vectors"] = write_account_vectors(
            app.driver, scorer, app.database, silent=silent
        )
    if fit_ranker and write_embeddings:
        from graphrec.evaluation.ranker_fit import fit_ranker as fit

        quiet_server_notifications()
        result["ranker"] = fit(
            app.driver, app.database, model_dir, n_users=ranker_users, silent=silent
        )
    elif fit_ranker and not silent:
        click.echo(
            "No ranker fitted (the embeddings were not written): run `graphrec embed`, "
            "then `graphrec fit-ranker`.",
            err=True,
        )
    if as_json:
        emit_json(with_process_figures(result))
        return
    click.echo(key_values({k: v for k, v in result.items() if not isinstance(v, dict | list)}))
    if "metrics" in result:
        click.echo()
        click.echo(table(_metric_rows(result["metrics"]), METRIC_COLUMNS))
    if "embeddings" in result:
        click.echo()
        click.echo(key_values(result["embeddings"]))
    if "ranker" in result:
        click.echo()
        click.echo(
            key_values({k: v for k, v in result["ranker"].items() if not isinstance(v, dict)})
        )


@click.command()
@model_dir_option
@click.option(
    "--users",
    "n_users",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Held-out users to rank for.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Sampling seed.")
@click.option(
    "--from-csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the follows from a follows.csv instead of Neo4j.",
)
@click.option("--pipeline", is_flag=True, help="Also evaluate the recommend pipeline (Neo4j).")
@optional_pools_option
@json_option
@silent_option
@pass_app
def evaluate(
    app: App, model_dir, n_users, seed, from_csv, pipeline, optional_pools, as_json, silent
) -> None:
    """Rank held-out follows with NeuMF and the baselines: HR@10, NDCG@10, HR@50, ...

    Full ranking against every account the user does not follow, plus the NCF-paper
    protocol (held-out account vs 99 sampled non-follows). Same users for every method.

    \b
    Example:
        graphrec evaluate --model-dir models/demo --users 500 --json
    """
    from graphrec.model.artifacts import require_model_dir

    model_dir = require_model_dir(model_dir or default_model_dir())
    src, dst = _follows(app, from_csv, silent)
    metrics = _evaluate(model_dir, src, dst, n_users, seed, silent)
    if pipeline:
        from graphrec.evaluation.pipeline import evaluate_pipeline
        from graphrec.recommend.pools import PoolConfig

        metrics.update(
            evaluate_pipeline(
                app.driver,
                app.database,
                model_dir,
                n_users,
                seed,
                PoolConfig(**optional_pools),
                silent=silent,
            )
        )
        if not metrics["pipeline"].get("ranker"):
            click.echo(
                "Warning: this model has no fitted ranker, so the pipeline was ranked by "
                "NeuMF alone and its figures understate it; run `graphrec fit-ranker` "
                "(`graphrec train` does by default).",
                err=True,
            )
    _save_metrics(model_dir, metrics)
    if as_json:
        emit_json(with_process_figures(metrics))
    else:
        click.echo(table(_metric_rows(metrics), METRIC_COLUMNS))
        neumf = metrics.get("neumf", {})
        if "precision" in neumf:
            click.echo()
            click.echo("NeuMF at 0.5 (held-out follows + 4 sampled non-follows each):")
            click.echo(key_values({k: neumf[k] for k in ("precision", "recall", "f1", "accuracy")}))


@click.command()
@model_dir_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Relationships per write transaction.",
)
@click.option(
    "--status",
    "status_only",
    is_flag=True,
    help="Only say whether the stored embeddings are fresh or stale.",
)
@click.option(
    "--rebuild-index/--keep-index",
    default=None,
    help="Drop the vector index, write, then build it once (faster writes and a faster "
    "index; recommend runs without pool 1 until it is back), or keep it up and update it "
    "row by row.  [default: rebuild when more than half the follows are written]",
)
@click.option(
    "--full",
    is_flag=True,
    help="Rewrite every embedding, not only the missing ones and those of another model.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the vector index to be built (progress on stderr), or return while it "
    "builds (`graphrec embed --status` shows how far it has got).",
)
@json_option
@silent_option
@pass_app
def embed(
    app: App, model_dir, batch_size, status_only, rebuild_index, full, wait, as_json, silent
) -> None:
    """Store each FOLLOWS' relation embedding as r.embedding and index it (cosine).

    Writes only what is missing: follows loaded since the last embed, or every follow after
    a retrain (their vectors come from another model). --full rewrites them all.

    \b
    Example:
        graphrec embed --model-dir models/demo
        graphrec embed --status
    """
    from graphrec.account_vectors import account_status, write_account_vectors
    from graphrec.embed import embedding_status, write_embeddings
    from graphrec.model.scorer import NumpyScorer

    scorer = NumpyScorer.load(model_dir or default_model_dir())
    if status_only:
        result = embedding_status(app.driver, scorer, app.database)
        if scorer.towers is not None:
            result.update(account_status(app.driver, scorer, app.database))
    else:
        result = write_embeddings(
            app.driver,
            scorer,
            app.database,
            batch_size=batch_size,
            silent=silent,
            rebuild_index=rebuild_index,
            full=full,
            wait=wait,
        )
        accounts = write_account_vectors(app.driver, scorer, app.database, silent=silent, wait=wait)
        if accounts is not None:
            result["accounts_written"] = accounts["written"]
            result["account_index_state"] = accounts["index_state"]
        if not wait and result.get("index_state") != "ONLINE" and not silent:
            click.echo(
                "The vector index is still building; `graphrec embed --status` shows how far "
                "it has got. Recommendations use pool 1 once it is ONLINE.",
                err=True,
            )
    if as_json:
        emit_json(with_process_figures(result))
    else:
        click.echo(key_values(result))


COMMANDS: list = [train, evaluate, embed]
