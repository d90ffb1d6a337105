"""`graphrec serve` as a client sees it: a real uvicorn process on a free port, called over
HTTP, against the test Neo4j. Live follows and feedback, bad input, the API key, Neo4j going
away and coming back, and a model reloaded under load."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_pools import EDGES, ME, USERS, load_follows, random_model, test_query

from graphrec.embed import write_embeddings
from graphrec.model import artifacts
from graphrec.model.scorer import NumpyScorer

KEY = "test-key-4f1c"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _publish_model(model_dir: Path, seed: int) -> str:
    """A new random model published at ``model_dir`` as `train` does; its version."""
    staged = artifacts.staging_dir(model_dir)
    random_model(staged, USERS, seed=seed)
    version = artifacts.read_meta(staged)["version"]
    artifacts.publish(staged, model_dir, version)
    return version


class Client:
    def __init__(self, port: int, key: str | None = KEY) -> None:
        self.base, self.key = f"http://127.0.0.1:{port}", key

    def call(self, method: str, path: str, body: object = None, raw: bytes | None = None):
        """(status, parsed JSON or text)."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.key is not None:
            request.add_header("X-API-Key", self.key)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, text


@pytest.fixture
def api(graph, cli_env, tmp_path) -> Iterator[tuple[Client, Path, subprocess.Popen]]:
    load_follows(graph, EDGES, USERS)
    model_dir = tmp_path / "models" / "live"
    _publish_model(model_dir, seed=0)
    write_embeddings(graph, NumpyScorer.load(model_dir), silent=True)
    port = _free_port()
    env = {**os.environ, **cli_env, "GRAPHREC_API_KEY": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphrec", "serve", "--port", str(port)]
        + ["--model-dir", str(model_dir)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = Client(port)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if client.call("GET", "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server never answered"
        time.sleep(0.2)
    yield client, model_dir, proc
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)
    assert KEY not in stderr  # the key is never logged


def test_recommendations_have_the_fields_of_recommend_json(api, graph):
    client, model_dir, _ = api
    status, body = client.call("GET", f"/users/{ME}/recommendations?k=5")
    assert status == 200, body
    assert body["uid"] == ME and body["model_version"] == artifacts.read_meta(model_dir)["version"]
    assert 0 < len(body["items"]) <= 5
    assert set(body["items"][0]) == {"rank", "uid", "score", "pools", "explanation"}
    status, health = client.call("GET", "/healthz")
    assert health["neo4j"] == "up" and health["indexes"]["follow_embedding"] == "ONLINE"
    status, schema = client.call("GET", "/openapi.json")
    assert {"/users/{uid}/recommendations", "/follows", "/blocks", "/feedback"} <= set(
        schema["paths"]
    )
    status, text = client.call("GET", "/metrics")
    assert 'graphrec_http_requests_total{endpoint="/users/{uid}/recommendations"' in text
    assert "graphrec_pool_query_seconds_bucket" in text


def test_a_follow_counts_in_the_next_recommendation(api):
    client, _, _ = api
    status, body = client.call("POST", "/follows", {"uid": ME, "fid": 8})
    assert status == 200, body
    assert body == [{"uid": ME, "fid": 8, "created": True, "embedding": "written"}]
    _, recs = client.call("GET", f"/users/{ME}/recommendations?k=10")
    items = {item["uid"]: item for item in recs["items"]}
    assert 8 not in items  # followed now
    assert "friends_of_friends" in items[10]["pools"]  # 8's neighbourhood shows up
    assert client.call("DELETE", "/follows", [{"uid": ME, "fid": 8}])[1][0]["deleted"] is True


def test_dismiss_and_block_then_recommend(api):
    client, _, _ = api
    _, recs = client.call("GET", f"/users/{ME}/recommendations?k=10")
    first, second = recs["items"][0]["uid"], recs["items"][1]["uid"]
    assert client.call("POST", "/feedback", {"uid": ME, "fid": first, "kind": "dismiss"})[0] == 200
    assert client.call("POST", "/blocks", [{"uid": ME, "fid": second}])[0] == 200
    status, body = client.call("POST", "/feedback", {"uid": ME, "fid": 4, "kind": "impression"})
    assert status == 200 and body[0]["created"] is True
    _, recs = client.call("GET", f"/users/{ME}/recommendations?k=10")
    assert not {first, second} & {item["uid"] for item in recs["items"]}


def test_the_api_key_is_required(api):
    client, _, _ = api
    port = int(client.base.rsplit(":", 1)[1])
    for key in (None, "wrong"):
        status, body = Client(port, key).call("GET", f"/users/{ME}/recommendations")
        assert status == 401 and "X-API-Key" in body["error"]


BAD_INPUT = [
    ("GET", "/users/999/recommendations", None, 404, "user 999 is not in the graph"),
    ("GET", "/users/abc/recommendations", None, 400, "uid"),
    ("GET", f"/users/{ME}/recommendations?k=0", None, 400, "k"),
    ("GET", f"/users/{ME}/recommendations?k=100000", None, 400, "k"),
    ("GET", f"/users/{ME}/recommendations?strategy=magic", None, 400, "strategy"),
    ("POST", "/follows", {"uid": ME}, 400, "fid"),
    ("POST", "/follows", {"uid": "one", "fid": 2}, 400, "uid"),
    ("POST", "/follows", [{"uid": 5, "fid": 6}, {"uid": 7, "fid": 7}], 400, "pair 2"),
    ("POST", "/blocks", {"uid": ME, "fid": 999}, 404, "both users must be in the graph"),
    ("POST", "/feedback", {"uid": ME, "fid": 4, "kind": "love"}, 400, "kind"),
    ("POST", "/follows", b"{not json", 400, "JSON"),
]


def test_bad_input_is_a_4xx_that_says_what_is_wrong(api, graph):
    client, _, _ = api
    for method, path, body, status, says in BAD_INPUT:
        raw = body if isinstance(body, bytes) else None
        got, answer = client.call(method, path, None if raw else body, raw=raw)
        assert got == status, (method, path, body, answer)
        assert says.lower() in answer["error"].lower(), (method, path, body, answer)
    follows = graph.execute_query(test_query("count_follows")).records[0]["follows"]
    assert follows == len(EDGES)  # nothing half-written


def test_a_new_model_is_served_under_load_without_a_failed_request(api):
    client, model_dir, _ = api
    old = artifacts.read_meta(model_dir)["version"]
    failures, versions, stop = [], set(), threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            status, body = client.call("GET", f"/users/{ME}/recommendations?k=5")
            if status != 200:
                failures.append((status, body))
            else:
                versions.add(body["model_version"])

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while not versions:  # requests are flowing on the old model
        assert time.monotonic() < deadline and not failures, failures
        time.sleep(0.05)
    new = _publish_model(model_dir, seed=1)
    status, reloaded = client.call("POST", "/admin/reload")
    while new not in versions and not failures:  # ... and then on the new one
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stop.set()
    for w in workers:
        w.join()
    # "changed" is False when a request's own look for a new model found it first
    assert status == 200 and reloaded["model_version"] == new
    assert failures == []
    assert versions == {old, new}
    # with no requests in between, the reload is what switches, and only once (the first call
    # waits out a look for a model that the last requests started)
    client.call("POST", "/admin/reload")
    time.sleep(1.0)
    newer = _publish_model(model_dir, seed=2)
    assert client.call("POST", "/admin/reload") == (200, {"model_version": newer, "changed": True})
    assert client.call("POST", "/admin/reload") == (200, {"model_version": newer, "changed": False})

    # without being told: the server notices the next model within a few seconds
    newer = _publish_model(model_dir, seed=2)
    deadline = time.monotonic() + 30
    while client.call("GET", f"/users/{ME}/recommendations?k=5")[1]["model_version"] != newer:
        assert time.monotonic() < deadline, "the new model was never picked up"
        time.sleep(0.2)


def test_neo4j_going_away_is_a_503_and_the_server_recovers(api, neo4j_server):
    client, _, proc = api
    neo4j_server.stop(log=lambda m: None)
    try:
        status, body = client.call("GET", f"/users/{ME}/recommendations")
        assert status == 503 and "Neo4j" in body["error"]
        assert client.call("GET", "/healthz")[0] == 503
    finally:
        neo4j_server.start(log=lambda m: None)
    deadline = time.monotonic() + 60
    while client.call("GET", f"/users/{ME}/recommendations")[0] != 200:
        assert time.monotonic() < deadline, "never recovered"
        time.sleep(0.5)
    assert proc.poll() is None  # it kept running throughout


def test_the_api_reference_in_docs_is_written_from_the_schema():
    from graphrec.api.reference import markdown, schema

    written = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    assert written == markdown(schema()), "run: python -m graphrec.api.reference > docs/api.md"
