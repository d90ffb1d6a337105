"""Connection settings: CLI option > environment > the local server's state file > defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from graphrec.errors import GraphrecError
from graphrec.server.state import ports, read_state, server_home


@dataclass(frozen=True)
class Settings:
    uri: str
    user: str
    password: str | None = field(repr=False)
    database: str | None = None
    # how long a transaction is retried while Neo4j is unreachable or busy, before the command
    # gives up with an Error (GRAPHREC_NEO4J_RETRY_SECONDS)
    retry_seconds: float = 30.0


def resolve_settings(
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> Settings:
    """Build the settings one CLI invocation connects with. The password is never printed."""
    env = os.environ
    home = server_home().resolve()
    state = read_state(home)
    bolt_port, _ = ports(home, state)
    return Settings(
        uri=uri or env.get("NEO4J_URI") or f"bolt://127.0.0.1:{bolt_port}",
        user=user or env.get("NEO4J_USER") or state.get("user") or "neo4j",
        password=password or env.get("NEO4J_PASSWORD") or state.get("password"),
        database=database or env.get("NEO4J_DATABASE") or None,
        retry_seconds=_seconds("GRAPHREC_NEO4J_RETRY_SECONDS", 30.0),
    )


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if value < 0:
        raise GraphrecError(f"{name}: {text!r} is not a number of seconds")
    return value
