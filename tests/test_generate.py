"""The synthetic follow graph: deterministic, and shaped like a real follow graph."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from graphrec import io
from graphrec.generate import generate_follows
from graphrec.io import clean, read_follows, write_follows_csv
from graphrec.numeric import reciprocity
from graphrec.progress import Progress


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_byte_identical_file(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    for path, seed in ((a, 7), (b, 7), (c, 8)):
        graph = generate_follows(3000, seed=seed)
        write_follows_csv(path, graph.uid, graph.fid)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_the_csv_is_the_same_whatever_its_blocks_and_whole_or_not_at_all(tmp_path, monkeypatch):
    graph = generate_follows(500, seed=4)
    whole, blocks = tmp_path / "whole.csv", tmp_path / "blocks.csv"
    write_follows_csv(whole, graph.uid, graph.fid)
    monkeypatch.setattr(io, "CSV_ROWS_AT_ONCE", 7)
    write_follows_csv(blocks, graph.uid, graph.fid)
    assert blocks.read_bytes() == whole.read_bytes()

    class Interrupted(Progress):
        def update(self, n: int = 1) -> None:
            super().update(n)
            if self.done > 100:
                raise KeyboardInterrupt

    before = whole.read_bytes()
    other = generate_follows(500, seed=5)
    with pytest.raises(KeyboardInterrupt):
        write_follows_csv(whole, other.uid, other.fid, Interrupted("w", silent=True))
    assert whole.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocks.csv", "whole.csv"]


def test_graph_is_clean_and_in_range(tmp_path):
    graph = generate_follows(2000, seed=1, avg_follows=15)
    path = tmp_path / "g.csv"
    write_follows_csv(path, graph.uid, graph.fid)
    follows = clean(read_follows(path))
    assert follows.self_loops == 0 and follows.duplicates == 0
    assert graph.uid.min() >= 1 and graph.fid.max() <= 2000
    # the generated rows are already in (uid, fid) order
    assert np.array_equal(follows.uid, graph.uid) and np.array_equal(follows.fid, graph.fid)
    assert 10 <= len(graph) / 2000 <= 22


def test_shape_heavy_tailed_in_degree_reciprocity_and_communities():
    users = 20_000
    graph = generate_follows(users, seed=3)
    in_degree = np.bincount(graph.fid, minlength=users + 1)[1:]
    median = np.median(in_degree)
    # heavy tail: the top account gets far more than a typical one, and the top 1% of
    # accounts collect a disproportionate share of all follows
    assert in_degree.max() > 20 * median
    top = np.sort(in_degree)[::-1][: users // 100]
    assert top.sum() / in_degree.sum() > 0.08
    # follow-backs
    r = reciprocity(graph.uid, graph.fid)
    assert 0.2 < r < 0.8
    # most follows stay inside a community, far more than chance would give
    same = graph.community[graph.uid - 1] == graph.community[graph.fid - 1]
    sizes = np.bincount(graph.community) / users
    assert same.mean() > 0.6
    assert same.mean() > 3 * float((sizes**2).sum())


def test_reciprocity_measure_on_a_known_graph():
    uid = np.array([1, 2, 1, 3, 4, 4], dtype=np.int64)
    fid = np.array([2, 1, 3, 4, 4, 1], dtype=np.int64)
    # distinct non-self pairs: (1,2) (2,1) (1,3) (3,4) (4,1); only 1<->2 is mutual
    assert reciprocity(uid, fid) == pytest.approx(2 / 5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="users must be at least 2"):
        generate_follows(1)
    with pytest.raises(ValueError, match="avg_follows must be positive"):
        generate_follows(10, avg_follows=0)
