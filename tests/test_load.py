"""Loading follows into the real test Neo4j: idempotence, interrupted loads, bulk import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from graphrec import loader, store
from graphrec.errors import GraphrecError, StateConflict
from graphrec.generate import generate_follows
from graphrec.io import Follows, clean, read_follows, write_follows_csv
from graphrec.stats import follow_pairs, graph_stats


def _follows_file(tmp_path, users: int = 300, seed: int = 5, name: str = "follows.csv"):
    graph = generate_follows(users, seed=seed, avg_follows=8)
    path = tmp_path / name
    write_follows_csv(path, graph.uid, graph.fid)
    return path


def _assert_graph_is(driver, follows: Follows) -> None:
    uid, fid = follow_pairs(driver)
    assert np.array_equal(uid, follows.uid)  # one relationship per distinct follow, no more
    assert np.array_equal(fid, follows.fid)
    assert loader.graph_counts(driver) == {"users": follows.users().size, "follows": len(follows)}


def test_follow_batches_cover_every_follow_once_in_whole_out_lists():
    graph = generate_follows(500, seed=2)
    follows = clean(read_follows_from_arrays(graph.uid, graph.fid))
    batches = list(loader.follow_batches(follows, 700))
    assert len(batches) > 3
    rebuilt = [(row[0], b.fids[i]) for b in batches for row in b.rows for i in row[1]]
    assert rebuilt == list(zip(follows.uid.tolist(), follows.fid.tolist(), strict=True))
    starts = [b.rows[0][0] for b in batches]
    assert len(set(starts)) == len(starts)  # an out-list never spans two batches
    assert all(b.size == sum(len(r[1]) for r in b.rows) for b in batches)
    assert sum(b.size for b in batches) == len(follows)


def read_follows_from_arrays(uid, fid):
    from graphrec.io import EdgeList

    return EdgeList(uid=uid.astype(np.int64), fid=fid.astype(np.int64), path="<arrays>")


def test_load_writes_exactly_the_file_and_reload_changes_nothing(graph, tmp_path):
    follows = clean(read_follows(_follows_file(tmp_path)))
    first = loader.load_follows(graph, follows, batch_size=500, silent=True)
    assert first["mode"] == "create"
    assert first["follows_created"] == len(follows) == first["follows"]
    assert first["users_created"] == first["users"] == follows.users().size
    _assert_graph_is(graph, follows)
    second = loader.load_follows(graph, follows, batch_size=700, workers=1, silent=True)
    assert second["mode"] == "merge"
    assert second["follows_created"] == 0 and second["users_created"] == 0
    _assert_graph_is(graph, follows)


def test_self_follows_and_duplicates_are_dropped_and_counted(graph, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("uid,fid,rank\n1,2,1\n2,2,1\n1,2,3\n3,1,1\n3,3,1\n2,3,2\n3,1,9\n")
    report = loader.load_follows(graph, clean(read_follows(path)), silent=True)
    assert (report["self_loops"], report["duplicates"], report["skipped"]) == (2, 2, 4)
    assert (report["users"], report["follows"]) == (3, 3)
    uid, fid = follow_pairs(graph)
    assert list(zip(uid.tolist(), fid.tolist(), strict=True)) == [(1, 2), (2, 3), (3, 1)]


def test_interrupted_load_rerun_converges(graph, tmp_path):
    follows = clean(read_follows(_follows_file(tmp_path, users=400)))
    # The state an interrupted load leaves: all users, the follows of a prefix of followers,
    # part of one more batch. Re-running the whole file must finish the job without doubles.
    cut = len(follows) // 3
    prefix = Follows(follows.uid[:cut], follows.fid[:cut], cut, 0, 0)
    loader.load_users(graph, follows.users(), silent=True)
    loader.load_follows(graph, prefix, batch_size=200, silent=True)
    assert loader.graph_counts(graph)["follows"] == cut
    report = loader.load_follows(graph, follows, batch_size=300, silent=True)
    assert report["mode"] == "merge"
    assert report["follows_created"] == len(follows) - cut
    _assert_graph_is(graph, follows)


def test_killed_cli_load_rerun_converges(graph, tmp_path, cli_env):
    path = _follows_file(tmp_path, users=6000, seed=11)
    follows = clean(read_follows(path))
    env = {**os.environ, **cli_env}
    args = [
        sys.executable,
        "-m",
        "graphrec",
        "load",
        str(path),
        "--batch-size",
        "1500",
        "--workers",
        "1",
        "--silent",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        seen = loader.graph_counts(graph)["follows"]
        if seen > 0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = loader.graph_counts(graph)["follows"]
    assert 0 < partial < len(follows), "the load was not caught part-way"
    done = subprocess.run(args[:-1] + ["--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    _assert_graph_is(graph, follows)


def test_two_loads_at_once_give_exactly_the_union(graph, tmp_path, cli_env):
    # two overlapping parts of one file, loaded by two processes at once into an empty graph:
    # each alone would CREATE, and together they would duplicate every shared follow
    whole = clean(read_follows(_follows_file(tmp_path, users=3000, seed=13)))
    n = len(whole)
    parts = []
    for name, rows in (("a.csv", slice(0, 2 * n // 3)), ("b.csv", slice(n // 3, n))):
        parts.append(tmp_path / name)
        write_follows_csv(parts[-1], whole.uid[rows], whole.fid[rows])
    env = {**os.environ, **cli_env}
    loads = [
        subprocess.Popen(
            [sys.executable, "-m", "graphrec", "load", str(path), "--batch-size", "2000", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in parts
    ]
    outcomes = [p.communicate(timeout=300) for p in loads]
    assert [p.returncode for p in loads] == [0, 0], [err for _, err in outcomes]
    modes = sorted(json.loads(out)["mode"] for out, _ in outcomes)
    assert modes == ["create", "merge"]
    _assert_graph_is(graph, whole)


def test_load_reports_a_broken_batch_as_graphrec_error(graph):
    # A follow whose target user is missing must fail loudly, not shift other follows.
    batch = loader.FollowBatch(fids=[10, 11], rows=[[1, [0, 1]]], size=2)
    store.write(graph, "merge_users", None, uids=[1, 10])
    with pytest.raises(GraphrecError, match="Neo4j failed writing follows"):
        loader._write_follows(graph, None, batch, create=True)
    assert loader.graph_counts(graph)["follows"] == 0


def test_stats_on_a_known_graph(graph, tmp_path):
    path = tmp_path / "f.csv"
    # 1 follows 2,3,4; 2 follows 3; 3 follows 4; 4 follows nobody; 5 follows 3
    path.write_text("1 2\n1 3\n1 4\n2 3\n3 4\n5 3\n")
    loader.load_follows(graph, clean(read_follows(path)), silent=True)
    stats = graph_stats(graph, top=2)
    assert stats["users"] == 5 and stats["follows"] == 6
    assert stats["out_degree"]["max"] == 3 and stats["in_degree"]["max"] == 3
    assert stats["out_degree"]["p50"] == 1  # out-degrees 3,1,1,0,1
    assert stats["in_degree"]["p50"] == 1  # in-degrees 0,1,3,2,0 -> sorted 0,0,1,2,3
    assert stats["top_accounts"] == [{"uid": 3, "followers": 3}, {"uid": 4, "followers": 2}]


def test_stats_on_an_empty_graph(graph):
    stats = graph_stats(graph)
    assert stats["users"] == 0 and stats["follows"] == 0
    assert stats["out_degree"] == {"p50": 0, "p90": 0, "p99": 0, "max": 0}
    assert stats["top_accounts"] == []


def test_bulk_refuses_a_non_empty_database(graph, tmp_path, settings, neo4j_server):
    follows = clean(read_follows(_follows_file(tmp_path, users=50)))
    store.write(graph, "merge_users", None, uids=[1])
    with pytest.raises(StateConflict, match="holds 1 nodes: run `graphrec reset` first"):
        loader.bulk_load(settings, follows, server=neo4j_server)
    assert neo4j_server.is_running()
    assert loader.graph_counts(graph) == {"users": 1, "follows": 0}


def test_bulk_refuses_a_remote_server(tmp_path, settings, neo4j_server):
    from dataclasses import replace

    follows = clean(read_follows(_follows_file(tmp_path, users=50)))
    remote = replace(settings, uri="neo4j://graph.example.com:7687")
    with pytest.raises(GraphrecError, match="--bulk works only with the local server"):
        loader.bulk_load(remote, follows, server=neo4j_server)


def test_bulk_import_into_an_empty_database(graph, tmp_path, settings, neo4j_server):
    follows = clean(read_follows(_follows_file(tmp_path, users=500, seed=9)))
    store.reset_graph(graph)  # the graph fixture made the schema; bulk wants nothing at all
    report = loader.bulk_load(settings, follows, server=neo4j_server)
    assert report["mode"] == "bulk"
    assert report["follows_created"] == len(follows)
    assert neo4j_server.is_running()
    # The import replaced the database under this long-lived driver: its causal-consistency
    # bookmarks name transactions the new store never had (the CLI opens a driver per run).
    with graph.session() as session:  # a session outside the driver's bookmark manager
        session.run(store.query("count_graph")).consume()
        fresh = session.last_bookmarks().raw_values
    assert fresh
    bookmarks = graph.execute_query_bookmark_manager
    bookmarks.update_bookmarks(bookmarks.get_bookmarks(), fresh)
    _assert_graph_is(graph, follows)  # uids came back as integers, one node per uid
    names = {r["name"] for r in store.read(graph, "show_indexes")}
    assert "user_uid" in names
    # online loads on top of a bulk import go through MERGE and change nothing
    again = loader.load_follows(graph, follows, silent=True)
    assert again["follows_created"] == 0 and again["users_created"] == 0
    assert not list(neo4j_server.import_dir.glob("graphrec-bulk-*"))


def test_reset_deletes_everything_a_page_at_a_time(graph, tmp_path):
    follows = clean(read_follows(_follows_file(tmp_path, users=120)))
    loader.load_follows(graph, follows, silent=True)
    graph.execute_query(
        "MATCH (a:User), (b:User) WITH a, b LIMIT 3 CREATE (a)-[:BLOCKS]->(b), (a)-[:HELDOUT]->(b)"
    )
    store.refresh_popular(graph)
    relationships = graph.execute_query("MATCH ()-[r]->() RETURN count(r) AS n").records[0]["n"]
    assert relationships == len(follows) + 6

    pages = []
    deleted = store.delete_in_pages(
        graph, "delete_relationships_page", batch_size=50, progress=_Counter(pages)
    )
    assert deleted == relationships
    assert all(0 < n <= 50 for n in pages) and len(pages) == -(-relationships // 50)
    store.reset_graph(graph, batch_size=7)
    assert graph.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 0


class _Counter:
    """Stands in for a Progress: records each update."""

    def __init__(self, updates: list[int]) -> None:
        self.updates = updates

    def update(self, n: int = 1) -> None:
        self.updates.append(n)
