"""Writing a file so that readers see the old content or the new, never a part: the new one
is written beside it and renamed over it, and a write that fails leaves no trace."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def replacing(
    path: str | Path, mode: int | None = None, newline: str | None = None
) -> Iterator[TextIO]:
    """A text file to write that takes ``path``'s place only when the block completes.

    ``mode``: permission bits the file has from its creation (0o600 for secrets)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "w", newline=newline) as f:
            yield f
        if mode is not None:
            os.chmod(tmp, mode)  # whatever the umask took away
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str, mode: int | None = None) -> None:
    """``path`` holds ``text``, written whole or not at all."""
    with replacing(path, mode) as f:
        f.write(text)
