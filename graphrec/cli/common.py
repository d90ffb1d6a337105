"""What every command shares: the app context (lazy driver), output options, error boundary."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from graphrec.errors import GraphrecError
from graphrec.settings import Settings


def quiet_server_notifications() -> None:
    """Neo4j warns about labels and properties that do not exist yet (BLOCKS, User.active):
    expected for optional filters, and not news for the user's terminal."""
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class App:
    """Per-invocation state: settings, and a driver opened on first use, closed on exit."""

    settings: Settings
    ctx: click.Context
    _driver: Any = field(default=None, repr=False)

    @property
    def driver(self):
        if self._driver is None:
            from graphrec.store import open_driver

            self._driver = open_driver(self.settings)
            self.ctx.call_on_close(self._driver.close)
        return self._driver

    @property
    def database(self) -> str | None:
        return self.settings.database


pass_app = click.make_pass_decorator(App)


def json_option(f: Callable) -> Callable:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table."
    )(f)


def model_dir_option(f: Callable) -> Callable:
    return click.option(
        "--model-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Trained model directory [default: $GRAPHREC_MODEL_DIR or models/default].",
    )(f)


def silent_option(f: Callable) -> Callable:
    return click.option("--silent", is_flag=True, help="No progress output on stderr.")(f)


class GraphrecGroup(click.Group):
    """A group that turns GraphrecError into 'Error: ...' and exit code 1, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GraphrecError as e:
            raise click.ClickException(str(e)) from e


def handles_errors(f: Callable) -> Callable:
    """For commands run outside the root group (tests may invoke a command directly)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except GraphrecError as e:
            raise click.ClickException(str(e)) from e

    return wrapper


def optional_pools_option(f: Callable) -> Callable:
    """``--similar-relations-pool``, ``--two-tower-pool`` and ``--multi-interest-pool``, passed
    on as ``optional_pools``: {pool: on} for each one given; the others run as `fit-ranker`
    chose on validation follows."""

    @functools.wraps(f)
    def wrapper(
        *args: Any,
        similar_relations_pool: bool | None,
        two_tower_pool: bool | None,
        multi_interest_pool: bool | None,
        **kw: Any,
    ) -> Any:
        given = {
            "similar_relations": similar_relations_pool,
            "two_tower": two_tower_pool,
            "multi_interest": multi_interest_pool,
        }
        pools = {pool: on for pool, on in given.items() if on is not None}
        return f(*args, optional_pools=pools, **kw)

    for name, what in (
        ("multi-interest", "nearest to the multi-interest model's interests (account index)"),
        ("two-tower", "nearest to the two-tower model's user vector (account index)"),
        ("similar-relations", "through the relation vector index (pool 1)"),
    ):
        wrapper = click.option(
            f"--{name}-pool/--no-{name}-pool",
            default=None,
            help=f"Take candidates {what}, or not "
            "[default: as `graphrec fit-ranker` chose on validation follows].",
        )(wrapper)
    return wrapper
