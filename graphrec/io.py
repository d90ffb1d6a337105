"""Reading and validating follows files.

Accepted input (plain or gzip, detected by content):

* ``uid,fid`` CSV with a header line; more columns (``rank``) are allowed and ignored (a row
  may leave them out, but not add columns the header does not name);
* a headerless edge list of two integer columns, separated by commas or whitespace;
* ``#`` starts a comment (whole-line or trailing); blank lines are skipped.

The whole file is validated before anything else happens: ``read_follows`` returns int64
arrays or raises ``InputError`` naming the file, the 1-based line and the problem. A pandas C
parser does the common case; when it objects, a line-by-line pass finds the exact bad line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphrec.errors import GraphrecError, InputError
from graphrec.files import replacing
from graphrec.progress import Progress

CSV_ROWS_AT_ONCE = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_HEADER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ :()-]*$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True)
class EdgeList:
    """Follow rows as read from a file (self-follows and duplicates still in)."""

    uid: np.ndarray  # int64, the follower
    fid: np.ndarray  # int64, the followed account
    path: str
    header: bool = False

    def __len__(self) -> int:
        return int(self.uid.shape[0])


@dataclass(frozen=True)
class Follows:
    """Distinct follows sorted by (uid, fid), with what was dropped on the way."""

    uid: np.ndarray
    fid: np.ndarray
    rows: int  # data rows in the input
    self_loops: int
    duplicates: int

    def __len__(self) -> int:
        return int(self.uid.shape[0])

    @property
    def skipped(self) -> int:
        return self.self_loops + self.duplicates

    def users(self) -> np.ndarray:
        """Every uid that follows or is followed, sorted."""
        return np.union1d(self.uid, self.fid)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, None, "cannot read file: it is a directory") from None
    except FileNotFoundError:
        raise InputError(path, None, "cannot read file: no such file") from None
    except OSError as e:
        raise InputError(path, None, f"cannot read file: {e.strerror or e}") from e
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(path, None, f"cannot read file: broken gzip data ({e})") from e
    return raw.removeprefix(codecs.BOM_UTF8)  # spreadsheet programs write one


def _lines(raw: bytes, path: Path) -> Iterator[tuple[int, int, str]]:
    """(1-based line number, byte offset after the line, decoded line without comment)."""
    start, number, size = 0, 0, len(raw)
    while start < size:
        end = raw.find(b"\n", start)
        end = size if end < 0 else end
        line, offset, number = raw[start:end], end + 1, number + 1
        start = offset
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(path, number, "cannot read file: not UTF-8 text") from e
        yield number, offset, text.split("#", 1)[0].strip()


def _is_int(token: str) -> bool:
    return _INTEGER.match(token) is not None


@dataclass(frozen=True)
class _Layout:
    sep: str | None  # "," or None for whitespace
    header_line: int  # 1-based line of the header, 0 when there is none
    data_offset: int  # byte offset where the rows after the header start
    columns: int  # fields per row
    uid_col: int
    fid_col: int


def _split(content: str, sep: str | None) -> list[str]:
    return [t.strip() for t in content.split(sep)] if sep else content.split()


def _layout(path: Path, raw: bytes) -> _Layout:
    """Find the separator, the header (if any) and the uid/fid columns from the first row."""
    previous = 0
    for number, offset, content in _lines(raw, path):
        if not content:
            previous = offset
            continue
        sep = "," if "," in content else None
        fields = _split(content, sep)
        if all(_is_int(f) for f in fields):  # headerless: the first row is data
            if len(fields) < 2:
                raise InputError(path, number, "missing column: expected 2 ids (uid, fid)")
            return _Layout(sep, 0, previous, len(fields), 0, 1)
        names = [f.strip("\"'").lower() for f in fields]
        if "uid" in names and "fid" in names:
            return _Layout(sep, number, offset, len(fields), names.index("uid"), names.index("fid"))
        if not any(_is_int(f) for f in fields) and _HEADER_NAME.match(names[0]):
            raise InputError(
                path, number, f"header must name the columns uid and fid, got {content!r}"
            )
        bad = next(f for f in fields if not _is_int(f))
        raise InputError(path, number, f"non-integer id {bad!r}")
    raise InputError(path, None, "empty file: no follow rows")


def _fast_parse(raw: bytes, layout: _Layout) -> tuple[np.ndarray, np.ndarray] | None:
    """pandas' C parser; None when anything looks off (the slow pass then says what)."""
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.BytesIO(raw[layout.data_offset :]),
            sep=layout.sep if layout.sep else r"\s+",
            header=None,
            comment="#",
            skip_blank_lines=True,
            quoting=csv.QUOTE_NONE,
            engine="c",
        )
    except (ValueError, OverflowError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    except pd.errors.EmptyDataError:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if not max(layout.uid_col, layout.fid_col) < frame.shape[1] <= layout.columns:
        return None
    uid, fid = frame.iloc[:, layout.uid_col], frame.iloc[:, layout.fid_col]
    if uid.dtype != np.int64 or fid.dtype != np.int64:
        return None  # NaN (missing field), floats, words or overflow
    return uid.to_numpy(np.int64, copy=True), fid.to_numpy(np.int64, copy=True)


def _slow_parse(path: Path, raw: bytes, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Line by line: the first bad line raises InputError with its number."""
    uids: list[int] = []
    fids: list[int] = []
    needed = max(layout.uid_col, layout.fid_col) + 1  # trailing extra columns may be left out
    for number, _, content in _lines(raw, path):
        if number <= layout.header_line or not content:
            continue
        fields = _split(content, layout.sep)
        if len(fields) < needed:
            raise InputError(
                path, number, f"missing column: expected {needed} fields, found {len(fields)}"
            )
        if len(fields) > layout.columns:
            raise InputError(
                path,
                number,
                f"too many columns: expected {layout.columns} fields, found {len(fields)}",
            )
        pair = []
        for col, name in ((layout.uid_col, "uid"), (layout.fid_col, "fid")):
            token = fields[col]
            if token == "":
                raise InputError(path, number, f"missing column: empty {name}")
            if not _is_int(token):
                raise InputError(path, number, f"non-integer id {token!r} in {name}")
            value = int(token)
            if not INT64_MIN <= value <= INT64_MAX:
                raise InputError(path, number, f"id {token} in {name} is out of the int64 range")
            pair.append(value)
        uids.append(pair[0])
        fids.append(pair[1])
    return np.asarray(uids, dtype=np.int64), np.asarray(fids, dtype=np.int64)


def read_follows(path: str | Path) -> EdgeList:
    """Read and validate a whole follows file, or raise InputError (nothing partial)."""
    path = Path(path)
    raw = _read_bytes(path)
    if not raw.strip():
        raise InputError(path, None, "empty file: no follow rows")
    layout = _layout(path, raw)
    parsed = _fast_parse(raw, layout)
    if parsed is None:
        parsed = _slow_parse(path, raw, layout)
    uid, fid = parsed
    if uid.size == 0:
        raise InputError(path, None, "empty file: a header but no follow rows")
    return EdgeList(uid=uid, fid=fid, path=str(path), header=layout.header_line > 0)


def clean(edges: EdgeList) -> Follows:
    """Drop self-follows and duplicate rows (counted), sort by (uid, fid)."""
    uid, fid = edges.uid, edges.fid
    keep = uid != fid
    self_loops = int(uid.size - keep.sum())
    uid, fid = uid[keep], fid[keep]
    order = np.lexsort((fid, uid))
    uid, fid = uid[order], fid[order]
    if uid.size:
        first = np.ones(uid.size, dtype=bool)
        first[1:] = (uid[1:] != uid[:-1]) | (fid[1:] != fid[:-1])
        uid, fid = uid[first], fid[first]
    duplicates = int(keep.sum() - uid.size)
    return Follows(
        uid=np.ascontiguousarray(uid),
        fid=np.ascontiguousarray(fid),
        rows=len(edges),
        self_loops=self_loops,
        duplicates=duplicates,
    )


def write_follows_csv(
    path: str | Path, uid: np.ndarray, fid: np.ndarray, progress: Progress | None = None
) -> None:
    """Write a ``uid,fid`` CSV (header included), whole or not at all, a block of rows at a
    time (counted on ``progress``); the same arrays give the same bytes."""
    with replacing(path) as f:
        f.write("uid,fid\n")
        for start in range(0, len(uid), CSV_ROWS_AT_ONCE):
            us = uid[start : start + CSV_ROWS_AT_ONCE].tolist()
            fs = fid[start : start + CSV_ROWS_AT_ONCE].tolist()
            f.write("".join(f"{u},{v}\n" for u, v in zip(us, fs, strict=True)))
            if progress is not None:
                progress.update(len(us))


def read_follow_arrays(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The follows of a follows file as (uid, fid) int64 arrays; an Error when it has none."""
    edges = read_follows(path)
    if len(edges.uid) == 0:
        raise GraphrecError(f"no follows in {path}")
    return np.asarray(edges.uid, np.int64), np.asarray(edges.fid, np.int64)
