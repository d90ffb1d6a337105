"""Requests for recommendations that arrive while others are being answered are answered
together, as one group (``Recommender.recommend_many``).

A group reads its users' follows and first pools in one query per pool; for a light user a
query of its own costs Neo4j and the driver more than the query's work (docs/recommend.md,
"Batch mode"). A request that finds the server idle is answered alone, at once, exactly as
``Recommender.recommend`` would. Under load the requests queue anyway; the threads that wait
take turns answering the oldest waiting requests, at most ``runners`` groups at a time (one
can rank while another waits on Neo4j), and each returns as soon as its own request is done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from graphrec.errors import UnknownUser
from graphrec.recommend.service import GROUP, Recommendation, Recommender


@dataclass(eq=False)
class _Ask:
    recommender: Recommender
    uid: int
    k: int
    strategy: str
    result: list[Recommendation] | None = None
    error: BaseException | None = None
    done: bool = False

    @property
    def kind(self) -> tuple[int, int, str]:
        """Requests of one kind can be answered together: the same model, k and strategy."""
        return id(self.recommender), self.k, self.strategy


class RequestGroups:
    def __init__(self, runners: int = 2, size: int = GROUP) -> None:
        self.runners, self.size = runners, size
        self._changed = threading.Condition()
        self._waiting: list[_Ask] = []
        self._running = 0

    @property
    def waiting(self) -> int:
        """Requests not yet taken into a group."""
        with self._changed:
            return len(self._waiting)

    def recommend(
        self, recommender: Recommender, uid: int, k: int = 20, strategy: str = "graph"
    ) -> list[Recommendation]:
        """What ``recommender.recommend(uid, k, strategy)`` returns (or raises)."""
        ask = _Ask(recommender, int(uid), k, strategy)
        with self._changed:
            self._waiting.append(ask)
            while not ask.done:
                if self._waiting and self._running < self.runners:
                    self._running += 1
                    group = self._take()
                    self._changed.release()  # others queue meanwhile
                    try:
                        _answer(group)
                    finally:
                        self._changed.acquire()
                        self._running -= 1
                        for one in group:
                            one.done = True
                        self._changed.notify_all()
                else:
                    self._changed.wait()
        if ask.error is not None:
            raise ask.error
        return ask.result or []

    def _take(self) -> list[_Ask]:
        """The oldest waiting request and the next ones it can be answered with."""
        first = self._waiting[0]
        group = [a for a in self._waiting if a.kind == first.kind][: self.size]
        taken = set(map(id, group))
        self._waiting = [a for a in self._waiting if id(a) not in taken]
        return group


def _answer(group: list[_Ask]) -> None:
    """Every request of ``group`` gets its result or its error."""
    first = group[0]
    try:
        if len(group) == 1:
            first.result = first.recommender.recommend(first.uid, first.k, first.strategy)
            return
        answers = first.recommender.recommend_many([a.uid for a in group], first.k, first.strategy)
        for ask, (_, recs) in zip(group, answers, strict=True):
            if recs is None:
                ask.error = UnknownUser(f"user {ask.uid} is not in the graph")
            else:
                ask.result = recs
    except BaseException as e:  # a query failed (Neo4j gone): every request of the group
        for ask in group:
            if ask.result is None and ask.error is None:
                ask.error = e
