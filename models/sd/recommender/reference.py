"""The reference: ``implicit`` 0.7.3's AlternatingLeastSquares on the same confidence matrix.

implicit reads its input as the confidences themselves (c_ui = alpha * value, scaled by its own
``alpha``): handing it 1 + alpha * plays with its alpha at 1 makes it solve exactly our equations
(c = 1 + alpha r, Hu, Koren & Volinsky). Its initial factors are drawn as ours are (model.py), so with
``use_cg=False`` (its exact Cholesky solver) the factors agree to float32 precision; ``use_cg=True``
(its default) takes three conjugate-gradient steps per row instead of the exact solve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.sd.recommender.model import check_interactions, interaction_matrix


class ImplicitReference(BaseEstimator):
    """implicit's ALS with our factors, regularization, alpha, iterations and seed; the same interface
    as ImplicitALS (``recommend``, ``score_user``), so evaluation and serving treat both alike."""

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 0.1,
        alpha: float = 10.0,
        iterations: int = 15,
        use_cg: bool = False,
        num_threads: int = 1,
        random_state: int | None = None,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.use_cg = use_cg
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(self, X, y=None):
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        plays = check_interactions(X)
        confidence = plays.copy()
        confidence.data = (1.0 + self.alpha * confidence.data).astype(np.float32)
        with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, single-threaded BLAS
            self.als_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                dtype=np.float32,
                use_cg=self.use_cg,
                iterations=self.iterations,
                num_threads=self.num_threads,
                random_state=self.random_state,
            )
            self.als_.fit(confidence.astype(np.float32), show_progress=False)
        self.user_items_ = plays
        self.n_users_, self.n_items_ = plays.shape
        self.popularity_ = np.asarray((plays > 0).sum(axis=0)).ravel()
        return self

    @property
    def user_factors_(self) -> np.ndarray:
        return np.asarray(self.als_.user_factors)

    @property
    def item_factors_(self) -> np.ndarray:
        return np.asarray(self.als_.item_factors)

    def recommend(self, users: Sequence[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """implicit's own recommend: each user's k best items not played in training."""
        require_fitted(self, "als_")
        users = np.asarray(users, dtype=np.int64).ravel()
        items, scores = self.als_.recommend(users, self.user_items_[users], N=k, filter_already_liked_items=True)
        items, scores = np.atleast_2d(items), np.atleast_2d(scores).astype(np.float64)
        return np.where(np.isfinite(scores), items, -1), scores

    def score_user(self, user: int, fresh: Sequence[tuple[int, float]] = ()) -> tuple[np.ndarray, np.ndarray]:
        """As ImplicitALS.score_user, with implicit's ``recalculate_user`` folding fresh plays in."""
        require_fitted(self, "als_")
        known = 0 <= user < self.n_users_
        trained = self.user_items_[user] if known else sparse.csr_matrix((1, self.n_items_))
        items = [*trained.indices.tolist(), *(int(item) for item, _ in fresh)]
        plays = [*trained.data.tolist(), *(float(count) for _, count in fresh)]
        if fresh:
            row = interaction_matrix(np.zeros(len(items)), items, plays, (1, self.n_items_))
            row.data = (1.0 + self.alpha * row.data).astype(np.float32)
            vector = np.asarray(self.als_.recalculate_user(0, row.astype(np.float32))).ravel()
            scores = self.item_factors_ @ vector
        elif known:
            scores = self.item_factors_ @ self.user_factors_[user]
        else:
            scores = self.popularity_.astype(np.float64)
        return scores.astype(np.float64), np.unique(np.asarray(items, dtype=np.int64))
