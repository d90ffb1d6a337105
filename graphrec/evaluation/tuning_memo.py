"""The settings the tuned baselines chose, kept beside a model so that a later ``evaluate``
on the same follows refits only the chosen setting instead of searching its grid again.

`graphrec train` evaluates at its end and `graphrec evaluate` repeats the same tuning: same
training follows, same validation follows (the model's), same seed, same grids. Each entry is
keyed by a digest of exactly those inputs, so a reused choice was made on the same data; when
the graph has changed since, the digest differs and the grid is searched again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphrec.files import write_text
from graphrec.model.sampling import pair_keys
from graphrec.model.splits import Split


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


class TuningMemo:
    """Per method, the outcome of its last grid search and the key of its inputs, read from
    and written to one JSON file (written whole, or not at all)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError):  # none yet, or unreadable: search again
            loaded = {}
        self.entries: dict[str, dict[str, Any]] = loaded if isinstance(loaded, dict) else {}
        self.changed = False

    def scope(self, train: Split, validation: Split, seed: int) -> TuningScope:
        """The entries that hold for these training follows, validation follows and seed."""
        matrix = train.train_matrix  # canonical: sorted indices, no duplicates
        held = pair_keys(validation.test_users, validation.test_items, train.n_ids)
        inputs = _digest(
            *(
                np.ascontiguousarray(part, np.int64).tobytes()
                for part in ([train.n_ids, seed], matrix.indptr, matrix.indices, np.sort(held))
            )
        )
        return TuningScope(self, inputs)

    def put(self, method: str, entry: dict[str, Any]) -> None:
        self.entries[method] = entry
        self.changed = True

    def save(self) -> None:
        if self.changed:
            write_text(self.path, json.dumps(self.entries, indent=2))
            self.changed = False


class TuningScope:
    """A :class:`TuningMemo` for one set of inputs: an entry holds when its method's grid and
    these inputs are the ones it was searched with."""

    def __init__(self, memo: TuningMemo, inputs: str) -> None:
        self.memo = memo
        self.inputs = inputs

    def _key(self, grid: Sequence[Mapping[str, Any]]) -> str:
        return _digest(self.inputs.encode(), json.dumps(list(grid), sort_keys=True).encode())

    def recall(self, method: str, grid: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        """The entry for ``method`` searched over ``grid`` on these inputs: its chosen
        setting ``params`` (one of ``grid``) and the figures of the ``grid`` it searched."""
        entry = self.memo.entries.get(method)
        if (
            isinstance(entry, dict)
            and entry.get("key") == self._key(grid)
            and entry.get("params") in grid
            and isinstance(entry.get("grid"), list)
        ):
            return entry
        return None

    def remember(
        self, method: str, grid: Sequence[Mapping[str, Any]], outcome: Mapping[str, Any]
    ) -> None:
        self.memo.put(method, {"key": self._key(grid), **outcome})
