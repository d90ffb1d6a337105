"""Peak memory: a process's own, not its parent's."""

from __future__ import annotations

import subprocess
import sys

from graphrec import memory

OWN_PEAK = "from graphrec.memory import peak_rss_mb; print(peak_rss_mb())"


def test_a_small_process_started_by_a_large_one_reports_its_own_peak():
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # resident, page by page
    done = subprocess.run(
        [sys.executable, "-c", OWN_PEAK], capture_output=True, text=True, check=True
    )
    assert float(done.stdout) < 200  # getrusage would say at least 400
    assert memory.peak_rss_mb() >= 400
    del ballast


def test_children_peak_is_what_they_reported():
    memory._reported.clear()  # what training run earlier in this process reported
    memory.note_child_peak(12.5)
    memory.note_child_peak(30.0)
    try:
        assert memory.child_peak_mb() == 30.0
    finally:
        memory._reported.clear()
