"""Where the local server lives and what it left behind (``state.json``, mode 0600: ports,
pid, and the generated password when ``NEO4J_PASSWORD`` was not given). Reading it needs no
process management, so connection settings use this module alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

from graphrec.errors import ServerError
from graphrec.files import write_text
from graphrec.paths import graphrec_home

STATE_FILE = "state.json"
DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474


def server_home(home: str | Path | None = None) -> Path:
    """The server's folder: ``home``, else GRAPHREC_SERVER_DIR, else GRAPHREC_HOME/server."""
    return Path(home or os.environ.get("GRAPHREC_SERVER_DIR") or graphrec_home() / "server")


def read_state(home: Path) -> dict:
    """The server's state file as a dict ({} when there is none)."""
    path = home / STATE_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ServerError(f"{path}: unreadable server state ({e})") from e


def write_state(home: Path, state: dict) -> None:
    """Replace the state file whole, readable by its owner only (it may hold the password)."""
    write_text(home / STATE_FILE, json.dumps(state, indent=2), mode=0o600)


def ports(home: Path, state: dict | None = None) -> tuple[int, int]:
    """(bolt, http): GRAPHREC_BOLT_PORT / GRAPHREC_HTTP_PORT, else the state file's, else
    Neo4j's defaults."""
    state = read_state(home) if state is None else state
    env = os.environ
    bolt = env.get("GRAPHREC_BOLT_PORT") or state.get("bolt_port", DEFAULT_BOLT_PORT)
    http = env.get("GRAPHREC_HTTP_PORT") or state.get("http_port", DEFAULT_HTTP_PORT)
    return int(bolt), int(http)
