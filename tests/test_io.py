"""Reading follows files: accepted formats, and bad input named by file, line and problem."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from graphrec.errors import InputError
from graphrec.io import clean, read_follows, write_follows_csv


def _write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _pairs(edges) -> list[tuple[int, int]]:
    return list(zip(edges.uid.tolist(), edges.fid.tolist(), strict=True))


def test_csv_with_header_and_rank_column_ignored(tmp_path):
    path = _write(tmp_path, "f.csv", "uid,fid,rank\n1,2,0.5\n3,4,7\n5,1,\n6,1\n")
    edges = read_follows(path)
    assert _pairs(edges) == [(1, 2), (3, 4), (5, 1), (6, 1)]
    assert edges.header is True
    assert edges.uid.dtype == np.int64


def test_header_column_order_is_taken_from_the_header(tmp_path):
    path = _write(tmp_path, "f.csv", "rank,fid,uid\n9,2,1\n9,4,3\n")
    assert _pairs(read_follows(path)) == [(1, 2), (3, 4)]


def test_headerless_whitespace_with_comments_and_blank_lines(tmp_path):
    text = "# a comment\n\n1 2\n  3\t4   # trailing comment\n\n#another\n5 6\n"
    edges = read_follows(_write(tmp_path, "f.txt", text))
    assert _pairs(edges) == [(1, 2), (3, 4), (5, 6)]
    assert edges.header is False


def test_headerless_comma_and_crlf(tmp_path):
    edges = read_follows(_write(tmp_path, "f.csv", "10,20\r\n20,10\r\n"))
    assert _pairs(edges) == [(10, 20), (20, 10)]


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbfuid,fid\r\n1,2\r\n2,3\r\n\r\n\r\n",  # a spreadsheet's export
        b"\xef\xbb\xbf1 2\n2 3\n\n",  # BOM before a headerless first row
    ],
)
def test_byte_order_mark_crlf_and_trailing_blank_lines(tmp_path, data, gzipped):
    path = _write(tmp_path, "f.csv", gzip.compress(data) if gzipped else data)
    assert _pairs(read_follows(path)) == [(1, 2), (2, 3)]


def test_gzip_is_detected_by_content(tmp_path):
    path = _write(tmp_path, "f.edges.gz", gzip.compress(b"7 8\n8 9\n"))
    assert _pairs(read_follows(path)) == [(7, 8), (8, 9)]
    # and a gzip file without the .gz suffix too
    path = _write(tmp_path, "f.dat", gzip.compress(b"uid,fid\n1,2\n"))
    assert _pairs(read_follows(path)) == [(1, 2)]


def test_large_ids_keep_int64(tmp_path):
    big = 2**62 + 5
    assert _pairs(read_follows(_write(tmp_path, "f.csv", f"{big},1\n-3,{big}\n"))) == [
        (big, 1),
        (-3, big),
    ]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("uid,fid\n1,2\n3,x\n", 3, "non-integer id 'x' in fid"),
        ("uid,fid\n1,2\n3,4.5\n", 3, "non-integer id '4.5' in fid"),
        ("1 2\n# comment\n3\n", 3, "missing column: expected 2 fields, found 1"),
        ("uid,fid\n1,2\n3,\n", 3, "missing column: empty fid"),
        ("uid,rank,fid\n1,0,2\n3,4\n", 3, "missing column: expected 3 fields, found 2"),
        ("uid,fid,rank\n1,2,0\n3,4\n5\n", 4, "missing column: expected 2 fields, found 1"),
        ("1,2\n\n3,4,5\n", 3, "too many columns: expected 2 fields, found 3"),
        ("a,b\n1,2\n", 1, "header must name the columns uid and fid, got 'a,b'"),
        (
            "1 2\n2 99999999999999999999\n",
            2,
            "id 99999999999999999999 in fid is out of the int64 range",
        ),
        ("# only\n7\n", 2, "missing column: expected 2 ids (uid, fid)"),
        ("x1 2\n", 1, "non-integer id 'x1'"),
    ],
)
def test_bad_line_is_named_exactly(tmp_path, text, line, reason):
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as info:
        read_follows(path)
    assert info.value.line == line
    assert info.value.reason == reason
    assert str(info.value) == f"{path}, line {line}: {reason}"


def test_bad_line_deep_in_a_big_file(tmp_path):
    rows = [f"{i},{i + 1}" for i in range(50_000)]
    rows[41_233] = "41233,oops"
    path = _write(tmp_path, "big.csv", "uid,fid\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as info:
        read_follows(path)
    assert info.value.line == 41_235  # header + 1-based
    assert info.value.reason == "non-integer id 'oops' in fid"


def test_bad_line_inside_gzip(tmp_path):
    path = _write(tmp_path, "bad.gz", gzip.compress(b"1 2\n2 3\n3 three\n"))
    with pytest.raises(InputError, match=r"bad\.gz, line 3: non-integer id 'three' in fid"):
        read_follows(path)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file: no follow rows"),
        (b"\n  \n", "empty file: no follow rows"),
        (b"# nothing but a comment\n", "empty file: no follow rows"),
        (b"uid,fid\n", "empty file: a header but no follow rows"),
        (b"uid,fid\n# c\n\n", "empty file: a header but no follow rows"),
    ],
)
def test_empty_files(tmp_path, data, reason):
    path = _write(tmp_path, "empty.csv", data)
    with pytest.raises(InputError) as info:
        read_follows(path)
    assert str(info.value) == f"{path}: {reason}"


def test_missing_directory_and_unreadable_files(tmp_path):
    with pytest.raises(InputError) as info:
        read_follows(tmp_path / "nope.csv")
    assert str(info.value) == f"{tmp_path / 'nope.csv'}: cannot read file: no such file"
    with pytest.raises(InputError, match="cannot read file: it is a directory"):
        read_follows(tmp_path)
    data = "".join(f"{i} {i * 7919 % 10007}\n" for i in range(20_000)).encode()
    broken = _write(tmp_path, "broken.gz", gzip.compress(data)[:-100])
    with pytest.raises(InputError, match="cannot read file: broken gzip data"):
        read_follows(broken)
    if os.getuid() != 0:  # root reads anything
        locked = _write(tmp_path, "locked.csv", "1,2\n")
        locked.chmod(0)
        with pytest.raises(InputError, match="cannot read file: Permission denied"):
            read_follows(locked)


def test_not_utf8_names_the_line(tmp_path):
    path = _write(tmp_path, "latin.csv", b"1,2\n3,\xe94\n")
    with pytest.raises(InputError) as info:
        read_follows(path)
    assert info.value.line == 2
    assert info.value.reason == "cannot read file: not UTF-8 text"


def test_clean_drops_and_counts_self_loops_and_duplicates(tmp_path):
    path = _write(tmp_path, "f.csv", "uid,fid\n3,1\n1,2\n2,2\n1,2\n3,1\n3,1\n5,5\n2,3\n")
    follows = clean(read_follows(path))
    assert follows.rows == 8
    assert follows.self_loops == 2
    assert follows.duplicates == 3
    assert follows.skipped == 5
    assert list(zip(follows.uid.tolist(), follows.fid.tolist(), strict=True)) == [
        (1, 2),
        (2, 3),
        (3, 1),
    ]
    assert follows.users().tolist() == [1, 2, 3]


def test_write_then_read_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    uid, fid = rng.integers(0, 1000, 500), rng.integers(0, 1000, 500)
    path = tmp_path / "out.csv"
    write_follows_csv(path, uid, fid)
    assert path.read_text().startswith("uid,fid\n")
    edges = read_follows(path)
    assert np.array_equal(edges.uid, uid) and np.array_equal(edges.fid, fid)
