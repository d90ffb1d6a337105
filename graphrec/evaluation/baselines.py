"""Strong simple baselines for ``graphrec evaluate``, each tuned on validation follows.

Every method is a :class:`~graphrec.evaluation.methods.DenseScoreRecommender` over dense
indices, named as its key in ``evaluate --json``:

* ``follow_back``: the accounts that follow the user, then the rest by popularity;
* ``rp3beta``: three-step random walk with popularity damping (Paudel et al. 2017, as
  formulated by Dacrema et al. 2019);
* ``item_knn``: item-item cosine of follower sets with shrinkage;
* ``ease``: EASE^R (Steck 2019) on the most-followed accounts;
* ``als``: implicit's ALS (:class:`~graphrec.evaluation.methods.ImplicitALS`, optional dependency),
  with wider factors in its grid, as wide as training's cap on embedding parameters allows
  (:func:`affordable`).

Tuning never sees a test follow. The recommenders are built from the training follows alone
(:func:`training_only`). A validation split is carved out of them (:func:`validation_split`,
or :func:`validation_from_pairs` with the pairs a NeuMF model kept out of its own training).
Every setting of a method's small grid is fitted on the training follows minus the validation
follows and scored by HR@10 on the validation users with
:func:`graphrec.evaluation.metrics.ranking_metrics`; the best setting is fitted again on every
training follow. The chosen setting, the grid's figures and the fit times go into the method's
figures. A :class:`~graphrec.evaluation.tuning_memo.TuningMemo` keeps each search's outcome,
so that a later evaluation on the same inputs refits the chosen setting without searching.

Cost stays bounded on graphs of about a million follows: scores are computed for a batch of
users at a time; an unpruned neighbourhood method builds only the item-item rows of the
accounts that the batch follows, as sparse rows, and a pruned one keeps ``neighbours`` entries
per account (built chunk by chunk); EASE's dense item-item matrix is capped (``EASE_MAX_ITEMS``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from graphrec.evaluation.methods import (
    DenseScoreRecommender,
    ImplicitALS,
    Recommender,
)
from graphrec.evaluation.metrics import ranking_metrics
from graphrec.evaluation.tuning_memo import TuningMemo, TuningScope
from graphrec.model.artifacts import NeuMFConfig
from graphrec.model.sampling import pair_keys
from graphrec.model.splits import DEFAULT_SEED, Split, leave_one_out_split
from graphrec.numeric import unique_sorted
from graphrec.progress import Progress

VALIDATION_USERS = 1000  # validation users ranked per grid setting
VALIDATION_METRIC = "hr@10"
TIEBREAK = 1e-6  # weight of popularity (scaled to [0, 1]) added to break ties
OUTSIDE = -1e6  # EASE's score offset for the accounts outside its kept set

# EASE's memory cap. A dense float64 item-item matrix of 5,000 accounts is 200 MB; fitting
# holds up to four of them (Gram matrix, its inverse, temporaries), i.e. under 1 GB, and
# inverting one takes seconds (Cholesky). Larger graphs keep their most-followed accounts.
EASE_MAX_ITEMS = 5000

GRIDS: dict[str, tuple[dict[str, Any], ...]] = {
    # the first setting of each grid is the one used when there is nothing to validate on
    "follow_back": ({},),
    "rp3beta": tuple(
        {"alpha": a, "beta": b, "neighbours": None} for a in (0.5, 0.75, 1.0) for b in (0.3, 0.5)
    ),
    "item_knn": (
        {"shrink": 10.0, "neighbours": None},
        {"shrink": 10.0, "neighbours": 50},
        {"shrink": 10.0, "neighbours": 100},
        {"shrink": 10.0, "neighbours": 200},
        {"shrink": 50.0, "neighbours": 200},
    ),
    "ease": tuple({"l2": v} for v in (100.0, 30.0, 300.0, 1000.0)),
    "als": (
        {"factors": 128, "regularization": 1.0, "alpha": 10.0},
        {"factors": 64, "regularization": 1.0, "alpha": 10.0},
        {"factors": 256, "regularization": 1.0, "alpha": 10.0},
        {"factors": 256, "regularization": 10.0, "alpha": 20.0},
    ),
}


# --------------------------------------------------------------------------- helpers


def popularity(train: sp.csr_matrix) -> np.ndarray:
    """Followers of every account in the training follows (float64)."""
    return np.asarray(train.sum(axis=0)).ravel().astype(np.float64)


def _tiebreak(pop: np.ndarray) -> np.ndarray:
    return TIEBREAK * pop / max(float(pop.max(initial=0.0)), 1.0)


def _row_normalised(matrix: sp.csr_matrix, power: float) -> sp.csr_matrix:
    """Each row divided by its sum, then every entry raised to ``power``."""
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    out = sp.csr_matrix(
        (matrix.data.astype(np.float64), matrix.indices, matrix.indptr), shape=matrix.shape
    )
    out.data /= np.repeat(np.maximum(sums, 1e-12), np.diff(out.indptr))
    out.data **= power
    return out


def _drop_self(rows: sp.csr_matrix, items: np.ndarray) -> sp.csr_matrix:
    """Remove the entry (r, items[r]) of every row: an account is not its own neighbour."""
    own = rows.indices == np.repeat(items, np.diff(rows.indptr))
    if own.any():
        rows.data[own] = 0.0
        rows.eliminate_zeros()
    return rows


def _top_mask(rows: sp.csr_matrix, k: int) -> np.ndarray:
    """Which entries of ``rows`` are among the ``k`` largest of their row."""
    counts = np.diff(rows.indptr)
    keep = np.ones(rows.nnz, bool)
    for r in np.flatnonzero(counts > k):
        lo, hi = rows.indptr[r], rows.indptr[r + 1]
        keep[lo + np.argpartition(-rows.data[lo:hi], k - 1)[k:]] = False
    return keep


def top_per_row(rows: sp.csr_matrix, k: int | None) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row (all of them when ``k`` is None)."""
    counts = np.diff(rows.indptr)
    if k is None or counts.max(initial=0) <= k:
        return rows
    keep = _top_mask(rows, k)
    indptr = np.r_[0, np.cumsum(np.minimum(counts, k))]
    return sp.csr_matrix((rows.data[keep], rows.indices[keep], indptr), shape=rows.shape)


def stacked_top_rows(
    chunks: Iterable[np.ndarray], rows_of: Callable[[np.ndarray], sp.csr_matrix], n: int, k: int
) -> sp.csr_matrix:
    """The (n, n) float32 matrix of the ``k`` largest entries of every row, where
    ``rows_of(chunk)`` builds the rows ``chunk`` (consecutive, covering 0..n-1 in order).

    Written chunk by chunk into arrays sized for ``n * k`` entries: only the pages written
    become resident, and no second copy is made to stack the chunks.
    """
    data = np.empty(n * k, np.float32)
    indices = np.empty(n * k, np.int32)
    indptr = np.zeros(n + 1, np.int64)
    filled = 0
    for chunk in chunks:
        rows = rows_of(chunk)
        keep = _top_mask(rows, k)
        kept = int(keep.sum())
        data[filled : filled + kept] = rows.data[keep]
        indices[filled : filled + kept] = rows.indices[keep]
        indptr[chunk + 1] = filled + np.cumsum(np.minimum(np.diff(rows.indptr), k))
        filled += kept
    return sp.csr_matrix((data[:filled], indices[:filled], indptr), shape=(n, n))


# --------------------------------------------------------------------------- recommenders


class FollowBack(DenseScoreRecommender):
    """Accounts that follow the user (score 1), ties and the rest ordered by popularity.

    Reads the training matrix transposed: row ``u`` lists the accounts following ``u``.
    """

    name = "follow_back"

    def __init__(self, split: Split) -> None:
        super().__init__(split)
        self.followers = self.train.T.tocsr()
        self.tiebreak = _tiebreak(popularity(self.train))

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.followers[users].toarray().astype(np.float64) + self.tiebreak


ROW_CHUNK_NNZ = 20_000_000  # bound on the item-item entries built at once (~250 MB)


def row_chunks(bounds: np.ndarray, budget: int = ROW_CHUNK_NNZ) -> list[np.ndarray]:
    """Consecutive index ranges whose summed ``bounds`` stay within ``budget`` (one at least)."""
    chunks, start, total = [], 0, 0
    for i, b in enumerate(bounds):
        if i > start and total + b > budget:
            chunks.append(np.arange(start, i))
            start, total = i, 0
        total += b
    if start < len(bounds):
        chunks.append(np.arange(start, len(bounds)))
    return chunks


class _Neighbourhood(DenseScoreRecommender):
    """``score_u = R_u @ W`` for an item-item ``W`` (an account is never its own neighbour).

    Without pruning, the rows of ``W`` for the accounts that a batch of users follows are
    built for that batch only (sparse products of the training matrix). With ``neighbours``,
    ``W`` keeps only that many entries per account (see :meth:`prune`) and is built once,
    when fitting, chunk by chunk: at most ``n * neighbours`` entries.
    """

    batch_users = 128

    def __init__(self, split: Split, neighbours: int | None = None) -> None:
        super().__init__(split)
        self.neighbours = neighbours
        self.popularity = popularity(self.train)
        self.tiebreak = _tiebreak(self.popularity)
        self.followers = self.train.T.tocsr()
        self.weights: sp.csr_matrix | None = None

    def weight_rows(self, items: np.ndarray) -> sp.csr_matrix:  # pragma: no cover - abstract
        raise NotImplementedError

    def own_rows(self, items: np.ndarray) -> sp.csr_matrix:
        """Rows ``items`` of ``W`` without their diagonal entries."""
        return _drop_self(self.weight_rows(items).tocsr(), items)

    def top_rows(self, k: int) -> sp.csr_matrix:
        """The item-item rows with their ``k`` largest entries each (float32)."""
        out_degree = np.diff(self.train.indptr)
        bounds = self.followers @ out_degree  # entries of a row are at most its 2-hop paths
        return stacked_top_rows(row_chunks(bounds), self.own_rows, self.split.n_ids, k)

    def prune(self) -> sp.csr_matrix:
        """``W`` with the ``neighbours`` largest entries of each row (float32)."""
        assert self.neighbours is not None, "an unpruned W is built per batch (scores)"
        return self.top_rows(self.neighbours)

    def scores(self, users: np.ndarray) -> np.ndarray:
        if self.weights is not None:
            paths = self.train[users] @ self.weights
            return paths.toarray().astype(np.float64) + self.tiebreak
        follows = self.train[users]
        items = unique_sorted(follows.indices)
        local = sp.csr_matrix(
            (follows.data, np.searchsorted(items, follows.indices), follows.indptr),
            shape=(len(users), items.size),
        )
        return (local @ self.own_rows(items)).toarray().astype(np.float64) + self.tiebreak


class RP3beta(_Neighbourhood):
    """RP3beta: ``W = P_iu^alpha @ P_ui^alpha``, column ``j`` divided by ``popularity_j^beta``.

    ``P_ui`` is the row-normalised training matrix (user -> followed account), ``P_iu`` the
    row-normalised transpose (account -> follower); ``score_u = R_u @ W``. ``neighbours``
    keeps the largest entries of each row of ``W`` (Dacrema et al.'s top-k). Without pruning
    the scores factor as ``((R_u @ P_iu) @ P_ui) / popularity^beta``: two sparse products,
    no item-item rows (the dropped diagonal only touches accounts the user follows).
    """

    name = "rp3beta"

    def __init__(
        self, split: Split, alpha: float = 1.0, beta: float = 0.5, neighbours: int | None = None
    ) -> None:
        super().__init__(split, neighbours)
        self.alpha, self.beta = alpha, beta
        self.p_ui = _row_normalised(self.train, alpha)
        self.p_iu = _row_normalised(self.followers, alpha)
        pop = self.popularity
        self.damping = np.where(pop > 0, np.maximum(pop, 1.0) ** -beta, 0.0)
        self.weights = self.prune() if neighbours is not None else None

    def weight_rows(self, items: np.ndarray) -> sp.csr_matrix:
        rows = self.p_iu[items] @ self.p_ui
        rows.data *= self.damping[rows.indices]
        return rows

    def scores(self, users: np.ndarray) -> np.ndarray:
        if self.weights is not None:
            return super().scores(users)
        walks = ((self.train[users] @ self.p_iu) @ self.p_ui).toarray()
        return walks * self.damping + self.tiebreak


class ItemKNN(_Neighbourhood):
    """Item-item cosine with shrinkage: ``c_ij / (sqrt(n_i) * sqrt(n_j) + shrink)``.

    ``c_ij`` counts the users following both ``i`` and ``j`` (``R^T R``), ``n_i`` the
    followers of ``i``; ``score_u = R_u @ sim``. ``neighbours`` keeps, for every candidate
    account ``j``, its most similar accounts (the largest entries of column ``j``, as in
    Dacrema et al.'s ItemKNN; the similarity is symmetric, so these are row ``j``'s).
    """

    name = "item_knn"

    def __init__(self, split: Split, shrink: float = 10.0, neighbours: int | None = None) -> None:
        super().__init__(split, neighbours)
        self.shrink = shrink
        self.root = np.sqrt(self.popularity)
        self.weights = self.prune() if neighbours is not None else None

    def weight_rows(self, items: np.ndarray) -> sp.csr_matrix:
        counts = self.followers[items] @ self.train
        row_root = np.repeat(self.root[items], np.diff(counts.indptr))
        sim = counts.data / (row_root * self.root[counts.indices] + self.shrink)
        return sp.csr_matrix((sim, counts.indices, counts.indptr), shape=counts.shape)

    def prune(self) -> sp.csr_matrix:
        return super().prune().T.tocsr()

    @classmethod
    def fit_grid(
        cls, split: Split, grid: Sequence[Mapping[str, Any]]
    ) -> Iterator[DenseScoreRecommender]:
        """Consecutive settings with one shrinkage share one pass over the item-item rows:
        the rows pruned at the largest ``neighbours`` among them hold every smaller pruning
        (that pass is what a pruned setting's fit costs)."""
        for shrink, group in itertools.groupby(grid, key=lambda s: s.get("shrink", 10.0)):
            settings = list(group)
            widths = [s["neighbours"] for s in settings if s.get("neighbours") is not None]
            widest = None
            for setting in settings:
                k = setting.get("neighbours")
                if k is None or len(widths) < 2:
                    yield cls(split, **setting)
                    continue
                rec = cls(split, shrink=shrink)
                if widest is None:
                    widest = rec.top_rows(max(widths))
                rec.neighbours, rec.weights = k, top_per_row(widest, k).T.tocsr()
                yield rec


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """EASE's ``B = I - P diag(1/diag(P))`` with a zero diagonal, ``P = (G + l2 I)^-1``.

    The inverse comes from a Cholesky factorisation (LAPACK potrf/potri), several times
    faster than a general inverse for this symmetric positive definite matrix.
    """
    g = np.array(gram, dtype=np.float64, order="F", copy=True)
    g[np.diag_indices_from(g)] += l2
    upper, info = lapack.dpotrf(g, lower=0, clean=1, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: Gram matrix + {l2} I is not positive definite")
    p, info = lapack.dpotri(upper, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError("EASE: inverting the Gram matrix failed")
    del g, upper
    p = np.triu(p)
    p += np.triu(p, 1).T
    b = p / -np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


class EASE(DenseScoreRecommender):
    """EASE^R on the ``max_items`` most-followed accounts (memory cap: ``EASE_MAX_ITEMS``).

    ``score_u = X_u @ B`` on the kept accounts, plus a popularity tie-break. Every other
    account scores ``OUTSIDE`` plus its scaled popularity (below every kept account, still
    ranked by popularity).
    """

    name = "ease"

    def __init__(self, split: Split, l2: float = 300.0, max_items: int = EASE_MAX_ITEMS) -> None:
        super().__init__(split)
        self.l2 = l2
        pop = popularity(self.train)
        order = np.argsort(-pop, kind="stable")
        self.kept = np.sort(order[: min(max_items, int((pop > 0).sum()))])
        self.x = self.train[:, self.kept].tocsr()
        gram = (self.x.T @ self.x).toarray()
        self.weights = ease_weights(gram, l2)
        self.base = OUTSIDE + pop / max(float(pop.max(initial=0.0)), 1.0)
        self.base[self.kept] = _tiebreak(pop)[self.kept]

    def scores(self, users: np.ndarray) -> np.ndarray:
        out = np.tile(self.base, (len(users), 1))
        out[:, self.kept] += self.x[users] @ self.weights
        return out


# --------------------------------------------------------------------------- validation


def training_only(split: Split) -> Split:
    """The split without its test follows: all that a tuned baseline is given."""
    empty = np.zeros(0, np.int64)
    return Split(split.n_ids, split.train_src, split.train_dst, empty, empty)


def _hold_out(
    train: Split, users: np.ndarray, items: np.ndarray, max_users: int, seed: int
) -> Split:
    """Training follows minus up to ``max_users`` of the given (training) pairs, held out."""
    if users.size > max_users:
        pick = np.sort(np.random.default_rng(seed).choice(users.size, max_users, replace=False))
        users, items = users[pick], items[pick]
    n = train.n_ids
    keys = np.setdiff1d(pair_keys(train.train_src, train.train_dst, n), pair_keys(users, items, n))
    return Split(n, keys // n, keys % n, users, items)


def validation_split(
    train: Split, max_users: int = VALIDATION_USERS, seed: int = DEFAULT_SEED
) -> Split:
    """One training follow held out for each of up to ``max_users`` users with three or more.

    The same leave-one-out rule as the test split, on the training follows only.
    """
    inner = leave_one_out_split(train.train_src, train.train_dst, train.n_ids, seed=seed + 1)
    return _hold_out(train, inner.test_users, inner.test_items, max_users, seed + 2)


def validation_from_pairs(
    train: Split,
    users: np.ndarray,
    items: np.ndarray,
    max_users: int = VALIDATION_USERS,
    seed: int = DEFAULT_SEED,
) -> Split:
    """Validation from given (user, account) dense-index pairs, e.g. a model's validation.npz.

    Only pairs that are training follows are used (the graph may have changed since).
    """
    n = train.n_ids
    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    ok = (users >= 0) & (items >= 0) & (users != items)
    users, items = users[ok], items[ok]
    present = np.isin(users * n + items, train.train_src * n + train.train_dst)
    return _hold_out(train, users[present], items[present], max_users, seed + 2)


# --------------------------------------------------------------------------- tuning

Factory = type[DenseScoreRecommender]


def tune(
    make: Factory,
    grid: Sequence[Mapping[str, Any]],
    train: Split,
    validation: Split | None,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    memo: TuningScope | None = None,
    method: str = "",
) -> DenseScoreRecommender:
    """Fit ``make`` with each setting on ``validation`` (``make.fit_grid``), refit the best.

    ``validation`` holds training follows minus the validation follows, and the validation
    follows as its test pairs; ``train`` holds the training follows (test pairs are ignored:
    the method is given :func:`training_only`). The setting with the best validation HR@10
    (the first on ties, the first when there is nothing to validate on) is fitted on
    ``train``. The returned recommender's ``extra_figures`` records the chosen setting, the
    figures of every setting, the fit times, and whether the grid was ``searched`` now, its
    outcome ``reused`` from ``memo`` (the entry for ``method`` with these inputs and grid,
    written after a search), or there was ``none`` to search. ``progress`` counts each fit.
    """
    grid = [dict(setting) for setting in grid]
    searched: list[dict[str, Any]] = []
    chosen, reused_from = grid[0], None
    started = time.perf_counter()
    can_search = len(grid) > 1 and validation is not None and validation.test_users.size > 0
    known = memo.recall(method, grid) if memo is not None and can_search else None
    if known is not None:
        searched, chosen, reused_from = known["grid"], known["params"], known
        if progress is not None:
            progress.update(len(grid))
    elif can_search:
        assert validation is not None
        fits = make.fit_grid(validation, grid)
        for setting in grid:
            fit_started = time.perf_counter()
            rec = next(fits)
            fit_seconds = time.perf_counter() - fit_started
            figures = ranking_metrics(
                [rec],
                validation,
                n_users=validation.test_users.size,
                seed=seed,
                ks=(10,),
                n_negatives=0,
            )[rec.name]
            searched.append(
                {
                    "params": setting,
                    VALIDATION_METRIC: figures[VALIDATION_METRIC],
                    "fit_seconds": round(fit_seconds, 3),
                }
            )
            del rec
            if progress is not None:
                progress.update(1)
        best = max(range(len(searched)), key=lambda i: searched[i][VALIDATION_METRIC])
        chosen = grid[best]
    tune_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rec = make(train if train.test_users.size == 0 else training_only(train), **chosen)
    validated = next((s for s in searched if s["params"] == chosen), None)
    rec.extra_figures = {
        "params": chosen,
        f"validation_{VALIDATION_METRIC}": validated[VALIDATION_METRIC] if validated else None,
        "validation_users": int(validation.test_users.size) if validation and searched else 0,
        "grid": searched,
        "tuning": "reused" if reused_from else "searched" if searched else "none",
        "fit_seconds": round(time.perf_counter() - started, 3),
        "tune_seconds": round(tune_seconds, 3),
    }
    if reused_from:  # what the search cost when it ran
        rec.extra_figures["searched_seconds"] = reused_from.get("tune_seconds")
    elif memo is not None and searched:
        outcome = {k: v for k, v in rec.extra_figures.items() if k != "fit_seconds"}
        memo.remember(method, grid, outcome)
    if progress is not None:
        progress.update(1)
    return rec


def affordable(grid: Sequence[Mapping[str, Any]], n_ids: int) -> list[Mapping[str, Any]]:
    """The settings whose factor tables (``factors`` per uid, as follower and as account)
    stay within training's cap on embedding parameters; the smallest one when none does."""
    cap = NeuMFConfig.search_max_params
    kept = [g for g in grid if 2 * n_ids * g.get("factors", 0) <= cap]
    return kept or [min(grid, key=lambda g: g.get("factors", 0))]


def tunable(include_als: bool = True) -> list[tuple[Factory, str]]:
    """(factory, grid name) of every tuned baseline (ALS left out when not ``include_als``)."""
    methods: list[tuple[Factory, str]] = [
        (FollowBack, "follow_back"),
        (RP3beta, "rp3beta"),
        (ItemKNN, "item_knn"),
        (EASE, "ease"),
    ]
    if include_als:
        methods.append((ImplicitALS, "als"))
    return methods


def tuned_baselines(
    split: Split,
    validation: Split | None = None,
    include_als: bool = True,
    seed: int = DEFAULT_SEED,
    grids: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    validation_users: int = VALIDATION_USERS,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
    memo: TuningMemo | None = None,
) -> Iterator[Recommender]:
    """Every tuned baseline (or those named in ``only``), fitted on the training follows, each
    tuned and fitted only when the caller asks for the next one: a caller that lets go of one
    before the next never holds two.

    ``validation`` defaults to :func:`validation_split` of the training follows with up to
    ``validation_users`` users; ``grids`` replaces the grids of the methods it names;
    ``progress`` counts each fit; ``memo`` gives the outcomes of earlier searches on the same
    inputs (reused) and takes those of new ones.
    """
    train = training_only(split)
    if validation is None:
        validation = validation_split(train, validation_users, seed=seed)
    scope = memo.scope(train, validation, seed) if memo is not None else None
    grids = {**GRIDS, **(grids or {})}
    for make, key in tunable(include_als):
        if only is None or key in only:
            grid = affordable(grids[key], split.n_ids)
            yield tune(make, grid, train, validation, seed, progress, scope, key)


def tuning_fits(n_ids: int, include_als: bool = True) -> int:
    """Fits that :func:`tuned_baselines` makes at most: every affordable grid setting, then
    the best one again."""
    sizes = [len(affordable(GRIDS[key], n_ids)) for _, key in tunable(include_als)]
    return sum((size if size > 1 else 0) + 1 for size in sizes)
