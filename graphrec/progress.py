"""One progress helper for every long job: count, rate and ETA on stderr.

On a terminal it redraws one line; elsewhere (CI, pipes) it prints a line every
``interval`` seconds; with ``silent=True`` it prints nothing, so callers never branch.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _human(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.2g}" if 0 < abs(n) < 10 else f"{n:.0f}"


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "rows",
        silent: bool = False,
        stream: TextIO | None = None,
        interval: float = 10.0,
    ) -> None:
        self.label, self.total, self.unit, self.silent = label, total, unit, silent
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else interval
        self.done = 0
        self._shown: int | None = None  # the count the last line showed
        self.start = time.monotonic()
        # A terminal gets its first line at once; a log's first line waits one interval.
        self._last = 0.0 if self.tty else self.start

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._draw()

    def line(self) -> str:
        parts = [f"{self.label}: {_human(self.done)}"]
        if self.total:
            parts[0] += f"/{_human(self.total)} {self.unit} ({100 * self.done / self.total:.0f}%)"
        else:
            parts[0] += f" {self.unit}"
        parts.append(f"{_human(self.rate)} {self.unit}/s")
        if self.total and self.rate > 0:
            parts.append(f"ETA {max(0.0, (self.total - self.done) / self.rate):.0f}s")
        else:
            parts.append(f"{self.elapsed:.0f}s")
        return ", ".join(parts)

    def _draw(self, final: bool = False) -> None:
        if self.silent:
            return
        if self.tty:
            self.stream.write("\r\033[K" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._shown = self.done

    def close(self) -> None:
        # a log gets the final count once: not again when the last line already showed it
        if self.tty or (self.done and self.done != self._shown):
            self._draw(final=True)
        self.silent = True  # close() is idempotent


class Step:
    """One phase of a long job that has no count to show: ``label ...`` when it starts and
    ``label: done in Xs`` when it ends, on stderr (nothing with ``silent=True``)."""

    def __init__(self, label: str, silent: bool = False, stream: TextIO | None = None) -> None:
        self.label, self.silent = label, silent
        self.stream = stream or sys.stderr
        self.start = 0.0

    def __enter__(self) -> Step:
        self.start = time.monotonic()
        if not self.silent:
            self.stream.write(f"{self.label} ...\n")
            self.stream.flush()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if not self.silent and exc_type is None:
            self.stream.write(f"{self.label}: done in {time.monotonic() - self.start:.1f}s\n")
            self.stream.flush()
