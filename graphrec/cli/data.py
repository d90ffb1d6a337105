"""``graphrec load|generate|stats|reset``: getting the follow graph in and looking at it."""

from __future__ import annotations

from pathlib import Path

import click

from graphrec.cli.common import App, json_option, pass_app, silent_option
from graphrec.output import key_values, render, table, with_process_figures


def _log(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Follows per write transaction.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Write sessions running batches at once.",
)
@click.option(
    "--bulk",
    is_flag=True,
    help="neo4j-admin import into an EMPTY local database (stops and restarts the server).",
)
@json_option
@silent_option
@pass_app
def load(
    app: App, path: Path, batch_size: int, workers: int, bulk: bool, as_json: bool, silent: bool
) -> None:
    """Load a follows file into Neo4j as (:User {uid})-[:FOLLOWS]->(:User).

    PATH is a `uid,fid` CSV (an extra `rank` column is ignored) or a headerless two-column
    edge list separated by commas or whitespace; `#` starts a comment; plain or gzip. The
    whole file is checked first: a bad line stops the load before anything is written.
    Self-follows and duplicate rows are dropped and counted. Loading again, or re-running an
    interrupted load, gives the same graph.

    \b
    Example:
        graphrec load follows.csv
        graphrec load big.edges.gz --bulk --json
    """
    from graphrec import loader
    from graphrec.io import clean, read_follows

    follows = clean(read_follows(path))
    if bulk:
        report = loader.bulk_load(
            app.settings, follows, silent=silent, log=(lambda m: None) if silent else _log
        )
    else:
        report = loader.load_follows(
            app.driver,
            follows,
            app.database,
            batch_size=batch_size,
            workers=workers,
            silent=silent,
        )
    if as_json:
        render(with_process_figures(report), True)
    else:
        keys = (
            "users",
            "follows",
            "skipped",
            "self_loops",
            "duplicates",
            "follows_created",
            "mode",
            "seconds",
        )
        render({k: report[k] for k in keys}, False)


@click.command()
@click.option("--users", type=click.IntRange(min=2), required=True, help="Number of users.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("follows.csv"),
    show_default=True,
    help="CSV to write (uid,fid).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--avg-follows",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="Average follows per user.",
)
@json_option
@silent_option
def generate(
    users: int, out: Path, seed: int, avg_follows: float, as_json: bool, silent: bool
) -> None:
    """Write a synthetic follow graph: heavy-tailed popularity, communities, follow-backs.

    The same --users, --seed and --avg-follows always give a byte-identical file.

    \b
    Example:
        graphrec generate --users 2000 --out follows.csv --seed 7
    """
    import numpy as np

    from graphrec.errors import InputError
    from graphrec.generate import generate_follows
    from graphrec.io import write_follows_csv
    from graphrec.numeric import reciprocity
    from graphrec.progress import Progress, Step

    with Step("drawing the graph", silent=silent):
        graph = generate_follows(users, seed=seed, avg_follows=avg_follows)
    try:
        with Progress(f"writing {out}", len(graph), "follows", silent=silent) as progress:
            write_follows_csv(out, graph.uid, graph.fid, progress)
    except OSError as e:
        raise InputError(out, None, f"cannot write file: {e.strerror or e}") from e
    in_degree = np.bincount(graph.fid, minlength=users + 1)
    summary = {
        "path": str(out),
        "users": users,
        "follows": len(graph),
        "seed": seed,
        "communities": int(graph.community.max()) + 1,
        "reciprocity": round(reciprocity(graph.uid, graph.fid), 4),
        "max_in_degree": int(in_degree.max()),
    }
    render(with_process_figures(summary) if as_json else summary, as_json)


@click.command()
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the most-followed accounts to list.",
)
@json_option
@pass_app
def stats(app: App, top: int, as_json: bool) -> None:
    """Users, follows, degree percentiles and the most-followed accounts in the database."""
    from graphrec.stats import PERCENTILES, graph_stats

    figures = graph_stats(app.driver, app.database, top=top)
    if as_json:
        render(with_process_figures(figures), True)
        return
    click.echo(key_values({"users": figures["users"], "follows": figures["follows"]}))
    click.echo()
    degree_rows = [
        {"degree": name, **{p: figures[f"{name}_degree"][p] for p in PERCENTILES}}
        for name in ("out", "in")
    ]
    click.echo(table(degree_rows, ["degree", *PERCENTILES]))
    if figures["top_accounts"]:
        click.echo()
        click.echo(table(figures["top_accounts"], ["uid", "followers"]))


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@silent_option
@pass_app
def reset(app: App, yes: bool, as_json: bool, silent: bool) -> None:
    """Delete every user, follow, index and constraint graphrec wrote to the database."""
    from graphrec import store
    from graphrec.loader import graph_counts

    before = graph_counts(app.driver, app.database)
    if not yes:
        click.confirm(
            f"Delete {before['users']:,} users and {before['follows']:,} follows, and graphrec's "
            f"indexes, from {app.settings.uri}?",
            abort=True,
            err=True,
        )
    store.reset_graph(app.driver, app.database, silent=silent)
    render({"deleted_users": before["users"], "deleted_follows": before["follows"]}, as_json)


COMMANDS: list = [load, generate, stats, reset]
