"""Request and response bodies: what /openapi.json publishes, and what every request is
checked against before anything runs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictInt


class Pair(BaseModel):
    """A user and an account."""

    model_config = ConfigDict(extra="forbid")
    uid: StrictInt
    fid: StrictInt


class Feedback(Pair):
    """``dismiss``: never recommend the account to the user again; ``impression``: it was
    shown to them (counted)."""

    kind: Literal["dismiss", "impression"]


class Item(BaseModel):
    """One recommendation, with the fields of `graphrec recommend --json`."""

    rank: int
    uid: int
    score: float
    pools: list[str]
    explanation: str


class Recommendations(BaseModel):
    """A user's recommendations and the model version that ranked them."""

    uid: int
    model_version: str | None
    items: list[Item]


class Followed(BaseModel):
    """One follow written: ``created`` is false when it was there already; ``embedding`` is
    "written", or why not ("unknown to the model", "no model")."""

    uid: int
    fid: int
    created: bool
    embedding: str


class Unfollowed(BaseModel):
    """One follow removed: ``deleted`` is false when there was no such follow."""

    uid: int
    fid: int
    deleted: bool


class Marked(BaseModel):
    """One block, dismissal or impression recorded: ``created`` is false when the mark was
    there already (for an impression: when it is not the first)."""

    uid: int
    fid: int
    created: bool


class Health(BaseModel):
    """Whether Neo4j answers, the model version served, and each vector index's state
    (ONLINE, POPULATING, ...; null: there is none)."""

    neo4j: Literal["up", "down"]
    model_version: str | None
    indexes: dict[str, str | None]


class Reloaded(BaseModel):
    """The model version served now, and whether it changed."""

    model_version: str | None
    changed: bool


class Error(BaseModel):
    """What was wrong with the request, or what failed."""

    error: str
