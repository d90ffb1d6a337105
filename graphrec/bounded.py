"""Work on a few threads with a bounded queue: the one submit-and-wait loop of the loader and
of embed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_bounded(
    fn: Callable[[Item], Result], items: Iterable[Item], workers: int, ahead: int = 2
) -> Iterator[tuple[Item, Result]]:
    """``(item, fn(item))`` for every item, in the order they finish, ``fn`` running on
    ``workers`` threads.

    ``items`` is consumed lazily: at most ``ahead`` x ``workers`` of them are submitted and
    not yet finished, so memory holds a few batches, never the whole input. The first error
    cancels what has not started and is raised once running calls end.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: dict[Future[Result], Item] = {}
        try:
            for item in items:
                while len(pending) >= ahead * workers:
                    yield from _finished(pending)
                pending[pool.submit(fn, item)] = item
            while pending:
                yield from _finished(pending)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def map_bounded_retrying(
    fn: Callable[[Item], Result],
    items: Iterable[Item],
    workers: int,
    again_alone: type[Exception],
) -> Iterator[tuple[Item, Result]]:
    """``map_bounded``, except that an item whose ``fn`` raised ``again_alone`` is run once
    more after all the others, on its own: for writes that failed only because they ran at the
    same time as another (a deadlock), which cannot happen to one write alone."""
    failed: list[Item] = []

    def attempt(item: Item) -> tuple[bool, Result | None]:
        try:
            return True, fn(item)
        except again_alone:
            failed.append(item)
            return False, None

    for item, (done, result) in map_bounded(attempt, items, workers):
        if done:
            yield item, result  # type: ignore[misc]
    for item in failed:
        yield item, fn(item)


def _finished(pending: dict[Future, Item]) -> Iterator[tuple[Item, Result]]:
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        yield pending.pop(future), future.result()
