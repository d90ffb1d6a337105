"""Connection settings: CLI option > environment > the local server's state file > defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from graphrec.server.process import LocalServer, read_state


@dataclass(frozen=True)
class Settings:
    uri: str
    user: str
    password: str | None = field(repr=False)
    database: str | None = None


def resolve_settings(
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> Settings:
    """Build the settings one CLI invocation connects with. The password is never printed."""
    env = os.environ
    server = LocalServer.from_env()
    state = read_state(server.home)
    return Settings(
        uri=uri or env.get("NEO4J_URI") or server.bolt_uri,
        user=user or env.get("NEO4J_USER") or state.get("user") or "neo4j",
        password=password or env.get("NEO4J_PASSWORD") or state.get("password"),
        database=database or env.get("NEO4J_DATABASE") or None,
    )
