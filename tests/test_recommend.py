"""`graphrec recommend` end to end on the tiny hand-built graph (see test_pools.py)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from click.testing import CliRunner
from test_pools import EDGES, ME, USERS, load_follows, random_model, set_flags

from graphrec import store
from graphrec.api.grouping import RequestGroups
from graphrec.cli import cli
from graphrec.embed import ensure_vector_index, write_embeddings
from graphrec.errors import UnknownUser
from graphrec.model.scorer import NumpyScorer
from graphrec.recommend import rank, service
from graphrec.recommend.pools import PoolConfig
from graphrec.recommend.service import Recommender


@pytest.fixture
def world(graph, tmp_path):
    """Tiny graph + random model + its relation embeddings; returns the model dir."""
    load_follows(graph, EDGES, USERS)
    model_dir = random_model(tmp_path / "model", USERS)
    write_embeddings(graph, NumpyScorer.load(model_dir), silent=True)
    return model_dir


def run(cli_env, *args):
    result = CliRunner().invoke(cli, list(args), env=cli_env, catch_exceptions=False)
    return result


def test_recommend_json_shape_and_exclusions(world, cli_env):
    result = run(
        cli_env, "recommend", "--user", str(ME), "-k", "5", "--model-dir", str(world), "--json"
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert 1 <= len(rows) <= 5
    for r in rows:
        assert set(r) == {"rank", "uid", "score", "pools", "explanation"}
        assert r["uid"] not in (ME, 2, 3)  # never me, never someone I follow
        assert r["pools"] and r["explanation"]
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_recommend_table_by_default(world, cli_env):
    result = run(cli_env, "recommend", "--user", str(ME), "--model-dir", str(world))
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header == ["rank", "uid", "score", "pools", "explanation"]


def test_explanations_name_the_evidence(world, driver):
    recs = {r.uid: r for r in Recommender(driver, None, world).recommend(ME, k=20)}
    assert "followed by 2 accounts you follow: " in recs[4].explanation
    assert set(recs[4].explanation.split(": ")[1].split(";")[0].split(", ")) == {"2", "3"}
    assert "friends_of_friends" in recs[4].pools


def test_unknown_user_is_a_clear_error(world, cli_env):
    result = run(cli_env, "recommend", "--user", "999", "--model-dir", str(world))
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: user 999 is not in the graph"
    assert result.stdout == ""


def test_cold_start_gets_popular_labelled(world, cli_env):
    result = run(
        cli_env, "recommend", "--user", "11", "-k", "3", "--model-dir", str(world), "--json"
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["uid"] for r in rows] == [2, 3, 4]
    assert all(r["pools"] == ["popular"] for r in rows)
    assert rows[0]["explanation"] == "popular: 3 followers"


def test_cold_start_user_with_followers_gets_them_first(world, cli_env):
    # 9 follows nobody; 7 and 8 follow 9
    result = run(
        cli_env, "recommend", "--user", "9", "-k", "4", "--model-dir", str(world), "--json"
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["uid"] for r in rows[:2]] == [7, 8]
    assert rows[0]["explanation"] == "follows you" and rows[2]["pools"] == ["popular"]
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_blocked_inactive_and_excluded_are_dropped(world, driver, cli_env, tmp_path):
    before = {r.uid for r in Recommender(driver, None, world).recommend(ME, k=50)}
    assert {4, 6, 9} <= before
    set_flags(driver, inactive=[9], blocks=[(ME, 6)])
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("# never these\n4\n")
    result = run(
        cli_env,
        "recommend",
        "--user",
        str(ME),
        "-k",
        "50",
        "--model-dir",
        str(world),
        "--exclude",
        str(exclude),
        "--json",
    )
    assert result.exit_code == 0, result.output
    after = {r["uid"] for r in json.loads(result.stdout)}
    assert after and not after & {4, 6, 9}
    # the model strategy applies the same filters
    result = run(
        cli_env,
        "recommend",
        "--user",
        str(ME),
        "-k",
        "50",
        "--model-dir",
        str(world),
        "--exclude",
        str(exclude),
        "--strategy",
        "model",
        "--json",
    )
    got = {r["uid"] for r in json.loads(result.stdout)}
    assert got and not got & {4, 6, 9, ME, 2, 3}


def test_bad_exclude_file_reports_the_line(world, cli_env, tmp_path):
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("4\nfour\n")
    result = run(
        cli_env,
        "recommend",
        "--user",
        str(ME),
        "--model-dir",
        str(world),
        "--exclude",
        str(exclude),
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {exclude}, line 2: not an integer uid: 'four'"


def test_strategy_model_scores_every_unfollowed_account(world, cli_env):
    result = run(
        cli_env,
        "recommend",
        "--user",
        str(ME),
        "-k",
        "100",
        "--model-dir",
        str(world),
        "--strategy",
        "model",
        "--json",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    scorer = NumpyScorer.load(world)
    expected = [u for u in USERS if u not in (ME, 2, 3)]
    assert sorted(r["uid"] for r in rows) == expected
    scores = scorer.score_user(int(scorer.index_of(ME)[0]), scorer.index_of(expected))
    best = expected[int(np.argmax(scores))]
    assert rows[0]["uid"] == best and rows[0]["pools"] == ["model"]


def test_batch_csv(world, cli_env, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("1\n7\n11\n")
    out = tmp_path / "recs.csv"
    result = run(
        cli_env,
        "recommend",
        "--users",
        str(users),
        "--out",
        str(out),
        "-k",
        "3",
        "--model-dir",
        str(world),
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["users"] == 3 and summary["users_per_second"] > 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["user", "rank", "uid", "score", "pools"]
    assert {r["user"] for r in rows} == {"1", "7", "11"}
    assert summary["rows"] == len(rows)
    assert [r["rank"] for r in rows if r["user"] == "11"] == ["1", "2", "3"]


def test_batch_with_unknown_user_fails_after_writing_the_rest(world, cli_env, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("1\n999\n")
    out = tmp_path / "recs.csv"
    result = run(
        cli_env,
        "recommend",
        "--users",
        str(users),
        "--out",
        str(out),
        "--model-dir",
        str(world),
        "--silent",
    )
    assert result.exit_code == 1
    assert "1 of 2 users are not in the graph: 999" in result.stderr
    assert {r["user"] for r in csv.DictReader(out.open())} == {"1"}


def test_usage_errors(world, cli_env):
    assert run(cli_env, "recommend").exit_code == 2
    assert run(cli_env, "recommend", "--users", "x.txt").exit_code == 2


def test_eight_concurrent_callers(world, driver):
    recommender = Recommender(driver, None, world)
    expected = {u: [r.uid for r in recommender.recommend(u, 5)] for u in (1, 7, 8, 11)}
    calls = [u for u in expected for _ in range(10)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda u: (u, [r.uid for r in recommender.recommend(u, 5)]), calls))
    assert len(got) == len(calls)
    assert all(uids == expected[u] for u, uids in got)


def test_many_users_at_once_get_what_each_gets_alone(world, driver):
    """recommend_many reads the users and their first pools once for all of them: each user
    still gets exactly what recommend gives it, in input order, repeats and strangers too."""
    recommender = Recommender(driver, None, world)
    uids = [7, 999, ME, 11, 8, ME, 2]
    for strategy in ("graph", "model"):
        alone = {
            u: None if u == 999 else recommender.recommend(u, 4, strategy, exclude=[9])
            for u in uids
        }
        assert alone[ME] and alone[11] and alone[7]
        got = recommender.recommend_many(uids, 4, strategy, exclude=iter([9]))
        assert got == [(u, alone[u]) for u in uids]
    heavy = Recommender(driver, None, world, PoolConfig(max_followees=1))
    assert heavy.recommend_many([ME, 7]) == [(u, heavy.recommend(u)) for u in (ME, 7)]


def test_requests_waiting_together_are_answered_as_one_group(world, driver, monkeypatch):
    recommender = Recommender(driver, None, world)
    alone = {u: recommender.recommend(u, 4) for u in (ME, 7, 8, 11, 2)}
    real_recommend, real_many = recommender.recommend, recommender.recommend_many
    busy, release, groups_asked = threading.Event(), threading.Event(), []

    def slow_recommend(uid, k=20, strategy="graph", exclude=()):
        busy.set()
        assert release.wait(30)
        return real_recommend(uid, k, strategy, exclude)

    def recommend_many(uids, k=20, strategy="graph", exclude=()):
        groups_asked.append(list(uids))
        return real_many(uids, k, strategy, exclude)

    monkeypatch.setattr(recommender, "recommend", slow_recommend)
    monkeypatch.setattr(recommender, "recommend_many", recommend_many)
    groups = RequestGroups(runners=1)
    later = (7, 8, 11, 2, 999)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(groups.recommend, recommender, ME, 4)
        assert busy.wait(30)  # the server was idle: the first request is answered alone
        rest = [pool.submit(groups.recommend, recommender, u, 4) for u in later]
        while groups.waiting < len(later):
            time.sleep(0.01)
        release.set()
        assert first.result() == alone[ME]
        assert [f.result() for f in rest[:-1]] == [alone[u] for u in later[:-1]]
        with pytest.raises(UnknownUser):
            rest[-1].result()
    assert groups_asked == [list(later)]

    monkeypatch.undo()  # many callers, two groups at a time: each gets its own answer
    groups = RequestGroups(runners=2)
    calls = [u for u in alone for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda u: groups.recommend(recommender, u, 4), calls))
    assert got == [alone[u] for u in calls]


def test_pool_1_steps_aside_while_the_index_is_gone_and_comes_back(world, driver, monkeypatch):
    recommender = Recommender(driver, None, world)
    me = recommender.user(ME)
    assert "similar_relations" in recommender.candidates(me, 5).ran
    before = [r.uid for r in recommender.recommend(ME, 5)]

    # another process rebuilds the index (`graphrec embed`) under this one
    store.write(driver, "drop_index", None, name=store.VECTOR_INDEX)
    assert "similar_relations" not in recommender.candidates(me, 5).ran
    assert recommender.recommend(ME, 5)  # answered from pools 2-4 instead of failing

    ensure_vector_index(driver, NumpyScorer.load(world).relation_dim)
    monkeypatch.setattr(service, "VECTOR_RECHECK_SECONDS", 0.0)
    assert "similar_relations" in recommender.candidates(me, 5).ran
    assert [r.uid for r in recommender.recommend(ME, 5)] == before


def test_pool_1_runs_as_the_ranker_chose_unless_told(world, driver, tmp_path):
    model_dir = tmp_path / "with-a-ranker"
    shutil.copytree(world, model_dir)
    me = Recommender(driver, None, model_dir).user(ME)
    n = len(rank.FEATURES)
    ranker = rank.Ranker(np.zeros(n), 0.0, np.zeros(n), np.ones(n), NumpyScorer.load(world).version)

    def ran(config: PoolConfig | None = None) -> list[str]:
        return Recommender(driver, None, model_dir, config).candidates(me, 5).ran

    assert "similar_relations" in ran()  # no ranker: pool 1 runs
    ranker.pools = {"similar_relations": False}
    ranker.save(model_dir)
    assert "similar_relations" not in ran()
    assert "similar_relations" in ran(PoolConfig(similar_relations=True))
    ranker.pools = {"two_tower": False}  # fitted where pool 1 could not run
    ranker.save(model_dir)
    assert "similar_relations" in ran()
    assert "similar_relations" not in ran(PoolConfig(similar_relations=False))


def test_a_recommender_holds_blas_to_one_thread(world, driver):
    from threadpoolctl import threadpool_info

    Recommender(driver, None, world)
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_recommend_does_not_import_tensorflow(world, cli_env):
    code = (
        "import sys\nfrom graphrec.cli import cli\n"
        f"try:\n    cli(['recommend', '--user', '{ME}', '--model-dir', {str(world)!r}, '--json'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'pandas', 'networkx') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    env = {**os.environ, **cli_env}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)  # it really recommended
    assert "HEAVY []" in result.stderr
