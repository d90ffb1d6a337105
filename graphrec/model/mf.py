"""A dot-product matrix factorisation trained beside NeuMF, for the ranker.

NeuMF's MLP is a weak top-K retriever next to a plain dot product (Rendle et al., 2020), and on
graphs where nobody follows back the strongest simple baselines are dot-product and item-item
models. So training also fits implicit ALS (benfred/implicit: well kept, multithreaded, and
the baseline ``graphrec evaluate`` measures) on the same training follows, choosing its
setting on the same validation follows, and stores its factors in weights.npz (``mf_user``,
``mf_item``). At request time the ranker reads the user's dot product with each candidate:
numpy only, no TensorFlow and no implicit on the request path.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from graphrec.numeric import users_per_batch
from graphrec.progress import Progress

# (factors, regularization, alpha): a small grid chosen on validation follows
GRID: tuple[tuple[int, float, float], ...] = ((64, 1.0, 10.0), (128, 1.0, 10.0), (64, 0.05, 2.0))
ITERATIONS = 15
VALIDATION_USERS = 1000


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS held to one thread while implicit fits (its own advice; it warns otherwise)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        yield


def follow_matrix(users: np.ndarray, items: np.ndarray, n_ids: int) -> sp.csr_matrix:
    """The (users x accounts) 0/1 follow matrix, float32, duplicates collapsed."""
    matrix = sp.csr_matrix((np.ones(users.size, np.float32), (users, items)), shape=(n_ids, n_ids))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def fit_als_matrix(
    matrix: sp.csr_matrix,
    factors: int,
    regularization: float,
    alpha: float,
    seed: int,
    iterations: int = ITERATIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """ALS on a (users x accounts) 0/1 follow matrix: (user factors, account factors)."""
    from implicit.cpu.als import AlternatingLeastSquares

    with _one_blas_thread():  # implicit checks the BLAS threads when it builds the model
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=seed,
        )
        model.fit(matrix.astype(np.float32), show_progress=False)
    return (
        np.ascontiguousarray(model.user_factors, np.float32),
        np.ascontiguousarray(model.item_factors, np.float32),
    )


def hit_rate(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    users: np.ndarray,
    targets: np.ndarray,
    known: sp.csr_matrix,
    k: int = 10,
    chunk: int = 256,
) -> float:
    """Exact full-ranking HR@k of ``targets`` for ``users``, skipping the accounts in ``known``
    (each user's training follows) and the user itself. At most ``chunk`` users are scored at
    once, fewer on large graphs (:func:`graphrec.numeric.users_per_batch`)."""
    chunk = users_per_batch(item_factors.shape[0], chunk)
    hits = 0
    for start in range(0, users.size, chunk):
        u, t = users[start : start + chunk], targets[start : start + chunk]
        scores = user_factors[u] @ item_factors.T
        rows = known[u]
        scores[np.repeat(np.arange(u.size), np.diff(rows.indptr)), rows.indices] = -np.inf
        scores[np.arange(u.size), u] = -np.inf
        target = scores[np.arange(u.size), t]
        hits += int(((scores > target[:, None]).sum(axis=1) < k).sum())
    return hits / max(users.size, 1)


def choose_als(
    fit_users: np.ndarray,
    fit_items: np.ndarray,
    val_users: np.ndarray,
    val_items: np.ndarray,
    n_ids: int,
    seed: int,
    grid: Sequence[tuple[int, float, float]] = GRID,
    max_params: int | None = None,
    silent: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit every grid setting on the fit follows, keep the best by validation HR@10.

    Returns (user factors, account factors, figures). Settings whose two factor tables would
    hold more than ``max_params`` numbers are skipped (the smallest is kept regardless).
    """
    started = time.perf_counter()
    settings = [g for g in grid if max_params is None or 2 * n_ids * g[0] <= max_params]
    settings = settings or [min(grid)]
    rng = np.random.default_rng(seed + 17)
    rows = rng.choice(val_users.size, min(val_users.size, VALIDATION_USERS), replace=False)
    known = follow_matrix(fit_users, fit_items, n_ids)  # what ALS fits on, and what it skips
    best: tuple[float, np.ndarray, np.ndarray, tuple] | None = None
    tried = []
    label = "fitting the dot-product MF the ranker reads (implicit ALS)"
    with Progress(label, total=len(settings), unit="settings", silent=silent) as progress:
        for factors, regularization, alpha in settings:
            user_f, item_f = fit_als_matrix(known, factors, regularization, alpha, seed)
            score = (
                hit_rate(user_f, item_f, val_users[rows], val_items[rows], known)
                if rows.size
                else 0.0
            )
            progress.update(1)
            tried.append(
                {
                    "factors": factors,
                    "regularization": regularization,
                    "alpha": alpha,
                    "val_hr@10": round(score, 4),
                }
            )
            if best is None or score > best[0]:
                best = (score, user_f, item_f, (factors, regularization, alpha))
    assert best is not None
    score, user_f, item_f, (factors, regularization, alpha) = best
    figures = {
        "factors": factors,
        "regularization": regularization,
        "alpha": alpha,
        "val_hr@10": round(score, 4),
        "grid": tried,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return user_f, item_f, figures
