"""Where graphrec keeps its local files.

Everything graphrec writes on its own (the Neo4j distribution, the local server's data and its
0600 password file) lives under one ignored folder, ``GRAPHREC_HOME``. In a source checkout it
defaults to ``.graphrec/`` beside ``pyproject.toml``; in an installed package, to
``~/.graphrec``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def graphrec_home() -> Path:
    env = os.environ.get("GRAPHREC_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / ".graphrec"
    return Path.home() / ".graphrec"


def cypher_dir() -> Path:
    env = os.environ.get("GRAPHREC_CYPHER_DIR")
    return Path(env) if env else PROJECT_ROOT / "cypher"


def default_model_dir() -> Path:
    """The default ``--model-dir``: ``$GRAPHREC_MODEL_DIR`` or ``models/default`` in the cwd."""
    return Path(os.environ.get("GRAPHREC_MODEL_DIR", "models/default"))
