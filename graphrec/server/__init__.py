"""The local Neo4j server: obtained from Maven Central (``distribution``), configured for
loopback and run from here (``process``), and the state it leaves (``state``). Import the
submodule you need: connection settings read ``state`` without loading process management."""
