"""Implicit-feedback matrix factorization from scratch: alternating least squares (ALS) with the
confidence weighting of Hu, Koren & Volinsky (2008), in NumPy.

A user u's plays r_ui of item i become a preference p_ui = 1 (r_ui > 0, else 0) held with confidence
c_ui = 1 + alpha * r_ui (1 where nothing was played). The factors minimise

    sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2 + regularization (|X|^2 + |Y|^2)

by alternating exact least squares: with the items fixed, each user's factors solve

    (Y^T Y + regularization I + Y_u^T (C_u - I) Y_u) x_u = Y_u^T C_u p_u,

where Y_u holds the rows of the items u played: Y^T Y is shared by every user, so a user costs
O(n_u f^2 + f^3), not O(n_items f^2). The items' step is the same on the transpose. Users are solved
in blocks (their per-entry outer products summed by segment, then one batched solve). The initial
factors are uniform in [0, 0.01), drawn users first then items from ``np.random.default_rng
(random_state)`` as float32: the reference (``implicit``) draws the very same, so the two can be
compared factor for factor.

``OnlineRecommender`` is the served model: the fitted factors, and the user's fresh history read at
request time from the Feast online store (online.py). Events after training are folded in: the
user's factors are solved again from the training plays plus the fresh ones (the same equation, the
items fixed), so a click a second ago changes the next answer; what the user has seen is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.sd.recommender.online import UserFeatureStore, UserHistory

#: Floats of one padded block of factors (rows x longest row x factors): 32 MB of float64.
BLOCK_FLOATS = 2**22


class InteractionError(ValueError):
    """An interaction matrix a factorization cannot learn from (negative plays, wrong shape)."""


def interaction_matrix(user_ids, item_ids, plays, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Plays summed per (user, item) as a CSR matrix of ``shape`` (users, items), float64."""
    user_ids, item_ids = np.asarray(user_ids, np.int64), np.asarray(item_ids, np.int64)
    plays = np.asarray(plays, np.float64)
    if len(user_ids) and (user_ids.min() < 0 or user_ids.max() >= shape[0]):
        raise InteractionError(f"user ids must lie in [0, {shape[0]}), got {user_ids.min()}..{user_ids.max()}")
    if len(item_ids) and (item_ids.min() < 0 or item_ids.max() >= shape[1]):
        raise InteractionError(f"item ids must lie in [0, {shape[1]}), got {item_ids.min()}..{item_ids.max()}")
    matrix = sparse.csr_matrix((plays, (user_ids, item_ids)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def check_interactions(X) -> sparse.csr_matrix:
    """The plays as a float64 CSR matrix with sorted indices; a clear error for what cannot be learned."""
    if not sparse.issparse(X):
        raise InteractionError(f"interactions must be a scipy sparse matrix (users x items), got {type(X).__name__}")
    X = sparse.csr_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    X.eliminate_zeros()
    if X.shape[0] < 1 or X.shape[1] < 1 or X.nnz == 0:
        raise InteractionError(f"interactions {X.shape} hold no plays")
    if not np.isfinite(X.data).all() or (X.data < 0).any():
        raise InteractionError(f"plays must be finite and non-negative; found {int((X.data < 0).sum())} negative")
    return X


def initial_factors(n_users: int, n_items: int, factors: int, random_state) -> tuple[np.ndarray, np.ndarray]:
    """Uniform [0, 0.01) float32 factors, users first then items (as ``implicit`` draws them)."""
    rng = np.random.default_rng(random_state)
    users = rng.random((n_users, factors), dtype=np.float32) * 0.01
    items = rng.random((n_items, factors), dtype=np.float32) * 0.01
    return users, items


def _chunks(lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    """The rows with entries, sorted by their number of entries, cut into chunks whose padded size
    (rows x the chunk's longest row) stays within ``budget`` (a longer row alone)."""
    rows = np.flatnonzero(lengths)
    rows = rows[np.argsort(lengths[rows], kind="stable")]
    chunks, start = [], 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and (end - start + 1) * lengths[rows[end]] <= budget:
            end += 1
        chunks.append(rows[start:end])
        start = end
    return chunks


def solve_factors(confidence: sparse.csr_matrix, fixed: np.ndarray, regularization: float) -> np.ndarray:
    """One half-step of ALS: every row's factors given the other side's ``fixed`` factors.

    ``confidence`` holds alpha * r (c - 1) at the played entries. Row u solves
    (F^T F + reg I + F_u^T diag(c_u - 1) F_u) x_u = F_u^T c_u; a row with no entries gets 0. Rows of
    similar length are padded to a (rows, longest, f) block (the padding points at a zero factor
    with weight 0), so the Gram matrices are one batched matrix product and the solves one call.
    """
    n_rows, factors = confidence.shape[0], fixed.shape[1]
    base = fixed.T @ fixed + regularization * np.eye(factors)  # (f, f), shared by every row
    padded = np.vstack([fixed, np.zeros((1, factors))])  # index -1: the zero factor
    out = np.zeros((n_rows, factors))
    indptr, indices, weights = confidence.indptr, confidence.indices, confidence.data
    lengths = np.diff(indptr)
    for rows in _chunks(lengths, max(1, BLOCK_FLOATS // factors)):
        longest = int(lengths[rows[-1]])
        offsets = np.arange(longest)
        inside = offsets[None, :] < lengths[rows][:, None]  # (rows, longest)
        where = np.where(inside, indptr[rows][:, None] + offsets[None, :], 0)
        items = np.where(inside, indices[where], -1)
        c = np.where(inside, weights[where], 0.0)  # (rows, longest)
        F = padded[items]  # (rows, longest, f)
        A = np.matmul((F * c[:, :, None]).transpose(0, 2, 1), F)  # (rows, f, f)
        b = np.einsum("rl,rlf->rf", 1.0 + c, F)  # (rows, f); the zero factor adds nothing
        out[rows] = np.linalg.solve(base + A, b[:, :, None])[:, :, 0]
    return out


def implicit_loss(confidence: sparse.csr_matrix, X: np.ndarray, Y: np.ndarray, regularization: float) -> float:
    """sum c (p - x.y)^2 + reg (|X|^2 + |Y|^2) over every (user, item), in O(nnz f + f^2 (users + items)):
    the unplayed entries contribute sum (x.y)^2 = trace(X^T X Y^T Y), corrected on the played ones."""
    rows = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
    scores = np.einsum("ij,ij->i", X[rows], Y[confidence.indices])
    c = 1.0 + confidence.data
    everywhere = float(np.sum((X.T @ X) * (Y.T @ Y)))
    played = float(np.sum(c * (1.0 - scores) ** 2 - scores**2))
    return (everywhere + played + regularization * (np.sum(X**2) + np.sum(Y**2))) / confidence.nnz


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k largest finite scores' indices and scores, best first (ties: smaller index);
    a row with fewer than k finite scores is padded with index -1 and score -inf."""
    k = min(k, scores.shape[1])
    part = (
        np.argpartition(-scores, k - 1, axis=1)[:, :k]
        if k < scores.shape[1]
        else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
    )
    chosen = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -chosen), axis=1)
    items, best = np.take_along_axis(part, order, axis=1), np.take_along_axis(chosen, order, axis=1)
    items = np.where(np.isfinite(best), items, -1)
    return items, best


class ImplicitALS(BaseEstimator):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008); see the module docstring.

    ``fit(X)`` takes the plays as a users x items sparse matrix; ``recommend(users, k)`` answers each
    user's k best unplayed items. ``loss_history_`` is the objective after each iteration (per entry).
    """

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 0.1,
        alpha: float = 10.0,
        iterations: int = 15,
        random_state: int | None = None,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def _check_hyperparameters(self) -> None:
        if not isinstance(self.factors, int | np.integer) or self.factors < 1:
            raise ValueError(f"factors must be a positive integer, got {self.factors!r}")
        if not isinstance(self.iterations, int | np.integer) or self.iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {self.iterations!r}")
        if self.regularization < 0 or self.alpha <= 0:
            raise ValueError(f"need regularization >= 0 and alpha > 0, got {self.regularization} and {self.alpha}")

    def fit(self, X, y=None):
        self._check_hyperparameters()
        plays = check_interactions(X)
        confidence = plays * self.alpha  # c - 1 at the played entries
        confidence_t = confidence.T.tocsr()
        users, items = initial_factors(*plays.shape, self.factors, self.random_state)
        X_, Y_ = users.astype(np.float64), items.astype(np.float64)
        self.loss_history_ = []
        for _ in range(self.iterations):
            X_ = solve_factors(confidence, Y_, self.regularization)
            Y_ = solve_factors(confidence_t, X_, self.regularization)
            self.loss_history_.append(implicit_loss(confidence, X_, Y_, self.regularization))
        self.user_factors_, self.item_factors_ = X_, Y_
        self.user_items_ = plays
        self.n_users_, self.n_items_ = plays.shape
        self.popularity_ = np.asarray((plays > 0).sum(axis=0)).ravel()  # users per item
        return self

    def _seen(self, users: np.ndarray) -> sparse.csr_matrix:
        return self.user_items_[users]

    def recommend(self, users: Sequence[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Each user's k best items not played in training, best first: (items, scores), each (n, k)."""
        require_fitted(self, "user_factors_")
        users = self._known_users(users)
        scores = self.user_factors_[users] @ self.item_factors_.T  # (n, items)
        seen = self._seen(users)
        scores[np.repeat(np.arange(len(users)), np.diff(seen.indptr)), seen.indices] = -np.inf
        return top_k(scores, k)

    def _known_users(self, users) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64).ravel()
        if len(users) and (users.min() < 0 or users.max() >= self.n_users_):
            raise KeyError(f"user ids must lie in [0, {self.n_users_}), got {users.min()}..{users.max()}")
        return users

    def fold_in(self, items: Sequence[int], plays: Sequence[float]) -> np.ndarray:
        """A user's factors from their plays of ``items``, the items' factors fixed: one ALS user step."""
        require_fitted(self, "item_factors_")
        row = interaction_matrix(np.zeros(len(items)), items, plays, (1, self.n_items_))
        return solve_factors(row * self.alpha, self.item_factors_, self.regularization)[0]

    def score_user(self, user: int, fresh: Sequence[tuple[int, float]] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every item for ``user`` and the items to leave out (played in training or fresh).

        Without fresh plays a known user scores by the trained factors; with them, the training plays
        plus the fresh ones are folded in; a user unknown to training and without fresh plays scores
        by popularity (the number of users who played each item)."""
        require_fitted(self, "user_factors_")
        known = 0 <= user < self.n_users_
        trained = self.user_items_[user] if known else sparse.csr_matrix((1, self.n_items_))
        items, plays = list(trained.indices), list(trained.data)
        for item, count in fresh:
            if not 0 <= item < self.n_items_:
                raise KeyError(f"item id {item} is not in the catalog [0, {self.n_items_})")
            items.append(int(item))
            plays.append(float(count))
        if fresh:
            scores = self.item_factors_ @ self.fold_in(items, plays)
        elif known:
            scores = self.item_factors_ @ self.user_factors_[user]
        else:
            scores = self.popularity_.astype(np.float64)
        return scores, np.unique(np.asarray(items, dtype=np.int64))


@dataclass(frozen=True)
class Recommendation:
    """One answer: the items and their scores, best first, and what was read of the user online."""

    items: list[int]
    scores: list[float]
    history: int  # events the online store holds for the user (its recent window)
    fresh: int  # of those, events after training, folded in


class OnlineRecommender(BaseEstimator):
    """The served recommender: a fitted factor model (``ImplicitALS``, or anything with ``score_user``)
    and the user features of the Feast online store, read at request time.

    ``trained_until`` (epoch seconds) is the time of the last training event: an online event after it
    is fresh and folded in. ``features`` None serves the factors alone (no online store)."""

    def __init__(self, model=None, features: UserFeatureStore | None = None, trained_until: int = 0):
        self.model = model
        self.features = features
        self.trained_until = trained_until

    def recommend_user(self, user: int, k: int, history: UserHistory | None = None) -> Recommendation:
        """The k best items for ``user`` given their online ``history`` (read from the store when None)."""
        if self.model is None:
            raise ValueError("OnlineRecommender needs a fitted model")
        if history is None:
            history = self.features.read([user])[0] if self.features is not None else UserHistory.empty(user)
        fresh = history.since(self.trained_until)
        scores, played = self.model.score_user(user, fresh)
        scores = scores.copy()
        scores[played] = -np.inf
        scores[[item for item in history.items if 0 <= item < len(scores)]] = -np.inf  # seen: not again
        items, best = top_k(scores[None, :], k)
        kept = items[0] >= 0
        return Recommendation(items[0][kept].tolist(), best[0][kept].tolist(), len(history.items), len(fresh))
