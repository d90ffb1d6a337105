"""The ``graphrec`` command line. Commands live in one module per area; this file wires them.

Keep heavy imports (TensorFlow, pandas) inside command bodies so ``graphrec --help`` and
``graphrec recommend`` start fast.
"""

from __future__ import annotations

import logging

import click

from graphrec import __version__
from graphrec.cli.common import CONTEXT_SETTINGS, App, GraphrecGroup
from graphrec.settings import resolve_settings


@click.group(cls=GraphrecGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="graphrec")
@click.option("--uri", envvar="NEO4J_URI", help="Bolt URI [env NEO4J_URI; default: local server].")
@click.option("--user", envvar="NEO4J_USER", help="Neo4j user [env NEO4J_USER; default neo4j].")
@click.option(
    "--password",
    envvar="NEO4J_PASSWORD",
    show_envvar=False,
    help="Neo4j password [env NEO4J_PASSWORD; default: the local server's state file].",
)
@click.option("--database", envvar="NEO4J_DATABASE", help="Database name [default: server's].")
@click.pass_context
def cli(ctx: click.Context, uri, user, password, database) -> None:
    """Who-to-follow recommendations from a Neo4j follow graph and a NeuMF model.

    \b
    Typical session:
        graphrec neo4j start
        graphrec generate --users 2000 --out follows.csv
        graphrec load follows.csv
        graphrec train
        graphrec recommend --user 42
    """
    # The driver logs what it then raises (a lost connection, a deadlock it retries, with the
    # whole lock dump): a failure reaches the user once, as graphrec's own Error line.
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    if ctx.get_parameter_source("password") is click.core.ParameterSource.COMMANDLINE:
        click.echo(
            "Warning: --password is visible to other local users (in the process list); "
            "prefer NEO4J_PASSWORD or the local server's state file.",
            err=True,
        )
    ctx.obj = App(resolve_settings(uri, user, password, database), ctx)


def _register() -> None:
    from graphrec.cli import data, live, model, recommend, serve, server, why

    cli.add_command(server.neo4j)
    for area in (data, model, recommend, live, serve, why):
        for command in area.COMMANDS:
            cli.add_command(command)


_register()
