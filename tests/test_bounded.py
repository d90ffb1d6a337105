"""The bounded thread map that load and embed write through."""

from __future__ import annotations

import pytest

from graphrec.bounded import map_bounded, map_bounded_retrying


class Clash(Exception):
    pass


def test_map_bounded_gives_every_item_once_with_its_result():
    got = dict(map_bounded(lambda x: x * x, range(50), workers=3))
    assert got == {x: x * x for x in range(50)}


def test_items_that_clashed_run_again_alone_after_the_rest():
    calls: list[int] = []

    def write(x: int) -> int:
        calls.append(x)
        if x in (3, 7) and calls.count(x) == 1:
            raise Clash(x)
        return -x

    got = list(map_bounded_retrying(write, range(10), workers=2, again_alone=Clash))
    assert sorted(got) == sorted((x, -x) for x in range(10))
    assert {item for item, _ in got[-2:]} == {3, 7}
    assert calls.count(3) == calls.count(7) == 2


def test_an_item_that_clashes_again_alone_raises():
    def write(x: int) -> int:
        if x == 2:
            raise Clash(x)
        return x

    with pytest.raises(Clash):
        list(map_bounded_retrying(write, range(5), workers=2, again_alone=Clash))


def test_other_errors_are_not_retried():
    def write(x: int) -> int:
        if x == 1:
            raise ValueError("bad batch")
        return x

    with pytest.raises(ValueError, match="bad batch"):
        list(map_bounded_retrying(write, range(5), workers=2, again_alone=Clash))
