"""Relation embeddings on FOLLOWS: one vector per follow, the index, re-runs and staleness."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner
from test_pools import test_query

from graphrec import embed, store
from graphrec.cli import cli
from graphrec.embed import embedding_status, model_tag, read_embeddings, write_embeddings
from graphrec.errors import Deadlocked, GraphrecError
from graphrec.graph import fetch_follows
from graphrec.io import EdgeList, clean
from graphrec.loader import load_follows
from graphrec.model.artifacts import NeuMFConfig
from graphrec.model.scorer import NumpyScorer

CONFIG = NeuMFConfig(epochs=1, batch_size=1024, search=())


def ring_follows(n: int = 40, out: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """User i follows the next ``out`` users around a ring (uids 10..10+n-1)."""
    src = np.repeat(np.arange(n), out)
    dst = (src + np.tile(np.arange(1, out + 1), n)) % n
    return src + 10, dst + 10


def load(driver, src, dst) -> None:
    load_follows(driver, clean(EdgeList(np.asarray(src), np.asarray(dst), "test")), silent=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two different models of the same ring graph (two training runs)."""
    from graphrec.model.train import train

    src, dst = ring_follows()
    dirs = []
    for seed in (1, 2):
        path = tmp_path_factory.mktemp(f"model{seed}")
        # the second has the two-tower part (its account vectors are embedded too)
        config = NeuMFConfig(epochs=1, batch_size=1024, seed=seed, search=(), two_tower=seed == 2)
        train(src, dst, path, config, silent=True)
        dirs.append(path)
    return dirs


def _vector_index(driver) -> dict:
    records = store.read(driver, "show_index_options", name=store.VECTOR_INDEX)
    assert len(records) == 1
    return dict(records[0])


def test_fetch_follows_reads_every_follow(graph):
    src, dst = ring_follows(n=25, out=3)
    load(graph, src, dst)
    got_src, got_dst = fetch_follows(graph, page_users=7)  # several pages
    assert sorted(zip(got_src.tolist(), got_dst.tolist(), strict=True)) == sorted(
        zip(src.tolist(), dst.tolist(), strict=True)
    )


def test_embed_writes_one_vector_per_follow_and_an_online_index(graph, models):
    src, dst = ring_follows()
    load(graph, src, dst)
    scorer = NumpyScorer.load(models[0])
    assert embedding_status(graph, scorer)["status"] == "missing"
    result = write_embeddings(graph, scorer, batch_size=37, silent=True)
    assert result["written"] == src.size and result["skipped"] == 0
    assert result["relationships_per_second"] > 0
    stored = read_embeddings(graph, src, dst)
    assert stored.shape == (src.size, 16)
    expected = scorer.relation_embedding(scorer.index_of(src), scorer.index_of(dst))
    np.testing.assert_allclose(stored, expected, rtol=1e-5, atol=1e-6)
    index = _vector_index(graph)
    assert index["state"] == "ONLINE" and index["entityType"] == "RELATIONSHIP"
    assert index["options"]["indexConfig"]["vector.dimensions"] == 16
    assert index["options"]["indexConfig"]["vector.similarity_function"].lower() == "cosine"
    status = embedding_status(graph, scorer)
    assert status["status"] == "fresh" and status["without_embedding"] == 0


@pytest.mark.parametrize("rebuild_index", [False, True])
def test_rerun_after_retrain_replaces_every_embedding(graph, models, rebuild_index):
    src, dst = ring_follows()
    load(graph, src, dst)
    first, second = (NumpyScorer.load(m) for m in models)
    assert first.version != second.version
    write_embeddings(graph, first, silent=True)
    before = read_embeddings(graph, src, dst)
    assert embedding_status(graph, second)["status"] == "stale"  # retrained model, old vectors
    result = write_embeddings(graph, second, silent=True, rebuild_index=rebuild_index)
    assert result["index_rebuilt"] is rebuild_index
    assert _vector_index(graph)["state"] == "ONLINE"
    after = read_embeddings(graph, src, dst)
    expected = second.relation_embedding(second.index_of(src), second.index_of(dst))
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, after)
    assert embedding_status(graph, second)["status"] == "fresh"
    assert embedding_status(graph, first)["status"] == "stale"


def test_new_follows_get_embedded_and_unknown_users_are_skipped(graph, models):
    src, dst = ring_follows()
    load(graph, src, dst)
    scorer = NumpyScorer.load(models[0])
    write_embeddings(graph, scorer, silent=True)
    # a follow between known users that the graph did not have, and one from a new user
    load(graph, np.array([10, 999]), np.array([30, 10]))
    assert embedding_status(graph, scorer)["without_embedding"] == 2
    result = write_embeddings(graph, scorer, silent=True)
    # only the new follow is written; the others already carry this model's vectors
    assert result["written"] == 1 and result["skipped"] == 1
    assert result["unchanged"] == src.size and result["index_rebuilt"] is False
    stored = read_embeddings(graph, np.array([10, 999]), np.array([30, 10]))
    assert not np.isnan(stored[0]).any() and np.isnan(stored[1]).all()
    assert embedding_status(graph, scorer)["without_embedding"] == 1
    assert write_embeddings(graph, scorer, silent=True, full=True)["written"] == src.size + 1


def test_an_interrupted_write_is_finished_without_rewriting_the_rest(graph, models):
    src, dst = ring_follows()
    load(graph, src, dst)
    first, second = (NumpyScorer.load(m) for m in models)
    write_embeddings(graph, first, silent=True)
    # the second model's write stopped half way: half the follows carry its vectors
    half = src.size // 2
    rows = [
        [int(u), {str(int(f)): v.tolist()}]
        for u, f, v in zip(
            src[:half],
            dst[:half],
            second.index_embedding(second.index_of(src[:half]), second.index_of(dst[:half])),
            strict=True,
        )
    ]
    store.write(graph, "set_follow_embeddings", rows=rows, model=model_tag(second.version))
    result = write_embeddings(graph, second, silent=True)
    assert result["written"] == src.size - half and result["unchanged"] == half
    expected = second.index_embedding(second.index_of(src), second.index_of(dst))
    np.testing.assert_allclose(read_embeddings(graph, src, dst), expected, rtol=1e-5, atol=1e-6)


def test_a_deadlock_neo4j_detects_is_raised_as_deadlocked(graph):
    load(graph, *ring_follows(n=5, out=1))
    lock = test_query("lock_user")
    errors: list[GraphrecError] = []

    def take(tx, uid: int) -> None:
        try:
            with store.errors_while("running lock_user"):
                tx.run(lock, uid=uid).consume()
        except GraphrecError as e:
            errors.append(e)
            tx.rollback()  # frees its locks, so the other goes on

    with graph.session() as first, graph.session() as second:
        tx1, tx2 = first.begin_transaction(), second.begin_transaction()
        take(tx1, 10)
        take(tx2, 11)
        waiting = threading.Thread(target=take, args=(tx1, 11))
        waiting.start()
        time.sleep(1.0)  # tx1 now waits for tx2's lock
        take(tx2, 10)
        waiting.join(timeout=60)
        for tx in (tx1, tx2):
            tx.close()
    assert len(errors) == 1 and isinstance(errors[0], Deadlocked), errors


def test_batches_that_deadlock_are_written_again_one_at_a_time(graph, models, monkeypatch):
    src, dst = ring_follows()
    load(graph, src, dst)
    scorer = NumpyScorer.load(models[0])
    write_batch = embed._write_batch
    deadlocked: list[int] = []

    def deadlock_the_first(driver, database, rows, count, tag):
        if not deadlocked:
            deadlocked.append(count)
            raise Deadlocked("Neo4j failed running set_follow_embeddings: a deadlock")
        return write_batch(driver, database, rows, count, tag)

    monkeypatch.setattr(embed, "_write_batch", deadlock_the_first)
    result = write_embeddings(graph, scorer, batch_size=37, workers=2, silent=True)
    assert deadlocked and result["written"] == src.size
    expected = scorer.index_embedding(scorer.index_of(src), scorer.index_of(dst))
    np.testing.assert_allclose(read_embeddings(graph, src, dst), expected, rtol=1e-5, atol=1e-6)


def test_embed_cli_json_and_status(graph, models, cli_env):
    src, dst = ring_follows()
    load(graph, src, dst)
    runner = CliRunner()
    args = ["embed", "--model-dir", str(models[1])]
    result = runner.invoke(cli, [*args, "--json"], env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["written"] == src.size and data["dims"] == 16
    assert data["index_rebuilt"] is True  # the default: drop, write, build once
    # the two-tower account vectors: one per user, and their node index
    assert data["accounts_written"] == 40 and data["account_index_state"] == "ONLINE"
    status = runner.invoke(cli, [*args, "--status", "--json"], env=cli_env, catch_exceptions=False)
    assert json.loads(status.stdout)["status"] == "fresh"
    assert json.loads(status.stdout)["index_state"] == "ONLINE"
    assert json.loads(status.stdout)["account_index_state"] == "ONLINE"
    assert json.loads(status.stdout)["without_account_vector"] == 0
    table = runner.invoke(cli, args, env=cli_env, catch_exceptions=False)
    assert "accounts_written" in table.stdout and "{" not in table.stdout  # flat, readable
    kept = runner.invoke(
        cli,
        [*args, "--keep-index", "--full", "--no-wait", "--json"],
        env=cli_env,
        catch_exceptions=False,
    )
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.stdout)["index_rebuilt"] is False
    assert json.loads(kept.stdout)["written"] == src.size
    assert _vector_index(graph)["state"] == "ONLINE"
    missing = runner.invoke(cli, ["embed", "--model-dir", "/nonexistent/model"], env=cli_env)
    assert missing.exit_code == 1
    assert missing.output.startswith("Error: no trained model in /nonexistent/model")
