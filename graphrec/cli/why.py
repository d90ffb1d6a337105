"""``graphrec why``: a user's recommendations and the follow paths behind them, as text, JSON,
a PNG or GraphML.

Keep this module light: networkx and matplotlib are imported inside the command only.
"""

from __future__ import annotations

from pathlib import Path

import click

from graphrec.cli.common import json_option, model_dir_option, optional_pools_option, pass_app
from graphrec.cli.recommend import exclude_option, open_recommender
from graphrec.output import emit_json


@click.command()
@click.option("--user", "uid", type=int, required=True, help="The uid to explain.")
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 50),
    default=10,
    show_default=True,
    help="How many recommendations to explain.",
)
@model_dir_option
@exclude_option
@optional_pools_option
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the picture into this PNG file.",
)
@click.option(
    "--graphml",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the graph as GraphML (Gephi, yEd, networkx) to this file.",
)
@json_option
@pass_app
def why(app, uid, k, model_dir, exclude_file, optional_pools, png, graphml, as_json) -> None:
    """Show why a user gets their recommendations: the follow paths behind each account.

    Runs the same pools and ranking as `graphrec recommend` and builds a small follow graph:
    the user, the accounts they follow that lie on a path to a recommendation, the accounts
    that proposed one (co-followers, similar followers), and the recommended accounts with
    their rank. Only the accounts on the most paths are shown, so the picture stays readable.

    Prints each recommendation with its paths ('you -> 17 -> 52'); `--json` prints the graph
    (nodes with role, uid, rank, score; edges with kind). `--png FILE` draws it, `--graphml
    FILE` writes it for Gephi, yEd or networkx.

    \b
    Examples:
        graphrec why --user 42
        graphrec why --user 42 -k 5 --png why.png
        graphrec why --user 42 --graphml why.graphml --json
    """
    from graphrec.recommend import why as why_graph
    from graphrec.recommend.batch import read_uid_file

    if png is not None or graphml is not None:
        from graphrec.recommend import picture

        for path in (png, graphml):
            if path is not None:
                picture.check_writable(path)
    exclude = read_uid_file(exclude_file) if exclude_file else []
    recommender = open_recommender(app, model_dir, optional_pools)
    user, reasons = why_graph.gather(recommender, uid, k, exclude)
    links = why_graph.links(app.driver, app.database, user, reasons)
    graph = why_graph.build(user.uid, user.follows, reasons, links)

    written = []
    if png is not None:
        picture.draw(graph, png)
        written.append(png)
    if graphml is not None:
        picture.write_graphml(graph, graphml)
        written.append(graphml)
    if as_json:
        emit_json(why_graph.as_dict(graph))
        return
    if not written:
        click.echo(why_graph.summary(graph))
        return
    counts = why_graph.role_counts(graph)
    shape = (
        f"{counts['recommended']} recommended, {counts['follows']} follows, "
        f"{counts['via']} via, {graph.number_of_edges()} edges"
    )
    for path in written:
        click.echo(f"wrote {path} ({shape})")


COMMANDS: list = [why]
