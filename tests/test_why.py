"""`graphrec why` on the tiny hand-built graph of test_pools.py, and the why-graph itself.

    1 -> 2, 3          2 -> 4, 5, 1        3 -> 4, 6, 2
    7 -> 2, 3, 9       8 -> 3, 9, 10       11 has no follows

For user 1: 4 is a friend of friends through 2 and 3; 9 is followed by 7 and 8, who follow
accounts 1 follows (co-followers). User 9 follows nobody; 7 and 8 follow 9.
"""

from __future__ import annotations

import json
import struct

import networkx as nx
from test_pools import EDGES, ME
from test_recommend import run, world  # noqa: F401  (the shared tiny-graph fixture)

from graphrec.recommend import why
from graphrec.recommend.picture import layout

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def recommend_json(cli_env, model_dir, uid: int, k: int) -> list[dict]:
    result = run(
        cli_env, "recommend", "--user", str(uid), "-k", str(k), "--model-dir", str(model_dir),
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def kinds(graph: nx.DiGraph) -> dict[tuple[int, int], str]:
    return {(a, b): k for a, b, k in graph.edges(data="kind")}


# -- the command, against Neo4j ------------------------------------------------------------


def test_graphml_holds_the_user_the_ranked_accounts_and_their_paths(world, cli_env, tmp_path):
    out = tmp_path / "why.graphml"
    result = run(
        cli_env, "why", "--user", str(ME), "-k", "8", "--model-dir", str(world),
        "--graphml", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout

    g = nx.read_graphml(out, node_type=int)
    assert g.is_directed()
    assert g.nodes[ME]["role"] == "user"
    expected = recommend_json(cli_env, world, ME, 8)
    recs = {n: d for n, d in g.nodes(data=True) if d["role"] == "recommended"}
    assert {n: d["rank"] for n, d in recs.items()} == {r["uid"]: r["rank"] for r in expected}
    assert all(isinstance(d["score"], float) for d in recs.values())
    edge = kinds(g)
    # 4, a friend of friends, came through 2 and 3, both followed by the user
    assert 4 in recs and "friends_of_friends" in recs[4]["pools"]
    for followee in (2, 3):
        assert g.nodes[followee]["role"] == "follows"
        assert edge[(ME, followee)] == "follows"
        assert edge[(followee, 4)] == "friend_of_friend"
    # 9 came through the co-followers 7 and 8, who follow accounts the user follows
    assert 9 in recs and "followers_of_followees" in recs[9]["pools"]
    assert edge[(7, 9)] == "via" and edge[(8, 9)] == "via"
    assert edge[(7, 2)] == "shared_follow" and edge[(8, 3)] == "shared_follow"
    # nothing the user does not follow is drawn as a follow, every edge is a real follow
    assert {n for n, d in g.nodes(data=True) if d["role"] == "follows"} <= {2, 3}
    real = set(EDGES)
    assert set(edge) <= real


def test_png_is_a_picture(world, cli_env, tmp_path):
    out = tmp_path / "why.png"
    result = run(cli_env, "why", "--user", str(ME), "--model-dir", str(world), "--png", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 600 and height >= 600
    assert len(data) > 20_000  # drawn, not blank


def test_text_summary_lists_each_recommendation_with_its_paths(world, cli_env):
    result = run(cli_env, "why", "--user", str(ME), "-k", "8", "--model-dir", str(world))
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"Why user {ME} gets these accounts")
    for r in recommend_json(cli_env, world, ME, 8):
        assert f"#{r['rank']}  {r['uid']}  " in text
    assert "you -> 2 -> 4" in text and "you -> 3 -> 4" in text
    assert "you -> 2, 3 <- 7" in text


def test_json_of_a_cold_start_user_shows_who_follows_them(world, cli_env):
    result = run(cli_env, "why", "--user", "9", "-k", "4", "--model-dir", str(world), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["user"] == 9 and data["follows_total"] == 0
    roles = {n["id"]: n["role"] for n in data["nodes"]}
    assert roles[9] == "user" and roles[7] == "recommended" and roles[8] == "recommended"
    edges = {(e["source"], e["target"]): e["kind"] for e in data["edges"]}
    assert edges[(7, 9)] == "follows_you" and edges[(8, 9)] == "follows_you"
    assert [n["rank"] for n in data["nodes"] if n["role"] == "recommended"] == [1, 2, 3, 4]


def test_unknown_user_is_an_error(world, cli_env, tmp_path):
    out = tmp_path / "why.png"
    result = run(cli_env, "why", "--user", "999", "--model-dir", str(world), "--png", str(out))
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: user 999 is not in the graph"
    assert result.stdout == "" and not out.exists()


def test_unwritable_file_is_an_error(world, cli_env, tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "why.graphml"
    result = run(cli_env, "why", "--user", str(ME), "--graphml", str(missing))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {missing}: no folder ")
    result = run(cli_env, "why", "--user", str(ME), "--png", str(tmp_path))
    assert result.exit_code != 0  # a folder: refused by the option or by the check
    assert "Error:" in result.stderr


# -- the graph, without Neo4j --------------------------------------------------------------


def reason(rank: int, uid: int, **evidence: dict) -> why.Reason:
    return why.Reason(rank, uid, 1.0 / rank, tuple(evidence), "because", evidence)


def test_build_keeps_the_follows_on_the_most_paths():
    # user 1 follows 10..14; 20 comes through 10, 11, 12; 21 through 10; 22 follows 13
    reasons = [
        reason(1, 20, friends_of_friends={"via": [10, 11, 12], "paths": 3}),
        reason(2, 21, friends_of_friends={"via": [10], "paths": 1}),
        reason(3, 22, similar_relations={"via": [13], "n_via": 1}, follows_you={}),
        reason(4, 23, popular={}),
    ]
    g = why.build(1, [10, 11, 12, 13, 14], reasons, max_follows=2)
    assert {n for n, r in g.nodes(data="role") if r == "follows"} == {10, 11}
    assert g.graph["follows_total"] == 5 and g.graph["follows_shown"] == 2
    assert g.nodes[10]["explains"] == 2
    assert kinds(g) == {
        (1, 10): "follows",
        (1, 11): "follows",
        (10, 20): "friend_of_friend",
        (11, 20): "friend_of_friend",
        (10, 21): "friend_of_friend",
        (22, 1): "follows_you",
    }
    assert why.recommended(g) == [20, 21, 22, 23]  # 23 (popular) has no path but is shown
    assert why.paths(g, 22) == ["22 -> you"]


def test_build_links_co_followers_to_the_follows_they_share():
    # 30 is a co-follower (not followed) who follows 10, as the user does, and 20; 21 is itself
    # a co-follower (it follows 12); 20 follows 11, but that was no reason to propose it
    reasons = [
        reason(1, 20, followers_of_followees={"via": [30], "paths": 1, "cofollow": 0}),
        reason(2, 21, followers_of_followees={"via": [], "paths": 0, "cofollow": 1}),
    ]
    links = [(30, 10), (30, 20), (30, 1), (20, 11), (21, 12)]
    g = why.build(1, [10, 11, 12], reasons, links)
    assert dict(g.nodes(data="role")) == {
        1: "user",
        20: "recommended",
        21: "recommended",
        30: "via",
        10: "follows",
        12: "follows",
    }
    assert kinds(g) == {
        (30, 20): "via",
        (30, 10): "shared_follow",
        (21, 12): "shared_follow",
        (1, 10): "follows",
        (1, 12): "follows",
    }  # (30, 1): a via account following the user explains nothing
    assert why.paths(g, 20) == ["you -> 10 <- 30 -> 20"]
    assert why.paths(g, 21) == ["you -> 12 <- 21"]
    pos = layout(g)
    assert set(pos) == set(g)
    assert pos[1][0] < pos[10][0] < pos[30][0] < pos[20][0]  # left to right: user ... recs
    assert pos[20][1] > pos[21][1]  # #1 above #2


def test_build_bounds_the_via_accounts():
    via = list(range(100, 140))
    reasons = [
        reason(1, 20, similar_followees={"via": via, "n_via": len(via)}),
        reason(2, 21, similar_followees={"via": via[-2:], "n_via": 2}),
    ]
    g = why.build(1, [10], reasons, max_via=5, via_each=10)
    shown = {n for n, r in g.nodes(data="role") if r == "via"}
    assert shown == {138, 139, 100, 101, 102}  # the two behind both recommendations first
    assert g.graph["via_total"] == len(via) and g.graph["via_shown"] == 5
    g = why.build(1, [10], reasons, max_via=5, via_each=1)
    assert {a for a, b, k in g.edges(data="kind") if k == "via"} == {138}
    assert g.graph["via_shown"] == 1
