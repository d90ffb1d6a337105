"""``graphrec serve``: the HTTP JSON API (graphrec.api) on uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

import click

from graphrec.cli.common import App, model_dir_option, pass_app

# a request during a Neo4j outage answers 503 after this long, not after a command's retry time
SERVE_RETRY_SECONDS = "1"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@model_dir_option
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each with its own driver and model; metrics are per process).",
)
@pass_app
def serve(app: App, host: str, port: int, model_dir: Path | None, workers: int) -> None:
    """Serve recommendations, live follows and feedback over HTTP (JSON; schema at
    /openapi.json).

    Binds to loopback unless --host says otherwise. When GRAPHREC_API_KEY is set, every
    request must carry it in the X-API-Key header. A model that `train` or `fit-ranker`
    writes into the model folder is picked up without a restart.

    \b
    Example:
        graphrec serve --port 8000
        curl 'http://127.0.0.1:8000/users/42/recommendations?k=5'
    """
    import uvicorn

    # the workers read their settings as every command does: from the environment
    settings = app.settings
    os.environ["NEO4J_URI"] = settings.uri
    os.environ["NEO4J_USER"] = settings.user
    if settings.password:
        os.environ["NEO4J_PASSWORD"] = settings.password
    if settings.database:
        os.environ["NEO4J_DATABASE"] = settings.database
    if model_dir is not None:
        from graphrec.model.artifacts import require_model_dir

        require_model_dir(model_dir)
        os.environ["GRAPHREC_MODEL_DIR"] = str(model_dir.absolute())  # the link, not its target
    os.environ.setdefault("GRAPHREC_NEO4J_RETRY_SECONDS", SERVE_RETRY_SECONDS)
    app.driver  # noqa: B018  (Neo4j must answer before the server says it is up)
    click.echo(f"graphrec serving on http://{host}:{port} (Ctrl-C stops)", err=True)
    uvicorn.run(
        "graphrec.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
    )


COMMANDS: list = [serve]
