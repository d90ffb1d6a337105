"""graphrec: who-to-follow recommendations from a Neo4j follow graph and a NeuMF model."""

__version__ = "0.1.0"
