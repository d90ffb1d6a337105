"""Progress on a log (not a terminal): a line per interval, the final count once."""

from __future__ import annotations

import io

from graphrec.progress import Progress


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_log_gets_the_final_count_once():
    stream = io.StringIO()
    with Progress("work", total=3, unit="items", stream=stream, interval=0.0) as progress:
        for _ in range(3):
            progress.update(1)
    lines = _lines(stream)
    assert [line.split(",")[0] for line in lines] == [
        "work: 1/3 items (33%)",
        "work: 2/3 items (67%)",
        "work: 3/3 items (100%)",
    ]


def test_a_log_gets_the_final_count_when_no_interval_has_passed():
    stream = io.StringIO()
    with Progress("work", total=3, unit="items", stream=stream, interval=3600.0) as progress:
        progress.update(3)
    assert [line.split(",")[0] for line in _lines(stream)] == ["work: 3/3 items (100%)"]


def test_nothing_done_and_silent_progress_print_nothing():
    stream = io.StringIO()
    with Progress("idle", total=3, stream=stream, interval=0.0):
        pass
    with Progress("quiet", total=3, stream=stream, interval=0.0, silent=True) as progress:
        progress.update(3)
    assert stream.getvalue() == ""
