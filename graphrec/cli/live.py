"""``graphrec follow``, ``unfollow``, ``block`` and ``dismiss``: one change to the graph as it
happens, counted by the next recommendation without retraining (graphrec.live)."""

from __future__ import annotations

from pathlib import Path

import click

from graphrec.cli.common import App, json_option, model_dir_option, pass_app
from graphrec.output import emit_json, render
from graphrec.paths import default_model_dir

uid_argument = click.argument("uid", type=int)
fid_argument = click.argument("fid", type=int)


def _show(rows: list[dict], as_json: bool) -> None:
    if as_json:
        emit_json(rows)
    else:  # uids are ids, not quantities: no thousands separators
        render([{**r, "uid": str(r["uid"]), "fid": str(r["fid"])} for r in rows], False)


@click.command()
@uid_argument
@fid_argument
@model_dir_option
@json_option
@pass_app
def follow(app: App, uid: int, fid: int, model_dir: Path | None, as_json: bool) -> None:
    """User UID follows account FID, now: both users are created if need be, and the follow
    gets its relation embedding at once when the model knows both (so it is in the vector
    index and in UID's next recommendations). Running it again changes nothing.

    \b
    Example:
        graphrec follow 42 17
    """
    from graphrec import live
    from graphrec.model.artifacts import WEIGHTS, require_model_dir
    from graphrec.model.scorer import NumpyScorer

    pairs = live.pairs_of([(uid, fid)])
    if model_dir is not None:  # asked for by name: it must hold a model
        require_model_dir(model_dir)
    where = model_dir or default_model_dir()
    scorer = NumpyScorer.load(where) if (where / WEIGHTS).exists() else None
    _show(live.follow(app.driver, pairs, scorer, app.database), as_json)


@click.command()
@uid_argument
@fid_argument
@json_option
@pass_app
def unfollow(app: App, uid: int, fid: int, as_json: bool) -> None:
    """User UID no longer follows account FID (its relation embedding goes with it).

    \b
    Example:
        graphrec unfollow 42 17
    """
    from graphrec import live

    _show(live.unfollow(app.driver, live.pairs_of([(uid, fid)]), app.database), as_json)


def _mark_command(kind: str, doc: str) -> click.Command:
    @click.command(name=kind, help=doc)
    @uid_argument
    @fid_argument
    @json_option
    @pass_app
    def command(app: App, uid: int, fid: int, as_json: bool) -> None:
        from graphrec import live

        rows = live.mark(app.driver, kind, live.pairs_of([(uid, fid)]), app.database)
        _show(rows, as_json)

    return command


block = _mark_command(
    "block",
    "User UID blocks account FID: it is never recommended to UID, nor proposed by any pool. "
    "Both must be in the graph.\n\n\b\nExample:\n    graphrec block 42 17",
)
dismiss = _mark_command(
    "dismiss",
    'User UID is "not interested" in account FID: it is never recommended to UID again. '
    "Stored in the graph as (UID)-[:DISMISSED]->(FID). Both must be in the graph.\n\n\b\n"
    "Example:\n    graphrec dismiss 42 17",
)

COMMANDS: list = [follow, unfollow, block, dismiss]
