"""``graphrec recommend`` and ``graphrec fit-ranker``: who to follow.

Keep this module light: it must not import TensorFlow, pandas or networkx (a fresh
``graphrec recommend`` should start in well under a second).
"""

from __future__ import annotations

import sys
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
from graphrec.output import emit_json, render, with_process_figures
from graphrec.paths import default_model_dir

if TYPE_CHECKING:
    from graphrec.recommend.service import Recommender

COLUMNS = ("rank", "uid", "score", "pools", "explanation")


def _import_neo4j_without_pandas() -> None:
    """The neo4j driver imports pandas (for Result.to_df) if it can, which costs a fresh
    ``graphrec recommend`` more than the rest of its start. Recommend never needs it, so in a
    fresh process the driver is imported with pandas hidden; pandas itself stays importable
    afterwards."""
    if "neo4j" in sys.modules or "pandas" in sys.modules:
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]  # makes `import pandas` fail
    try:
        import neo4j  # noqa: F401
    finally:
        del sys.modules["pandas"]


exclude_option = click.option(
    "--exclude",
    "exclude_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of uids (one per line) never to recommend.",
)


def open_recommender(app: App, model_dir: Path | None, optional_pools: dict) -> Recommender:
    """The Recommender of `recommend` and `why`: the model in ``model_dir`` (which must hold
    one when given), else the default model folder's, if any."""
    from graphrec.model.artifacts import require_model_dir
    from graphrec.recommend.pools import PoolConfig
    from graphrec.recommend.service import Recommender

    quiet_server_notifications()
    if model_dir is not None:  # asked for by name: it must hold a model
        require_model_dir(model_dir)
    return Recommender(
        app.driver,
        app.database,
        model_dir or default_model_dir(),
        PoolConfig(**optional_pools),
    )


@click.command()
@click.option("--user", "uid", type=int, help="The uid to recommend for.")
@click.option(
    "--users",
    "users_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Batch mode: a file with one uid per line (needs --out).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Batch mode: CSV to write (user,rank,uid,score,pools).",
)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many accounts to recommend.",
)
@model_dir_option
@click.option(
    "--strategy",
    type=click.Choice(["graph", "model"]),
    default="graph",
    show_default=True,
    help="graph: Cypher pools + NeuMF ranking; model: score every account the user "
    "does not follow (the reference's simple logic).",
)
@exclude_option
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Batch mode: parallel workers (each with its own Neo4j session).",
)
@optional_pools_option
@json_option
@silent_option
@pass_app
def recommend(
    app,
    uid,
    users_file,
    out,
    k,
    model_dir,
    strategy,
    exclude_file,
    workers,
    optional_pools,
    as_json,
    silent,
) -> None:
    """Recommend accounts to follow, with the reason for each.

    For one user prints rank, uid, score, the pools that proposed the account and an
    explanation; `--json` prints a list of {"rank", "uid", "score", "pools", "explanation"}.
    A user with no follows gets the most-followed accounts, labelled "popular".
    With --users FILE --out CSV, recommends for every uid in FILE (progress on stderr).

    \b
    Examples:
        graphrec recommend --user 42
        graphrec recommend --user 42 -k 10 --json
        graphrec recommend --users uids.txt --out recs.csv --workers 2
    """
    _import_neo4j_without_pandas()
    from graphrec.recommend.batch import read_uid_file, write_csv

    if (uid is None) == (users_file is None):
        raise click.UsageError("give exactly one of --user UID or --users FILE")
    if users_file is not None and out is None:
        raise click.UsageError("--users needs --out CSV")
    if uid is not None and out is not None:
        raise click.UsageError("--out is for batch mode (--users FILE)")
    exclude = read_uid_file(exclude_file) if exclude_file else []
    users = read_uid_file(users_file) if users_file else []
    recommender = open_recommender(app, model_dir, optional_pools)
    if uid is not None:
        recs = recommender.recommend(uid, k, strategy, exclude)
        rows = [r.to_dict() for r in recs]
        if as_json:
            emit_json(rows)
        else:  # uids are ids, not quantities: no thousands separators
            render([{**r, "uid": str(r["uid"])} for r in rows], False, COLUMNS)
        return
    summary = write_csv(recommender, users, out, k, strategy, exclude, workers, silent=silent)
    if as_json:
        emit_json(with_process_figures(summary))
    else:
        click.echo(
            f"{summary['users']:,} users, {summary['rows']:,} rows -> {summary['out']} "
            f"in {summary['seconds']:.1f}s ({summary['users_per_second']:,.1f} users/s, "
            f"{workers} workers)"
        )


@click.command("fit-ranker")
@model_dir_option
@click.option(
    "--users",
    "n_users",
    type=click.IntRange(10),
    default=500,
    show_default=True,
    help="Users sampled (one of the model's validation follows hidden each).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@optional_pools_option
@json_option
@silent_option
@pass_app
def fit_ranker_command(
    app, model_dir, n_users, seed, workers, optional_pools, as_json, silent
) -> None:
    """Fit the ranker that combines the NeuMF score with graph evidence (ranker.json).

    Hides one of the model's validation follows (kept out of training) for each sampled
    user, and the model's held-out test pairs, runs the pools on the rest of the graph,
    labels the candidates and fits a logistic regression; `graphrec recommend` then uses it
    for that model. The graph is restored afterwards.

    It also chooses the optional pools (two-tower, multi-interest) that `recommend` runs:
    a ranker fitted on half the users ranks the other half's hidden follows with and
    without each, and a pool is kept only where it finds more of them.

    \b
    Example:
        graphrec fit-ranker --users 1000
    """
    from graphrec.evaluation.ranker_fit import fit_ranker
    from graphrec.recommend.pools import PoolConfig

    quiet_server_notifications()
    result = fit_ranker(
        app.driver,
        app.database,
        model_dir or default_model_dir(),
        n_users=n_users,
        seed=seed,
        config=PoolConfig(**optional_pools),
        workers=workers,
        silent=silent,
    )
    if as_json:
        emit_json(with_process_figures(result))
    else:
        coefficients = result.pop("coefficients")
        render(result, False)
        click.echo("coefficients (standardised features):")
        render(coefficients, False)


COMMANDS: list = [recommend, fit_ranker_command]
