"""``graphrec why``: one user's recommendations as a small follow graph, with the paths behind
each account.

The graph is a networkx ``DiGraph`` keyed by uid. Every edge is a real FOLLOWS relationship, in
its own direction; its ``kind`` says what it shows:

* ``follows`` -- the user follows the account (user -> follows)
* ``friend_of_friend`` -- an account the user follows follows the recommended one
* ``shared_follow`` -- a co-follower or similar follower (recommended or via) follows an
  account the user follows: what made it one
* ``via`` -- an account that proposed a recommendation follows it (a co-follower, a similar
  follower, an expansion seed)
* ``follows_you`` -- the recommended account follows the user

Only the paths that proposed an account are drawn, not every follow between the accounts
shown: the evidence each pool kept (``Candidate.evidence``), and the follows that make a
co-follower or similar follower one (read by ``links``).

Node ``role``: ``user``, ``follows`` (the user follows it), ``recommended`` (with ``rank``,
``score``, ``pools``, ``explanation`` and ``shares_follows``: whether following accounts the
user follows was a reason for it) or ``via`` (an account in a recommendation's evidence
that the user does not follow). Follows and via accounts are shown only when they lie on a path
to a recommendation, the ones that explain the most recommendations first, at most
``max_follows`` and ``max_via`` of them and ``via_each`` per recommendation, so the picture
stays readable.

``build`` is pure (the recommender's result, the user's follows and those follows in, a graph
out); ``gather`` and ``links`` read them from Neo4j; drawing and GraphML export are in
``graphrec.recommend.picture``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import neo4j
import networkx as nx

from graphrec import store
from graphrec.recommend.explain import explain
from graphrec.recommend.service import Recommender, UserState

ROLES = ("user", "follows", "via", "recommended")
KINDS = ("follows", "friend_of_friend", "shared_follow", "via", "follows_you")
MAX_FOLLOWS = 15
MAX_VIA = 10
VIA_EACH = 3  # via accounts drawn per recommendation
# how many of the user's follows ``links`` returns per co-follower or similar follower
MAX_LINKS = 50
PATHS_SHOWN = 6  # paths listed per recommendation in the text summary

# which way each pool's evidence ("via" uids) follows: into the candidate, or out of it
_INTO_CANDIDATE = ("friends_of_friends", "similar_followees", "followers_of_followees", "expansion")
_OUT_OF_CANDIDATE = ("similar_relations",)
# pools whose "via" accounts were chosen for following what the user follows
_SHARING = ("similar_followees", "followers_of_followees")


@dataclass(frozen=True)
class Reason:
    """One recommended account as ``graphrec recommend`` ranks it, with its pools' evidence."""

    rank: int
    uid: int
    score: float
    pools: tuple[str, ...]
    explanation: str
    evidence: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def pairs(self, user: int) -> list[tuple[int, int]]:
        """The follows (source, target) that the evidence names, in pool order."""
        out: list[tuple[int, int]] = []
        for pool in self.pools:
            via = [int(u) for u in self.evidence.get(pool, {}).get("via") or []]
            if pool in _INTO_CANDIDATE:
                out += [(v, self.uid) for v in via]
            elif pool in _OUT_OF_CANDIDATE:
                out += [(self.uid, v) for v in via]
            elif pool == "follows_you":
                out.append((self.uid, user))
        return out

    @property
    def co_follower(self) -> bool:
        """Whether it was proposed for following accounts the user follows."""
        return bool(self.evidence.get("followers_of_followees", {}).get("cofollow"))

    def sharers(self) -> set[int]:
        """The accounts in this reason for following accounts the user follows: co-followers
        and similar followers, and the recommended account itself when it is a co-follower."""
        out = {int(u) for pool in _SHARING for u in self.evidence.get(pool, {}).get("via") or []}
        if self.co_follower:
            out.add(self.uid)
        return out


# -- reading (Neo4j) -----------------------------------------------------------------------


def gather(
    recommender: Recommender, uid: int, k: int, exclude: Iterable[int] = ()
) -> tuple[UserState, list[Reason]]:
    """The user and their top ``k`` with evidence: the same pools, ranking and explanations as
    ``Recommender.recommend`` (the graph strategy), keeping what each pool found."""
    user = recommender.user(uid)
    pools = recommender.candidates(user, k, exclude)
    cands, scores = recommender.rank_candidates(user, pools)
    return user, [
        Reason(i + 1, c.uid, round(float(s), 6), tuple(c.pools), explain(c), c.evidence)
        for i, (c, s) in enumerate(zip(cands[:k], scores[:k], strict=True))
    ]


def links(
    driver: neo4j.Driver,
    database: str | None,
    user: UserState,
    reasons: Sequence[Reason],
    max_links: int = MAX_LINKS,
) -> list[tuple[int, int]]:
    """Which of the user's follows each co-follower or similar follower of ``reasons``
    follows: (sharer, followee) pairs, at most ``max_links`` per sharer."""
    sharers = set().union(*(r.sharers() for r in reasons)) - {user.uid, *user.follows}
    if not sharers or not user.follows:
        return []
    records = store.read(
        driver,
        "why_links",
        database,
        sources=sorted(sharers),
        targets=sorted(user.follows),
        max_links=max_links,
    )
    return [(int(a), int(b)) for a, b in records[0]["links"]] if records else []


# -- the graph (pure) ----------------------------------------------------------------------


def _kind(source: str, target: str) -> str | None:
    """What a follow between accounts of these roles shows; None: not part of a why."""
    if source == "user":
        return "follows" if target == "follows" else None
    if target == "user":
        return "follows_you" if source == "recommended" else None
    if target == "recommended":
        return "friend_of_friend" if source == "follows" else "via"
    if target == "follows" and source in ("recommended", "via"):
        return "shared_follow"
    return None


def _best(touched: Mapping[int, set[int]], ranks: Mapping[int, int], limit: int) -> list[int]:
    """The accounts that touch the most recommendations (then the best-ranked one, then uid)."""
    order = sorted(
        (u for u, recs in touched.items() if recs),
        key=lambda u: (-len(touched[u]), min(ranks[r] for r in touched[u]), u),
    )
    return order[:limit]


def build(
    user: int,
    follows: Iterable[int],
    reasons: Sequence[Reason],
    links: Iterable[tuple[int, int]] = (),
    *,
    max_follows: int = MAX_FOLLOWS,
    max_via: int = MAX_VIA,
    via_each: int = VIA_EACH,
) -> nx.DiGraph:
    """The why-graph of ``user``'s recommendations (see the module's docstring).

    ``follows``: every account the user follows; ``links``: (sharer, followee) follows, from
    ``links()``; those of accounts that are no co-follower or similar follower in ``reasons``
    are left out.
    """
    followed = set(follows) - {user}
    ranks = {r.uid: r.rank for r in reasons}

    def role(uid: int) -> str:
        if uid == user:
            return "user"
        if uid in ranks:
            return "recommended"
        return "follows" if uid in followed else "via"

    pairs: dict[tuple[int, int], None] = {}  # evidence first, then links; order kept
    for r in reasons:
        pairs.update(dict.fromkeys(r.pairs(user)))
    sharers = set().union(*(r.sharers() for r in reasons))
    pairs.update(
        dict.fromkeys((int(a), int(b)) for a, b in links if a in sharers and b in followed)
    )
    edges = {
        (a, b): kind for a, b in pairs if a != b and (kind := _kind(role(a), role(b))) is not None
    }

    # via accounts: the recommendations they follow; those that explain the most are shown,
    # and each recommendation keeps the via edges of at most ``via_each`` of its sources
    reach: dict[int, set[int]] = {}
    for (a, b), kind in edges.items():
        if kind == "via":
            reach.setdefault(a, set()).add(b)
    via_total = sum(1 for a in reach if role(a) == "via")
    candidates = set(_best({a: t for a, t in reach.items() if role(a) == "via"}, ranks, max_via))
    incoming: dict[int, list[int]] = {}
    for (a, b), kind in edges.items():
        if kind == "via" and (role(a) == "recommended" or a in candidates):
            incoming.setdefault(b, []).append(a)
    kept: set[tuple[int, int]] = set()
    for b, sources in incoming.items():
        sources.sort(key=lambda a: (-len(reach[a]), ranks.get(a, 0), a))
        kept.update((a, b) for a in sources[:via_each])
    # the recommendations each account leads to through a via edge kept
    touch: dict[int, set[int]] = {}
    for a, b in kept:
        touch.setdefault(a, set()).add(b)
    # following the user's follows: a reason for a co-follower or similar account itself, and
    # the start of the paths through it; any other such edge shows nothing
    shares = {r.uid for r in reasons if r.co_follower or "similar_relations" in r.pools}
    for a in shares:
        touch.setdefault(a, set()).add(a)
    edges = {
        e: kind
        for e, kind in edges.items()
        if (kind != "via" or e in kept) and (kind != "shared_follow" or e[0] in touch)
    }
    via_touch = {a: recs for a, recs in touch.items() if role(a) == "via"}
    shown_via = set(via_touch)
    # follows: the recommendations they lead to, directly or through a via account shown
    follow_touch: dict[int, set[int]] = {}
    for (a, b), kind in edges.items():
        if kind == "friend_of_friend":
            follow_touch.setdefault(a, set()).add(b)
        elif kind == "shared_follow":
            follow_touch.setdefault(b, set()).update(touch[a])
    shown_follows = set(_best(follow_touch, ranks, max_follows))

    graph = nx.DiGraph(
        user=int(user),
        follows_total=len(followed),
        follows_shown=len(shown_follows),
        via_total=via_total,
        via_shown=len(shown_via),
    )
    graph.add_node(user, role="user", uid=int(user), label=str(user))
    for r in reasons:
        graph.add_node(
            r.uid,
            role="recommended",
            uid=int(r.uid),
            label=str(r.uid),
            rank=int(r.rank),
            score=float(r.score),
            pools=", ".join(r.pools),
            explanation=r.explanation,
            shares_follows=r.uid in shares,
        )
    for role_name, shown, touched in (
        ("follows", shown_follows, follow_touch),
        ("via", shown_via, via_touch),
    ):
        for uid in sorted(shown):
            graph.add_node(
                uid, role=role_name, uid=int(uid), label=str(uid), explains=len(touched[uid])
            )
    for (a, b), kind in edges.items():
        if a in graph and b in graph:
            graph.add_edge(a, b, kind=kind)
    for f in shown_follows:
        graph.add_edge(user, f, kind="follows")
    return graph


# -- reading the graph back ----------------------------------------------------------------


def recommended(graph: nx.DiGraph) -> list[int]:
    """The recommended accounts, best first."""
    nodes = [n for n, d in graph.nodes(data=True) if d["role"] == "recommended"]
    return sorted(nodes, key=lambda n: graph.nodes[n]["rank"])


def paths(graph: nx.DiGraph, uid: int) -> list[str]:
    """The paths to the recommended account ``uid``, as text ('you -> 17 -> 52')."""
    user = graph.graph["user"]

    def name(n: int) -> str:
        if n == user:
            return "you"
        rank = graph.nodes[n].get("rank")
        return f"{n} (#{rank})" if rank is not None else str(n)

    back: list[str] = []  # it follows the user
    friends: list[str] = []  # the user's follows follow it
    shared: list[str] = []  # it follows what the user follows
    through: list[str] = []  # through accounts that proposed it
    for p in sorted(graph.predecessors(uid)):
        kind = graph.edges[p, uid]["kind"]
        if kind == "friend_of_friend":
            friends.append(f"you -> {p} -> {uid}")
        elif kind == "via":
            theirs = sorted(
                f for f in graph.successors(p) if graph.edges[p, f]["kind"] == "shared_follow"
            )
            start = f"you -> {', '.join(map(str, theirs))} <- " if theirs else ""
            through.append(f"{start}{name(p)} -> {uid}")
    for s in sorted(graph.successors(uid)):
        kind = graph.edges[uid, s]["kind"]
        # following what the user follows is a reason only for some; for the others the
        # edge belongs to the paths of the accounts they proposed
        if kind == "shared_follow" and graph.nodes[uid]["shares_follows"]:
            shared.append(f"you -> {s} <- {uid}")
        elif kind == "follows_you":
            back.append(f"{uid} -> you")
    return back + friends + shared + sorted(through, key=lambda p: not p.startswith("you"))


def shown(graph: nx.DiGraph) -> str:
    """What the graph leaves out: how many of the user's follows and of the via accounts it
    shows."""
    g = graph.graph
    text = (
        f"the user follows {g['follows_total']:,}; "
        f"shown: the {g['follows_shown']} on the most paths"
    )
    if g["via_total"]:
        text += f", and {g['via_shown']} of {g['via_total']} via accounts"
    return text


def summary(graph: nx.DiGraph) -> str:
    """A readable text account of the graph: each recommendation, its explanation, its paths."""
    lines = [f"Why user {graph.graph['user']} gets these accounts ({shown(graph)})"]
    for uid in recommended(graph):
        node = graph.nodes[uid]
        lines.append("")
        lines.append(f"#{node['rank']}  {uid}  score {node['score']:.4f}  [{node['pools']}]")
        lines.append(f"    {node['explanation']}")
        found = paths(graph, uid)
        lines += [f"    {p}" for p in found[:PATHS_SHOWN]]
        if len(found) > PATHS_SHOWN:
            lines.append(f"    ... and {len(found) - PATHS_SHOWN} more paths")
        if not found:
            lines.append("    (no follow path behind it)")
    return "\n".join(lines)


def as_dict(graph: nx.DiGraph) -> dict[str, Any]:
    """The graph as JSON-able data: its figures, nodes (with attributes) and edges."""
    return {
        **graph.graph,
        "nodes": [{"id": n, **d} for n, d in graph.nodes(data=True)],
        "edges": [{"source": a, "target": b, **d} for a, b, d in graph.edges(data=True)],
    }


def role_counts(graph: nx.DiGraph) -> dict[str, int]:
    """How many nodes of each role."""
    counts = dict.fromkeys(ROLES, 0)
    for _, d in graph.nodes(data=True):
        counts[d["role"]] += 1
    return counts
