"""What the API's requests share: the driver, and the Recommender of the current model.

`train` publishes a model by pointing the model folder's link at a new version, and
`fit-ranker` rewrites ranker.json inside it: either changes the folder's fingerprint, which
``Serving.recommender`` checks at most every ``check_seconds``, on a thread of its own
(``reload`` checks at once). The new Recommender is built beside the old one and swapped in
with one assignment, so a request in flight finishes on the model it started with and no
request waits or fails. A model that
cannot be read is reported and the old one kept.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import neo4j

from graphrec.api.grouping import RequestGroups
from graphrec.errors import GraphrecError
from graphrec.model.artifacts import META, RANKER
from graphrec.recommend.service import Recommendation, Recommender

log = logging.getLogger("graphrec.api")


def _fingerprint(model_dir: Path) -> tuple:
    """Where the model folder points now, and when its metadata and ranker last changed."""
    real = os.path.realpath(model_dir)
    stamps: list[int | None] = []
    for name in (META, RANKER):
        try:
            stamps.append(os.stat(os.path.join(real, name)).st_mtime_ns)
        except OSError:
            stamps.append(None)
    return (real, *stamps)


class Serving:
    def __init__(
        self,
        driver: neo4j.Driver,
        database: str | None,
        model_dir: Path,
        check_seconds: float = 2.0,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self.driver, self.database, self.model_dir = driver, database, Path(model_dir)
        self.check_seconds = check_seconds
        self.observe = observe
        self._lock = threading.Lock()
        self._seen = _fingerprint(self.model_dir)
        self._current = self._open()
        self._checked = time.monotonic()
        self._groups = RequestGroups()

    def _open(self) -> Recommender:
        return Recommender(self.driver, self.database, self.model_dir, observe=self.observe)

    @property
    def model_version(self) -> str | None:
        scorer = self._current.scorer
        return scorer.version if scorer is not None else None

    def recommender(self) -> Recommender:
        """The current Recommender. When a look for a new model is due, it runs on a thread
        of its own: no request waits for a model to load."""
        if time.monotonic() - self._checked > self.check_seconds and not self._lock.locked():
            self._checked = time.monotonic()
            threading.Thread(target=self.reload, name="graphrec-reload", daemon=True).start()
        return self._current

    def recommend(
        self, uid: int, k: int, strategy: str
    ) -> tuple[Recommender, list[Recommendation]]:
        """The current Recommender and its recommendations for ``uid``, answered together
        with the requests that wait beside it (graphrec.api.grouping)."""
        recommender = self.recommender()
        return recommender, self._groups.recommend(recommender, uid, k, strategy)

    def reload(self) -> bool:
        """Switch to the model folder's current model if it changed; whether it did."""
        with self._lock:
            self._checked = time.monotonic()
            seen = _fingerprint(self.model_dir)
            if seen == self._seen:
                return False
            try:
                fresh = self._open()
            except GraphrecError as e:  # half-written by hand, or damaged: keep serving
                log.warning("model in %s not reloaded: %s", self.model_dir, e)
                return False
            if fresh.scorer is None and self._current.scorer is not None:
                log.warning("no model in %s any more: still serving the last one", self.model_dir)
                return False
            self._current, self._seen = fresh, seen
            log.info("serving model %s", self.model_version)
            return True
