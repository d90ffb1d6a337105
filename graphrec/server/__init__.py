"""The local Neo4j server: obtained from Maven Central, configured for loopback, run from here."""

from graphrec.server.distribution import NEO4J_VERSION, ensure_distribution
from graphrec.server.process import LocalServer, read_state

__all__ = ["NEO4J_VERSION", "LocalServer", "ensure_distribution", "read_state"]
