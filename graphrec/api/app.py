"""The HTTP API: exactly these paths, JSON in and out.

    GET    /users/{uid}/recommendations?k=20&strategy=graph
    POST   /follows        DELETE /follows        POST /blocks        POST /feedback
    GET    /healthz        GET    /metrics        POST /admin/reload  GET  /openapi.json

Bad input is a 4xx with {"error": "..."} that says what is wrong; a lost Neo4j is a 503, and
the process keeps running and answers again once Neo4j is back (the driver reconnects). When
GRAPHREC_API_KEY is set, every request needs it in the X-API-Key header (compared in constant
time; never logged).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import neo4j
from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from graphrec import __version__, live, store
from graphrec.api.metrics import Metrics
from graphrec.api.schemas import (
    Error,
    Feedback,
    Followed,
    Health,
    Item,
    Marked,
    Pair,
    Recommendations,
    Reloaded,
    Unfollowed,
)
from graphrec.api.serving import Serving
from graphrec.errors import (
    BadInput,
    GraphrecError,
    GraphUnavailable,
    ModelNotFound,
    StateConflict,
    UnknownUser,
)
from graphrec.paths import default_model_dir
from graphrec.settings import Settings, resolve_settings

MAX_K = 500
API_KEY_ENV = "GRAPHREC_API_KEY"
# (status, kind) of each graphrec error; the first matching class wins
STATUS = (
    (BadInput, 400, "bad_input"),
    (UnknownUser, 404, "unknown_user"),
    (ModelNotFound, 409, "no_model"),
    (StateConflict, 409, "state"),
    (GraphUnavailable, 503, "neo4j_unavailable"),
    (GraphrecError, 500, "graphrec"),
)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error} for code in (400, 401, 404, 409, 503)
}
# a body of one object, or a list of them
Pairs = Annotated[Pair | list[Pair], Body()]
Feedbacks = Annotated[Feedback | list[Feedback], Body()]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(e: RequestValidationError) -> str:
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _pairs(body: Pair | list[Pair]) -> list[live.Pair]:
    items = body if isinstance(body, list) else [body]
    return live.pairs_of([(p.uid, p.fid) for p in items])


def create_app(
    settings: Settings | None = None,
    model_dir: str | Path | None = None,
    api_key: str | None = None,
    check_seconds: float = 2.0,
) -> FastAPI:
    """The API against the Neo4j of ``settings`` and the model in ``model_dir`` (reloaded when
    a new one is published there). Neo4j must answer when it starts serving; building the app
    alone (for its OpenAPI schema) connects to nothing."""
    settings = settings or resolve_settings()
    metrics = Metrics()
    database = settings.database
    live_state: dict = {}  # the driver and Serving, while the app is running

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connection = store.open_driver(settings)
        live_state["driver"] = connection
        live_state["serving"] = Serving(
            connection,
            database,
            Path(model_dir) if model_dir is not None else default_model_dir(),
            check_seconds,
            observe=metrics.observe_pool,
        )
        try:
            yield
        finally:
            connection.close()

    def driver() -> neo4j.Driver:
        return live_state["driver"]

    def serving() -> Serving:
        return live_state["serving"]

    app = FastAPI(
        title="graphrec",
        version=__version__,
        summary="Who to follow, from a Neo4j follow graph: recommendations, live follows and "
        "feedback.",
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]):
        started = time.perf_counter()
        if api_key is not None:
            given = request.headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                response: Response = _error(401, "missing or wrong X-API-Key header")
                metrics.requests.labels("any", request.method, "401").inc()
                return response
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        metrics.errors.labels(_endpoint(request), "validation").inc()
        return _error(400, _validation_message(e))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(GraphrecError)
    async def graphrec_error(request: Request, e: GraphrecError) -> JSONResponse:
        status, kind = next((s, k) for cls, s, k in STATUS if isinstance(e, cls))
        metrics.errors.labels(_endpoint(request), kind).inc()
        return _error(status, str(e))

    @app.get("/users/{uid}/recommendations", response_model=Recommendations, responses=ERRORS)
    def recommendations(
        uid: int,
        k: int = Query(20, ge=1, le=MAX_K, description="How many accounts."),
        strategy: Literal["graph", "model"] = Query(
            "graph", description="graph: pools and ranker; model: score every account."
        ),
    ) -> Recommendations:
        """Who the user should follow, best first, each with the pools that proposed it and
        an explanation; what `graphrec recommend --json` prints."""
        recommender, recs = serving().recommend(uid, k, strategy)
        scorer = recommender.scorer
        return Recommendations(
            uid=uid,
            model_version=scorer.version if scorer is not None else None,
            items=[Item(**r.to_dict()) for r in recs],
        )

    @app.post("/follows", response_model=list[Followed], responses=ERRORS)
    def follow(body: Pairs) -> list[dict]:
        """Create the follows (and users) that are missing, each with its relation embedding
        when the model knows both uids: counted by the next recommendation at once."""
        return live.follow(driver(), _pairs(body), serving().recommender().scorer, database)

    @app.delete("/follows", response_model=list[Unfollowed], responses=ERRORS)
    def unfollow(body: Pairs) -> list[dict]:
        """Delete the follows that exist."""
        return live.unfollow(driver(), _pairs(body), database)

    @app.post("/blocks", response_model=list[Marked], responses=ERRORS)
    def block(body: Pairs) -> list[dict]:
        """The user blocks the account: it is never recommended to them. Both must exist."""
        return live.mark(driver(), "block", _pairs(body), database)

    @app.post("/feedback", response_model=list[Marked], responses=ERRORS)
    def feedback(body: Feedbacks) -> list[dict]:
        """``dismiss``: never recommend the account to the user again (stored as
        ``:DISMISSED``); ``impression``: it was shown to them (counted on ``:SHOWN``). One
        kind per request; both users must exist."""
        items = body if isinstance(body, list) else [body]
        kinds = {f.kind for f in items}
        if len(kinds) != 1:
            raise BadInput("one kind of feedback per request")
        return live.mark(driver(), kinds.pop(), _pairs(items), database)  # type: ignore[arg-type]

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz() -> JSONResponse:
        """Whether Neo4j answers, the model version served, and the vector indexes' states."""
        try:
            rows = store.read(driver(), "show_indexes", database)
        except GraphrecError:
            body = Health(neo4j="down", model_version=serving().model_version, indexes={})
            return JSONResponse(body.model_dump(), status_code=503)
        states = {r["name"]: r["state"] for r in rows}
        indexes = {name: states.get(name) for name in (store.VECTOR_INDEX, store.ACCOUNT_INDEX)}
        return JSONResponse(
            Health(neo4j="up", model_version=serving().model_version, indexes=indexes).model_dump()
        )

    @app.get("/metrics", response_class=Response)
    def prometheus() -> Response:
        """Prometheus text: requests and latency per endpoint, pool query timings, errors."""
        return Response(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.post("/admin/reload", response_model=Reloaded)
    def reload() -> Reloaded:
        """Switch to the model folder's current model now (also done by itself every few
        seconds), without failing a request in flight."""
        changed = serving().reload()
        return Reloaded(model_version=serving().model_version, changed=changed)

    generated = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, less the 422 it lists everywhere: bad input is answered 400."""
        schema = generated()
        for methods in schema["paths"].values():
            for operation in methods.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _endpoint(request: Request) -> str:
    return getattr(request.scope.get("route"), "path", "unmatched")


def app_from_env() -> FastAPI:
    """The app of `graphrec serve` (uvicorn's factory, once per worker): settings as every
    command reads them, the model folder from GRAPHREC_MODEL_DIR, the key from
    GRAPHREC_API_KEY."""
    return create_app(api_key=os.environ.get(API_KEY_ENV) or None)
