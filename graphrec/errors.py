"""The exceptions graphrec raises. The CLI turns every GraphrecError into one "Error: ..." line."""

from __future__ import annotations

from pathlib import Path


class GraphrecError(Exception):
    """Root of every error graphrec raises on purpose."""


class InputError(GraphrecError):
    """A follows file (or another input file) is unreadable or malformed."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class GraphUnavailable(GraphrecError):
    """Neo4j cannot be reached at the configured URI."""


class Deadlocked(GraphrecError):
    """Concurrent writes kept deadlocking on Neo4j's locks after the driver's retries."""


class AuthFailed(GraphrecError):
    """Neo4j refused the configured credentials."""


class ServerError(GraphrecError):
    """The local Neo4j server could not be installed, started or stopped."""


class UnknownQuery(GraphrecError):
    """A Cypher file name that does not exist under cypher/."""


class ModelNotFound(GraphrecError):
    """No trained model in the given model directory."""


class ModelUnreadable(GraphrecError):
    """A model directory's file is truncated, corrupt or not what graphrec wrote."""


class BadInput(GraphrecError):
    """Values a command or request cannot take (a self-follow, an id out of range)."""


class UnknownUser(GraphrecError):
    """A uid that is not in the graph."""


class StateConflict(GraphrecError):
    """The database is not in the state an operation needs (e.g. bulk into a non-empty one)."""
