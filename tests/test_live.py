"""Live changes (graphrec.live, `graphrec follow/unfollow/block/dismiss`) against the test
Neo4j: idempotent, all or nothing, and counted by the next recommendation without retraining."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from click.testing import CliRunner
from test_pools import ME, test_query
from test_recommend import world  # noqa: F401  (the shared tiny-graph fixture)

from graphrec import live
from graphrec.cli import cli
from graphrec.embed import model_tag
from graphrec.errors import GraphrecError
from graphrec.model.scorer import NumpyScorer
from graphrec.recommend.service import Recommender


def _one(graph, name: str, **params):
    records = graph.execute_query(test_query(name), params).records
    return records[0] if records else None


def test_a_follow_is_in_the_vector_index_and_the_next_recommendation_at_once(world, graph):
    scorer = NumpyScorer.load(world)
    recommender = Recommender(graph, None, world)
    before = {r.uid for r in recommender.recommend(ME, k=10)}
    assert 10 in before or 8 in before  # 8 -> 10 is out there, two steps from 1

    (result,) = live.follow(graph, live.pairs_of([(ME, 8)]), scorer)
    assert result == {"uid": ME, "fid": 8, "created": True, "embedding": "written"}
    stored = _one(graph, "read_follow_embedding", uid=ME, fid=8)
    expected = scorer.index_embedding(scorer.index_of([ME]), scorer.index_of([8]))[0]
    assert np.allclose(stored["embedding"], expected, atol=1e-6)
    assert stored["model"] == model_tag(scorer.version)
    nearest = graph.execute_query(
        test_query("nearest_follows"), n=1, vector=expected.astype(float).tolist()
    ).records
    assert (nearest[0]["uid"], nearest[0]["fid"]) == (ME, 8)  # indexed: found by its vector

    after = recommender.recommend(ME, k=10)
    assert 8 not in {r.uid for r in after}  # followed now
    ten = next(r for r in after if r.uid == 10)  # 8's follows are friends of friends now
    assert "friends_of_friends" in ten.pools and "8" in ten.explanation


def test_follow_is_idempotent_and_takes_new_users(world, graph):
    scorer = NumpyScorer.load(world)
    pairs = live.pairs_of([(ME, 8), (50, ME)])
    first = live.follow(graph, pairs, scorer)
    assert [r["created"] for r in first] == [True, True]
    assert first[1]["embedding"] == "unknown to the model"  # 50 is new to the graph and model
    again = live.follow(graph, pairs, scorer)
    assert [r["created"] for r in again] == [False, False]
    assert _one(graph, "read_follow_embedding", uid=ME, fid=8)["n"] == 1
    assert live.follow(graph, live.pairs_of([(51, 52)]))[0]["embedding"] == "no model"


def test_unfollow_deletes_once(world, graph):
    pairs = live.pairs_of([(ME, 2)])
    assert live.unfollow(graph, pairs) == [{"uid": ME, "fid": 2, "deleted": True}]
    assert live.unfollow(graph, pairs) == [{"uid": ME, "fid": 2, "deleted": False}]
    assert _one(graph, "read_follow_embedding", uid=ME, fid=2) is None


def test_a_dismissed_account_is_never_recommended_again(world, graph):
    recommender = Recommender(graph, None, world)
    top = recommender.recommend(ME, k=3)[0].uid
    assert live.mark(graph, "dismiss", live.pairs_of([(ME, top)]))[0]["created"] is True
    assert live.mark(graph, "dismiss", live.pairs_of([(ME, top)]))[0]["created"] is False
    assert top not in {r.uid for r in recommender.recommend(ME, k=10)}
    assert top not in {r.uid for r in recommender.recommend(ME, k=10, strategy="model")}
    assert _one(graph, "count_marks")["dismissed"] == 1


def test_marks_are_all_or_nothing(world, graph):
    with pytest.raises(GraphrecError, match="cannot block 999 for 2"):
        live.mark(graph, "block", live.pairs_of([(ME, 4), (2, 999)]))
    assert _one(graph, "count_marks")["blocks"] == 0  # the good pair was not written either
    live.mark(graph, "block", live.pairs_of([(ME, 4)]))
    assert 4 not in {r.uid for r in Recommender(graph, None, world).recommend(ME, k=10)}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([(3, 3)], "pair 1: a user cannot follow, block or dismiss itself"),
        ([(1, 2), (1, "x")], "pair 2: fid must be an integer"),
        ([(True, 2)], "pair 1: uid must be an integer"),
        ([(2**63, 2)], "pair 1: uid 9223372036854775808 is out of range"),
        ([], "no pairs given"),
    ],
)
def test_bad_pairs_are_refused_before_anything_is_written(pairs, message):
    with pytest.raises(GraphrecError, match=message):
        live.pairs_of(pairs)


def test_writers_at_once_never_duplicate_a_follow(world, graph):
    scorer = NumpyScorer.load(world)
    pairs = [(u, f) for u in range(20, 30) for f in range(30, 40)]

    def write(seed: int) -> None:
        order = np.random.default_rng(seed).permutation(len(pairs))
        for j in range(0, len(order), 10):
            live.follow(graph, live.pairs_of([pairs[i] for i in order[j : j + 10]]), scorer)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    counts = [_one(graph, "read_follow_embedding", uid=u, fid=f)["n"] for u, f in pairs]
    assert counts == [1] * len(pairs)


def test_the_cli_commands(world, cli_env):
    env = {**cli_env, "GRAPHREC_MODEL_DIR": str(world)}
    runner = CliRunner()
    done = runner.invoke(cli, ["follow", str(ME), "8", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == [
        {"uid": ME, "fid": 8, "created": True, "embedding": "written"}
    ]
    for command in ("dismiss", "block", "unfollow"):
        result = runner.invoke(cli, [command, str(ME), "8"], env=env)
        assert result.exit_code == 0, result.output
    bad = runner.invoke(cli, ["dismiss", str(ME), "999"], env=env)
    assert bad.exit_code == 1 and bad.output.strip().startswith("Error: cannot dismiss 999")
    self_follow = runner.invoke(cli, ["follow", "5", "5"], env=env)
    assert (
        self_follow.exit_code == 1
        and "cannot follow, block or dismiss itself" in self_follow.output
    )
