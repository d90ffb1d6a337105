"""Ranking: NeuMF score plus graph evidence, combined by a small logistic regression.

The ranker is fitted on training follows only (``fit.py``) and saved as ``ranker.json`` in
the model directory. Without it (or when it belongs to another model version), candidates are
ranked by the NeuMF score alone, graph evidence breaking ties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphrec.errors import GraphrecError
from graphrec.recommend.pools import Candidate

RANKER = "ranker.json"

FEATURES = (
    "model_logit",  # NeuMF logit of (user, candidate); 0 when the model does not know a uid
    "model_known",  # 1 when the model knows both
    "sim_paths",  # log1p(similar relations leading to the candidate)
    "sim_score",  # best cosine of those relations
    "sim_shared",  # log1p(my followees the candidate also follows, seen by pool 1)
    "fof_paths",  # log1p(my followees following the candidate)
    "fof_adamic_adar",  # those paths weighted by 1/log(degree) of the account in between
    "cof_paths",  # log1p(co-follower weight of the candidate)
    "cofollow",  # log1p(accounts the candidate shares with me, as a co-follower)
    "expansion",  # log1p(paths found by an expansion round)
    "popularity",  # log1p(followers)
    "n_pools",  # how many pools proposed it
)


F = {name: i for i, name in enumerate(FEATURES)}


def features(cands: list[Candidate], logits: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The (n, len(FEATURES)) float64 feature matrix of candidates."""
    x = np.zeros((len(cands), len(FEATURES)), dtype=np.float64)
    for i, c in enumerate(cands):
        x[i, F["sim_paths"]] = np.log1p(c.feature("similar_relations", "paths"))
        x[i, F["sim_score"]] = c.feature("similar_relations", "similarity")
        x[i, F["sim_shared"]] = np.log1p(c.feature("similar_relations", "n_via"))
        x[i, F["fof_paths"]] = np.log1p(c.feature("friends_of_friends", "paths"))
        x[i, F["fof_adamic_adar"]] = c.feature("friends_of_friends", "adamic_adar")
        x[i, F["cof_paths"]] = np.log1p(c.feature("followers_of_followees", "paths"))
        x[i, F["cofollow"]] = np.log1p(c.feature("followers_of_followees", "cofollow"))
        x[i, F["expansion"]] = np.log1p(c.feature("expansion", "paths"))
        x[i, F["popularity"]] = np.log1p(c.followers)
        x[i, F["n_pools"]] = len([p for p in c.pools if p != "popular"])
    x[:, F["model_logit"]] = np.where(known, logits, 0.0)
    x[:, F["model_known"]] = known.astype(np.float64)
    return x


def evidence_score(x: np.ndarray) -> np.ndarray:
    """A model-free summary of the graph evidence (ties, and ranking without a model)."""
    return (
        x[:, F["n_pools"]] + x[:, F["sim_paths"]] + x[:, F["fof_adamic_adar"]]
        + x[:, F["cof_paths"]] + x[:, F["cofollow"]]
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
        }

    def save(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / RANKER
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> Ranker | None:
        """The saved ranker, or None when there is none."""
        path = Path(model_dir) / RANKER
        if not path.exists():
            return None
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise GraphrecError(
                f"{path}: unreadable ranker ({e}); run `graphrec fit-ranker`"
            ) from e
        if d.get("features") != list(FEATURES):
            raise GraphrecError(f"{path}: fitted with other features; run `graphrec fit-ranker`")
        return cls(
            coef=np.asarray(d["coef"], np.float64),
            intercept=float(d["intercept"]),
            mean=np.asarray(d["mean"], np.float64),
            std=np.asarray(d["std"], np.float64),
            model_version=str(d.get("model_version", "")),
            info=d.get("info", {}),
        )


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
    cands: list[Candidate], logits: np.ndarray, known: np.ndarray, ranker: Ranker | None
) -> tuple[np.ndarray, np.ndarray]:
    """(order of candidates best first, score of each candidate)."""
    if not cands:
        return np.zeros(0, np.int64), np.zeros(0)
    x = features(cands, logits, known)
    if ranker is not None:
        scores = ranker.predict(x)
        return np.argsort(-scores, kind="stable"), scores
    model = np.where(known, 1.0 / (1.0 + np.exp(-logits)), 0.0)
    # NeuMF first; graph evidence (pools, paths) breaks ties and orders unknown-to-model uids.
    evidence = evidence_score(x)
    idx = np.lexsort((-x[:, F["popularity"]], -evidence, -model))
    return idx, model
