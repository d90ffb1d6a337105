"""Ranking: NeuMF score plus graph evidence, combined by a small logistic regression.

The ranker is fitted on training follows only (graphrec.evaluation.ranker_fit) and saved as
``ranker.json`` in
the model directory. Without it (or when it belongs to another model version), candidates are
ranked by the NeuMF score alone, graph evidence breaking ties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphrec.errors import GraphrecError, ModelUnreadable
from graphrec.model.artifacts import RANKER, write_json
from graphrec.recommend.pools import Candidate

FEATURES = (
    # Graph evidence is made relative to the user's own pool (value / the pool's best, and
    # rank percentile): a heavy user's path counts are all large, a light user's all small,
    # and one ranker has to serve both.
    "model_rel",  # NeuMF logit minus the best logit in the pool (unknown to the model: min)
    "model_rank",  # rank percentile of the NeuMF logit in the pool (1 = best)
    "model_known",  # 1 when the model knows both uids
    "mf_rel",  # dot-product MF score minus the best in the pool (model/mf.py; 0 without it)
    "mf_rank",  # rank percentile of the MF score
    "tt_rel",  # two-tower score (user vector . account vector) minus the pool's best
    "tt_rank",  # rank percentile of the two-tower score
    "mi_rel",  # multi-interest score (the best interest . account vector) minus the pool's best
    "mi_rank",  # rank percentile of the multi-interest score
    "sim_rel",  # similar relations leading to the candidate / the pool's most (pool 1)
    "sim_shared_rel",  # my followees it also follows, seen by pool 1 / the pool's most
    "simf_rel",  # similar relations behind the similar followers who follow it / the most
    "simf_rank",  # rank percentile of that
    "fof_rel",  # friends-of-friends paths / the pool's most (pool 2)
    "aa_rel",  # Adamic-Adar weight of those paths / the pool's best
    "aa_rank",  # rank percentile of the Adamic-Adar weight
    "cof_rel",  # co-follower weight (pool 3) / the pool's best
    "cofollow_rel",  # accounts it shares with me as a co-follower / the pool's most
    "cof_rank",  # rank percentile of co-follower weight + co-follow count
    "cos_rel",  # item-to-item cosine of the candidate with my followees (pool 3) / the best
    "cos_rank",  # rank percentile of that cosine
    "rp3_rel",  # RP3beta walk score (pool 3) / the best
    "rp3_rank",  # rank percentile of that
    "expansion_rel",  # paths found by an expansion round / the pool's most
    "follows_you",  # 1 when it follows the user (who does not follow it back)
    # follows_you times the share of the user's followers the user follows back: the ranker
    # learns how far to trust "follows you" for a user who returns follows often or rarely
    "follows_you_returned",
    "follows_you_few",  # follows_you / (1 + log1p(followers the user has not followed back))
    "popularity",  # log1p(followers)
    "n_pools",  # how many pools (popular aside) proposed it
)
F = {name: i for i, name in enumerate(FEATURES)}

# The pool evidence the features are built from, in the column order features() unpacks.
_RAW = (
    ("similar_relations", "paths"),
    ("similar_relations", "n_via"),
    ("friends_of_friends", "paths"),
    ("friends_of_friends", "adamic_adar"),
    ("followers_of_followees", "paths"),
    ("followers_of_followees", "cofollow"),
    ("followers_of_followees", "cosine"),
    ("expansion", "paths"),
    ("similar_followees", "paths"),
    ("followers_of_followees", "rp3"),
    ("follows_you", "returned"),
    ("follows_you", "unreturned"),
)
_RAW_BY_POOL: dict[str, list[tuple[str, int]]] = {}
for _col, (_pool, _key) in enumerate(_RAW):
    _RAW_BY_POOL.setdefault(_pool, []).append((_key, _col))


def _relative(v: np.ndarray) -> np.ndarray:
    top = v.max(initial=0.0)
    return v / top if top > 0 else np.zeros_like(v)


def _rank_percentile(v: np.ndarray) -> np.ndarray:
    """1.0 for the best value, falling linearly to 0 for the worst (ties keep pool order)."""
    if v.size == 0:
        return v
    order = np.empty(v.size)
    order[np.argsort(-v, kind="stable")] = np.arange(v.size)
    return 1.0 - order / v.size


@dataclass(frozen=True)
class ModelScores:
    """What the models say about one user's candidates, in candidate order.

    ``logits``: NeuMF's, read where ``known`` (the model knows both uids); ``mf``: the
    dot-product MF scores, ``towers`` the two-tower scores and ``interests`` the multi-interest
    scores, read where ``known``, None when the model has no such part.
    """

    logits: np.ndarray
    known: np.ndarray
    mf: np.ndarray | None = None
    towers: np.ndarray | None = None
    interests: np.ndarray | None = None

    @classmethod
    def unknown(cls, n: int) -> ModelScores:
        return cls(np.zeros(n), np.zeros(n, dtype=bool))

    def rows(self, idx: np.ndarray) -> ModelScores:
        return ModelScores(
            self.logits[idx],
            self.known[idx],
            None if self.mf is None else self.mf[idx],
            None if self.towers is None else self.towers[idx],
            None if self.interests is None else self.interests[idx],
        )


def _relative_and_rank(
    x: np.ndarray, known: np.ndarray, rel: str, rank: str, v: np.ndarray
) -> None:
    """x[:, rel] = v minus its best, x[:, rank] = its rank percentile; where the model does not
    know a candidate, it counts as the worst known one."""
    if known.any():
        v = np.where(known, v, v[known].min())
        x[:, F[rel]] = v - v.max()
        x[:, F[rank]] = _rank_percentile(v)


def features(cands: list[Candidate], scores: ModelScores) -> np.ndarray:
    """The (n, len(FEATURES)) float64 feature matrix of one user's candidates."""
    n = len(cands)
    x = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return x

    # one pass over the candidates for every raw value (this runs on every request)
    raw = np.zeros((n, len(_RAW)), dtype=np.float64)
    for row, c in enumerate(cands):
        for pool, evidence in c.evidence.items():
            for key, col in _RAW_BY_POOL.get(pool, ()):
                value = evidence.get(key)
                if value:
                    raw[row, col] = value
    (sim, n_via, fof, aa, cof, cofollow, cosine, expansion, simf, rp3, returned, unreturned) = raw.T
    fy = np.array(["follows_you" in c.pools for c in cands], dtype=np.float64)
    x[:, F["sim_rel"]] = _relative(sim)
    x[:, F["sim_shared_rel"]] = _relative(n_via)
    x[:, F["fof_rel"]] = _relative(fof)
    x[:, F["aa_rel"]] = _relative(aa)
    x[:, F["aa_rank"]] = _rank_percentile(aa)
    x[:, F["cof_rel"]] = _relative(cof)
    x[:, F["cofollow_rel"]] = _relative(cofollow)
    x[:, F["cof_rank"]] = _rank_percentile(cof + cofollow)
    x[:, F["cos_rel"]] = _relative(cosine)
    x[:, F["cos_rank"]] = _rank_percentile(cosine)
    x[:, F["expansion_rel"]] = _relative(expansion)
    x[:, F["rp3_rel"]] = _relative(rp3)
    x[:, F["rp3_rank"]] = _rank_percentile(rp3)
    x[:, F["simf_rel"]] = _relative(simf)
    x[:, F["simf_rank"]] = _rank_percentile(simf)
    x[:, F["follows_you"]] = fy
    x[:, F["follows_you_returned"]] = fy * returned
    x[:, F["follows_you_few"]] = fy / (1.0 + np.log1p(unreturned))
    x[:, F["popularity"]] = np.log1p([c.followers for c in cands])
    x[:, F["n_pools"]] = [len([p for p in c.pools if p != "popular"]) for c in cands]
    known = scores.known
    _relative_and_rank(x, known, "model_rel", "model_rank", scores.logits)
    x[:, F["model_known"]] = known.astype(np.float64)
    if scores.mf is not None:
        _relative_and_rank(x, known, "mf_rel", "mf_rank", scores.mf)
    if scores.towers is not None:
        _relative_and_rank(x, known, "tt_rel", "tt_rank", scores.towers)
    if scores.interests is not None:
        _relative_and_rank(x, known, "mi_rel", "mi_rank", scores.interests)
    return x


def evidence_score(x: np.ndarray) -> np.ndarray:
    """A model-free summary of the graph evidence (ties, and ranking without a model)."""
    return (
        x[:, F["cof_rank"]]
        + x[:, F["aa_rel"]]
        + x[:, F["cof_rel"]]
        + x[:, F["sim_rel"]]
        + x[:, F["follows_you_returned"]]
        + 0.1 * x[:, F["n_pools"]]
    )


@dataclass
class Ranker:
    """Logistic regression over standardised FEATURES."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    std: np.ndarray
    model_version: str = ""
    info: dict | None = None
    # the optional pools (pools.OPTIONAL_POOLS) chosen on validation follows: name -> on
    pools: dict[str, bool] | None = None

    def decision(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std) @ self.coef + self.intercept

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(x)))

    def to_dict(self) -> dict:
        return {
            "features": list(FEATURES),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "model_version": self.model_version,
            "info": self.info or {},
            "pools": self.pools or {},
        }

    def save(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / RANKER
        write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> Ranker | None:
        """The saved ranker, or None when there is none."""
        path = Path(model_dir) / RANKER
        if not path.exists():
            return None
        try:
            d = json.loads(path.read_text())
            saved = list(d.get("features") or [])
            if not set(saved) <= set(FEATURES):
                raise GraphrecError(
                    f"{path}: fitted with other features; run `graphrec fit-ranker`"
                )
            # a ranker fitted before a feature existed gives it no weight
            columns = np.array([F[name] for name in saved], np.int64)
            coef, mean, std = (
                np.zeros(len(FEATURES)),
                np.zeros(len(FEATURES)),
                np.ones(len(FEATURES)),
            )
            for full, key in ((coef, "coef"), (mean, "mean"), (std, "std")):
                full[columns] = np.asarray(d[key], np.float64).reshape(len(saved))
            ranker = cls(
                coef=coef,
                intercept=float(d["intercept"]),
                mean=mean,
                std=std,
                model_version=str(d.get("model_version", "")),
                info=d.get("info", {}),
                pools={str(k): bool(v) for k, v in (d.get("pools") or {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ModelUnreadable(
                f"{path}: unreadable ranker ({e.__class__.__name__}: {e}); "
                "run `graphrec fit-ranker` again"
            ) from e
        return ranker


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """L2-regularised logistic regression by Newton's method. Returns (coef, b, mean, std)."""
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x {x.shape} and y {y.shape} do not match")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # no penalty on the intercept
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1]), mean, std


def order(
    cands: list[Candidate], scores: ModelScores, ranker: Ranker | None
) -> tuple[np.ndarray, np.ndarray]:
    """(order of candidates best first, score of each candidate)."""
    if not cands:
        return np.zeros(0, np.int64), np.zeros(0)
    x = features(cands, scores)
    logits, known = scores.logits, scores.known
    if ranker is not None:
        ranked = ranker.predict(x)
        return np.argsort(-ranked, kind="stable"), ranked
    model = np.where(known, 1.0 / (1.0 + np.exp(-logits)), 0.0)
    # NeuMF first; graph evidence (pools, paths) breaks ties and orders unknown-to-model uids.
    evidence = evidence_score(x)
    idx = np.lexsort((-x[:, F["popularity"]], -evidence, -model))
    return idx, model
