"""One readable sentence per recommended account, from the evidence of the pools that found it."""

from __future__ import annotations

from graphrec.recommend.pools import Candidate


def _uids(uids: list[int], total: int) -> str:
    shown = ", ".join(str(u) for u in uids)
    more = total - len(uids)
    return f"{shown} and {more} more" if more > 0 else shown


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def explain(c: Candidate) -> str:
    """'followed by 3 accounts you follow: 17, 52, 90' and friends; '; '-joined per pool."""
    parts = []
    if "similar_relations" in c.pools:
        e = c.evidence["similar_relations"]
        parts.append(f"follows the same accounts as you: {_uids(e['via'], int(e['n_via']))}")
    if "follows_you" in c.pools:
        parts.append("follows you")
    if "two_tower" in c.pools:
        e = c.evidence["two_tower"]
        parts.append(f"close to your follows in the two-tower model (cosine {e['similarity']:.2f})")
    if "multi_interest" in c.pools:
        e = c.evidence["multi_interest"]
        like = ", ".join(str(u) for u in e.get("like", []))
        parts.append(
            f"similar to accounts you follow: {like}" if like else "similar to your follows"
        )
    if "friends_of_friends" in c.pools:
        e = c.evidence["friends_of_friends"]
        n = int(e["paths"])
        parts.append(f"followed by {_count(n, 'account')} you follow: {_uids(e['via'], n)}")
    if "followers_of_followees" in c.pools:
        e = c.evidence["followers_of_followees"]
        if e.get("cofollow"):
            parts.append(f"follows {_count(int(e['cofollow']), 'account')} you also follow")
        if e.get("paths") and e.get("via"):
            parts.append(
                "followed by people who follow the same accounts as you: "
                + ", ".join(str(u) for u in e["via"])
            )
    if "similar_followees" in c.pools:
        e = c.evidence["similar_followees"]
        parts.append(
            f"followed by {_count(int(e['n_via']), 'account')} whose follows are like yours: "
            f"{_uids(e['via'], int(e['n_via']))}"
        )
    if "expansion" in c.pools:
        e = c.evidence["expansion"]
        parts.append(f"followed by recommended accounts: {', '.join(str(u) for u in e['via'])}")
    if not parts or c.pools == ["popular"]:
        parts.append(f"popular: {_count(c.followers, 'follower')}")
    return "; ".join(parts)


def explain_model(score: float) -> str:
    return f"model score {score:.3f} (every account you do not follow was scored)"
