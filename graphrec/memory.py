"""Peak resident memory of this process, and of the processes it ran, measured right.

``getrusage``'s ``ru_maxrss`` of a process started by another counts the parent's resident
memory at the fork: Linux keeps the larger high-water mark across ``exec``. A small command
started by a large one then reports the large one's figure (a benchmark's stages, a training
worker started by `train`). ``VmHWM`` in /proc/self/status is the high-water mark of this
process's own memory since its ``exec``.
"""

from __future__ import annotations

import resource
from pathlib import Path

_reported: list[float] = []  # what the processes this one ran said of themselves


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (2^20 bytes)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def note_child_peak(mb: float) -> None:
    """Record the peak a process this one ran measured of itself (``peak_rss_mb``)."""
    _reported.append(mb)


def child_peak_mb() -> float | None:
    """The largest peak of the processes this one ran and waited for: as they reported it,
    or else as ``getrusage`` has it (an upper bound, by the parent's memory at the fork);
    None when it ran none."""
    if _reported:
        return max(_reported)
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(kib / 1024, 1) if kib else None
