"""Evaluation hides held-out follows from itself only, and the ranker is fitted and used."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_pools import ME, load_follows, random_model, test_query
from test_recommend import world  # noqa: F401  (the shared tiny-graph fixture)

from graphrec import store
from graphrec.cli import cli
from graphrec.embed import write_embeddings
from graphrec.evaluation import holdout
from graphrec.evaluation.pipeline import evaluate_pipeline
from graphrec.locks import LEASE_SECONDS
from graphrec.model.artifacts import VALIDATION
from graphrec.model.scorer import NumpyScorer
from graphrec.recommend.pools import POOLS, PoolConfig, PoolRunner
from graphrec.recommend.rank import RANKER, Ranker
from graphrec.recommend.service import Recommender


def _follows(driver, uid, hidden=None):
    return sorted(store.read(driver, "user_follows", None, uids=[uid], hidden=hidden)[0]["follows"])


def _followers(driver, hidden=None):
    rows = store.read(driver, "pool_popular", None, limit=99, hidden=hidden)
    return {r["uid"]: r["followers"] for r in rows}


def _marks(driver) -> int:
    """Follows and users that carry an evaluation run's marks."""
    records, _, _ = driver.execute_query(test_query("count_hidden_marks"))
    return records[0]["marks"]


WIDE = PoolConfig(neighbours=50, evidence=50)


def test_hidden_follows_are_invisible_to_the_run_only(world, driver):
    followers = _followers(driver)
    live = Recommender(driver, None, world)
    before = [r.to_dict() for r in live.recommend(ME, k=50)]
    with holdout.hidden_follows(driver, [(1, 2), (7, 9), (1, 2)]) as hidden:
        assert hidden.hidden == 2 and hidden.of(1) == {2}
        assert _follows(driver, 1, hidden.run) == [3]
        assert _followers(driver, hidden.run)[2] == followers[2] - 1
        # the vector index still returns 1->2, but the run's pool 1 drops it: with 1->2
        # hidden, 7 is only reachable through 7->3, and nobody through 2 from user 1
        runner = PoolRunner(driver, None, WIDE, hidden.run)
        rows, _ = runner.similar_relations(ME, [2, 3], limit=100)
        assert all(2 not in r["via"] for r in rows)
        recs = Recommender(driver, None, world, hidden=hidden.run).recommend(ME, k=50)
        assert 2 in {r.uid for r in recs}  # 2 is a candidate again (3 follows it)
        # everyone else still sees every follow, and gets what they got before
        assert _follows(driver, 1) == [2, 3]
        assert _followers(driver) == followers
        assert [r.to_dict() for r in live.recommend(ME, k=50)] == before
    assert _marks(driver) == 0
    assert _follows(driver, 1) == [2, 3]
    rows, _ = PoolRunner(driver, None, WIDE).similar_relations(ME, [2], limit=100)
    assert any(2 in r["via"] for r in rows)


def test_leftovers_of_an_older_version_are_restored(world, driver):
    # graphrec once moved held-out follows to HELDOUT; a run killed then left them there
    driver.execute_query(test_query("move_to_held_out"), rows=[[1, 2]])
    assert _follows(driver, 1) == [3]
    with holdout.hidden_follows(driver, [(8, 10)]) as hidden:
        assert _follows(driver, 1, hidden.run) == [2, 3]
        assert _follows(driver, 8, hidden.run) == [3, 9]
    assert _follows(driver, 8) == [3, 9, 10]
    assert holdout.restore(driver) == 0


def _pool_view(result) -> dict:
    """What a pool run proposed, comparable across runs (floats rounded)."""

    def rounded(value):
        return round(value, 9) if isinstance(value, float) else value

    return {
        c.uid: (
            c.followers,
            sorted(c.pools),
            {p: {k: rounded(v) for k, v in e.items()} for p, e in c.evidence.items()},
        )
        for c in result.candidates.values()
    }


def test_hiding_follows_is_the_same_as_deleting_them(graph, tmp_path):
    """Every pool sees, for every user, exactly what it would see in a graph without the
    hidden follows: candidates, positions, evidence and degree-based counts."""
    edges, users, model = _community_model(graph, tmp_path)
    rng = np.random.default_rng(5)
    by_user: dict[int, list[int]] = {}
    for u, f in edges:
        by_user.setdefault(u, []).append(f)
    pairs = [(u, int(rng.choice(fs))) for u, fs in sorted(by_user.items()) if len(fs) >= 3]
    probe = users[::7]
    cfg = PoolConfig(min_candidates=400)  # every pool, popular included

    def views(recommender):
        return {u: _pool_view(recommender.candidates(recommender.user(u), 20)) for u in probe}

    with holdout.hidden_follows(graph, pairs) as hidden:
        assert hidden.hidden == len(pairs)
        seen_hidden = views(Recommender(graph, None, model, cfg, hidden=hidden.run))
    graph.execute_query(test_query("delete_test_follows"), rows=[list(p) for p in pairs])
    store.refresh_popular(graph)  # as a load would after changing the graph
    assert views(Recommender(graph, None, model, cfg)) == seen_hidden


def test_overlapping_runs_take_turns_and_a_killed_one_is_cleaned_up(world, driver, settings):
    order: list[str] = []
    inside = threading.Event()

    def first():
        with holdout.hidden_follows(driver, [(1, 2)]) as hidden:
            order.append("first in")
            inside.set()
            time.sleep(1.5)
            assert _follows(driver, 1, hidden.run) == [3]  # the second run has not undone it
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(30)
    with holdout.hidden_follows(driver, [(8, 10)]) as hidden:
        order.append("second in")
        assert _follows(driver, 1, hidden.run) == [2, 3]
    thread.join()
    assert order == ["first in", "first out", "second in"]

    # a run killed by SIGKILL while it holds the lock, with its follows hidden
    script = (
        "import sys, time\n"
        "from graphrec import store\n"
        "from graphrec.evaluation import holdout\n"
        "from graphrec.locks import graph_lock\n"
        "from graphrec.settings import Settings\n"
        "d = store.open_driver(Settings(sys.argv[1], 'neo4j', sys.argv[2]))\n"
        "with graph_lock(d, holdout.LOCK, 'a test run'):\n"
        "    holdout._mark(d, 'hide_follows', [[1, 2], [7, 9]], 'killed', None, 100, True)\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, settings.uri, settings.password],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert _follows(driver, 1) == [2, 3]  # nothing that serves users sees its marks
    assert _marks(driver) > 0
    started = time.monotonic()
    with holdout.hidden_follows(driver, [(8, 10)]) as hidden:
        # its process is gone from this machine: no wait for its lease to run out
        assert time.monotonic() - started < LEASE_SECONDS / 2
        assert _follows(driver, 1, hidden.run) == [2, 3]
        assert _follows(driver, 8, hidden.run) == [3, 9]
    assert _marks(driver) == 0


def test_evaluate_pipeline_holds_out_for_real(world, driver):
    # user 1's held-out 2 is reachable (3 follows 2) only if 1->2 is really gone; user 8's
    # held-out 10 has no other follower, so nothing can find it
    np.savez(world / "holdout.npz", users=np.array([1, 8]), items=np.array([2, 10]))
    result = evaluate_pipeline(driver, None, world, n_users=10, seed=0)
    assert result["pipeline"]["users"] == 2
    assert result["pipeline"]["hr@50"] == 0.5
    assert result["pipeline"]["pool_recall"] == 0.5
    assert all(isinstance(figures, dict) for figures in result.values())
    assert result["pool:friends_of_friends"]["hr@10"] == 0.5
    assert result["pool:popular"]["hr@50"] <= 0.5
    assert {
        "pipeline",
        "pool_model",
        "pool:similar_relations",
        "pool:followers_of_followees",
        "pool:follows_you",
        "without:friends_of_friends",
    } <= set(result)
    assert result["pool:friends_of_friends"]["pool_recall"] == 0.5
    assert result["pool:popular"]["pool_recall"] <= 0.5
    # both users follow 1-4 accounts once their held-out follow is gone
    by_degree = result["pipeline"]["pool_recall_by_out_degree"]
    assert by_degree["1-4"] == {"users": 2, "pool_recall": 0.5}
    assert by_degree["5-19"]["users"] == by_degree["100+"]["users"] == 0
    assert result["pool:friends_of_friends"]["pool_recall_by_out_degree"]["1-4"] == {
        "users": 2,
        "pool_recall": 0.5,
    }
    for pool in POOLS:  # an ablation ranks a subset of the merged pool
        assert result[f"without:{pool}"]["hr@50"] <= result["pipeline"]["pool_recall"]
        assert result[f"pool:{pool}"]["pool_recall"] <= result["pipeline"]["pool_recall"]
    assert _follows(driver, 1) == [2, 3] and _follows(driver, 8) == [3, 9, 10]
    assert holdout.held_out_count(driver) == 0


def _all_follows(driver):
    rows = store.read(driver, "sample_followers", None, min_follows=1)
    return sorted((r["uid"], f) for r in rows for f in r["follows"])


def community_edges(n: int = 160, groups: int = 4, per_user: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    size = n // groups
    edges = set()
    for u in range(n):
        g = u // size
        inside = rng.choice(np.arange(g * size, (g + 1) * size), per_user, replace=False)
        edges.update((u, int(v)) for v in inside if v != u)
        edges.add((u, int(rng.integers(n))))
    return sorted((u + 100, v + 100) for u, v in edges if u != v)


def _community_model(graph, tmp_path) -> tuple[list[tuple[int, int]], list[int], Path]:
    """The community graph loaded into Neo4j, its users and an untrained model over them."""
    edges = community_edges()
    users = sorted({u for e in edges for u in e})
    load_follows(graph, edges)
    return edges, users, random_model(tmp_path / "model", users, seed=3)


def _fit_ranker_cli(model_dir: Path, n_users: int, cli_env: dict) -> dict:
    result = CliRunner().invoke(
        cli,
        ["fit-ranker", "--model-dir", str(model_dir), "--users", str(n_users), "--json"],
        env=cli_env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fit_ranker_is_saved_and_used(graph, tmp_path, cli_env):
    _, users, model_dir = _community_model(graph, tmp_path)
    write_embeddings(graph, NumpyScorer.load(model_dir), silent=True)
    before = _all_follows(graph)
    figures = _fit_ranker_cli(model_dir, 60, cli_env)
    assert figures["users"] == 60 and figures["positives"] >= 2
    assert (model_dir / RANKER).exists()
    ranker = Ranker.load(model_dir)
    assert ranker is not None and ranker.model_version == NumpyScorer.load(model_dir).version
    recommender = Recommender(graph, None, model_dir)
    assert recommender.ranker is not None
    recs = recommender.recommend(users[0], k=10)
    assert len(recs) == 10 and all(0.0 <= r.score <= 1.0 for r in recs)
    assert set(figures["coefficients"]) == set(ranker.to_dict()["features"])
    assert _all_follows(graph) == before  # the hidden training follows are back
    # pool 1 ran for the fit (index ONLINE), so it was a choice, and the choice is recorded
    assert set(figures["pool_choice"]["hr@10"]) >= {"none", "similar_relations"}
    chosen = "similar_relations" in figures["pool_choice"]["chosen"]
    assert figures["pools"]["similar_relations"] is chosen
    assert recommender.config.similar_relations is chosen


def test_fit_ranker_learns_from_the_models_validation_follows(graph, tmp_path, cli_env):
    edges, _, model_dir = _community_model(graph, tmp_path)
    by_user: dict[int, int] = {}
    for u, f in edges:
        by_user.setdefault(u, f)
    pairs = sorted(by_user.items())[:40]
    np.savez(
        model_dir / VALIDATION,
        users=np.array([u for u, _ in pairs]),
        items=np.array([f for _, f in pairs]),
    )
    before = _all_follows(graph)
    figures = _fit_ranker_cli(model_dir, 30, cli_env)
    assert figures["hidden_follows"] == "validation" and figures["users"] == 30
    assert _all_follows(graph) == before
    # no embeddings, so pool 1 never ran: no choice is recorded, and it runs once it can
    assert "similar_relations" not in figures["pools"]
    assert Recommender(graph, None, model_dir).config.similar_relations is True


def test_features_are_relative_to_the_users_own_pool():
    from graphrec.recommend.pools import Candidate
    from graphrec.recommend.rank import F, ModelScores, features

    def pool(scale):
        cands = []
        for i, paths in enumerate([1, 2, 4]):
            c = Candidate(i, followers=10)
            c.add("followers_of_followees", 10, paths=paths * scale, cofollow=0)
            cands.append(c)
        return features(cands, ModelScores(np.array([0.1, 0.5, 0.2]), np.ones(3, bool)))

    light, heavy = pool(1), pool(100)
    assert np.allclose(light, heavy)  # a heavy user's big counts mean the same as a light's
    assert light[:, F["cof_rel"]].tolist() == [0.25, 0.5, 1.0]
    assert light[:, F["cof_rank"]].argmax() == 2 and light[:, F["model_rank"]].argmax() == 1
    assert light[:, F["model_rel"]].max() == 0.0


@pytest.mark.parametrize(
    "pool,key,feature",
    [
        ("similar_relations", "paths", "sim_rel"),
        ("similar_relations", "n_via", "sim_shared_rel"),
        ("friends_of_friends", "paths", "fof_rel"),
        ("friends_of_friends", "adamic_adar", "aa_rel"),
        ("followers_of_followees", "paths", "cof_rel"),
        ("followers_of_followees", "cofollow", "cofollow_rel"),
        ("followers_of_followees", "cosine", "cos_rel"),
        ("expansion", "paths", "expansion_rel"),
        ("similar_followees", "paths", "simf_rel"),
        ("followers_of_followees", "rp3", "rp3_rel"),
    ],
)
def test_each_piece_of_pool_evidence_reaches_its_feature(pool, key, feature):
    from graphrec.recommend.pools import Candidate
    from graphrec.recommend.rank import F, ModelScores, features

    cands = [Candidate(i) for i in range(3)]
    cands[0].add(pool, 5, **{key: 2.0})
    cands[1].add(pool, 5, **{key: 4.0})
    cands[2].add("popular", 5)
    x = features(cands, ModelScores.unknown(3))
    assert x[:, F[feature]].tolist() == [0.5, 1.0, 0.0]
    others = [
        i for name, i in F.items() if name.endswith("_rel") and name not in (feature, "model_rel")
    ]
    assert not x[:, others].any()


def test_follows_you_features_carry_how_much_the_user_follows_back():
    from graphrec.recommend.pools import Candidate
    from graphrec.recommend.rank import F, ModelScores, features

    cands = [Candidate(i) for i in range(3)]
    cands[0].add("follows_you", 5, returned=0.8, unreturned=3)
    cands[1].add("follows_you", 5, returned=0.8, unreturned=3)
    cands[1].add("friends_of_friends", 5, paths=1)
    cands[2].add("friends_of_friends", 5, paths=2)
    x = features(cands, ModelScores.unknown(3))
    assert x[:, F["follows_you"]].tolist() == [1.0, 1.0, 0.0]
    assert x[:, F["follows_you_returned"]].tolist() == [0.8, 0.8, 0.0]
    assert x[0, F["follows_you_few"]] == pytest.approx(1 / (1 + np.log1p(3)))
    assert x[2, F["follows_you_few"]] == 0.0


@pytest.mark.parametrize(
    "part,rel,rank", [("mf", "mf_rel", "mf_rank"), ("towers", "tt_rel", "tt_rank")]
)
def test_dot_product_features_rank_among_known_candidates(part, rel, rank):
    from graphrec.recommend.pools import Candidate
    from graphrec.recommend.rank import F, ModelScores, features

    cands = [Candidate(i) for i in range(3)]
    known = np.array([True, True, False])
    scores = ModelScores(np.zeros(3), known, **{part: np.array([0.5, 2.0, 9.0])})
    x = features(cands, scores)
    assert x[:, F[rel]].tolist() == [-1.5, 0.0, -1.5]  # unknown: the known minimum
    assert x[1, F[rank]] == 1.0 and x[2, F[rank]] < 1.0
    assert not features(cands, ModelScores(np.zeros(3), known))[:, [F[rel], F[rank]]].any()


def test_fit_logistic_finds_the_signal():
    from graphrec.recommend.rank import fit_logistic

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 1] + 0.1 * rng.normal(size=2000) > 1.0).astype(float)
    coef, _, _, _ = fit_logistic(x, y)
    assert np.argmax(np.abs(coef)) == 1 and coef[1] > 0
