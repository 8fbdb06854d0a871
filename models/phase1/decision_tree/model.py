"""CART classification trees from scratch: gini or entropy, stopping rules, cost-complexity pruning.

The split search at a node is vectorized: the node's rows are sorted once per candidate
feature, class counts are accumulated with a cumulative sum, and the impurity of every
threshold of every feature is evaluated at once (no Python loop per threshold). Thresholds are
midpoints between consecutive distinct values, as scikit-learn's. The tree is grown depth first
(left child first) into flat arrays, so node ids, the pruning path and the feature importances
line up with scikit-learn's ``tree_``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin

from models.base import EpochTrainable, require_fitted, validate_labels, validate_xy

CRITERIA = ("gini", "entropy")
LEAF = -1


def impurity(counts: np.ndarray, criterion: str) -> np.ndarray:
    """Impurity of class-count vectors along the last axis (gini, or entropy in bits)."""
    totals = counts.sum(axis=-1, keepdims=True)
    p = np.divide(counts, totals, out=np.zeros_like(counts, dtype=float), where=totals > 0)
    if criterion == "gini":
        return 1.0 - (p**2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=-1)


class DecisionTreeClassifier(ClassifierMixin, EpochTrainable):
    """Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_importances_`` and the flat
    tree: ``children_left_``, ``children_right_`` (-1 at leaves), ``feature_``, ``threshold_``,
    ``value_`` (class counts), ``impurity_``, ``n_node_samples_``."""

    def __init__(
        self,
        criterion: str = "gini",
        max_depth: int | None = None,
        min_samples_split: int = 2,
        min_samples_leaf: int = 1,
        min_impurity_decrease: float = 0.0,
        max_features: int | float | str | None = None,
        ccp_alpha: float = 0.0,
        random_state: int | None = None,
    ):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_impurity_decrease = min_impurity_decrease
        self.max_features = max_features
        self.ccp_alpha = ccp_alpha
        self.random_state = random_state

    def _trains_in_epochs(self) -> bool:
        return False  # grown in one pass: nothing to checkpoint

    # -- growing -----------------------------------------------------------------------------
    def _n_candidates(self, d: int) -> int:
        m = self.max_features
        if m is None:
            return d
        if m == "sqrt":
            return max(1, int(np.sqrt(d)))
        if m == "log2":
            return max(1, int(np.log2(d)))
        return max(1, int(m * d)) if isinstance(m, float) else min(d, int(m))

    def _best_split(self, X: np.ndarray, Y: np.ndarray, features: np.ndarray):
        """The best (feature, threshold, proxy) among ``features`` at a node; None if none is valid."""
        n, leaf = len(X), self.min_samples_leaf
        order = np.argsort(X[:, features], axis=0, kind="stable")  # (n, f)
        values = np.take_along_axis(X[:, features], order, axis=0)
        left = np.cumsum(Y[order], axis=0)[:-1]  # (n-1, f, k): counts left of each cut
        right = Y.sum(axis=0) - left
        sizes = np.arange(1, n)[:, None]
        proxy = -(sizes * impurity(left, self.criterion) + (n - sizes) * impurity(right, self.criterion))
        valid = (values[1:] > values[:-1] + 1e-7) & (sizes >= leaf) & (n - sizes >= leaf)
        proxy = np.where(valid, proxy, -np.inf)
        best = np.argmax(proxy.T.ravel())  # feature-major: ties go to the first feature, then the first cut
        column, cut = divmod(best, n - 1)
        if not np.isfinite(proxy[cut, column]):
            return None
        low, high = values[cut, column], values[cut + 1, column]
        threshold = (low + high) / 2.0
        if threshold == high:  # rounding reached the upper value: keep it on the right
            threshold = low
        return int(features[column]), float(threshold), float(proxy[cut, column])

    def _split(self, X, Y, rng):
        d = X.shape[1]
        m = self._n_candidates(d)
        if m >= d:
            return self._best_split(X, Y, np.arange(d))
        order = rng.permutation(d)  # drawn features first; the rest only if none of them splits
        return self._best_split(X, Y, order[:m]) or self._best_split(X, Y, order[m:])

    def fit(self, X, y):
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {self.criterion!r}")
        X, self.classes_, encoded = validate_labels(X, y)
        self.n_features_in_ = X.shape[1]
        Y = np.eye(len(self.classes_))[encoded]
        rng = np.random.default_rng(self.random_state)
        nodes: list[list] = []  # [left, right, feature, threshold, value, impurity, n]
        total = len(X)
        stack = [(np.arange(total), 0, None, False)]
        while stack:
            rows, depth, parent, is_left = stack.pop()
            counts = Y[rows].sum(axis=0)
            node_impurity = float(impurity(counts, self.criterion))
            node = len(nodes)
            nodes.append([LEAF, LEAF, LEAF, -2.0, counts, node_impurity, len(rows)])
            if parent is not None:
                nodes[parent][0 if is_left else 1] = node
            if (
                node_impurity <= 1e-12
                or len(rows) < self.min_samples_split
                or len(rows) < 2 * self.min_samples_leaf
                or (self.max_depth is not None and depth >= self.max_depth)
            ):
                continue
            split = self._split(X[rows], Y[rows], rng)
            if split is None:
                continue
            feature, threshold, proxy = split
            decrease = (len(rows) * node_impurity + proxy) / total  # weighted impurity decrease
            if decrease < self.min_impurity_decrease - 1e-12:
                continue
            nodes[node][2:4] = [feature, threshold]
            goes_left = X[rows, feature] <= threshold
            stack.append((rows[~goes_left], depth + 1, node, False))  # popped second
            stack.append((rows[goes_left], depth + 1, node, True))
        self._store(nodes)
        if self.ccp_alpha > 0:
            self._prune_to(self.ccp_alpha)
        self.feature_importances_ = self._importances()
        return self

    def _store(self, nodes: list[list]) -> None:
        columns = list(zip(*nodes, strict=False))
        self.children_left_ = np.array(columns[0], dtype=np.intp)
        self.children_right_ = np.array(columns[1], dtype=np.intp)
        self.feature_ = np.array(columns[2], dtype=np.intp)
        self.threshold_ = np.array(columns[3], dtype=float)
        self.value_ = np.array(columns[4], dtype=float)
        self.impurity_ = np.array(columns[5], dtype=float)
        self.n_node_samples_ = np.array(columns[6], dtype=np.intp)

    # -- cost-complexity pruning -------------------------------------------------------------
    def _weakest_links(self):
        """Prune the weakest link, one at a time, down to the root (the tree's arrays stay as they
        are); after each, yield its effective alpha, the total leaf impurity R(T) and the children
        arrays of the pruned tree. R(t) = impurity(t) * n_t / n; alpha = (R(t) - R(T_t)) / (leaves - 1)."""
        left, right = self.children_left_.copy(), self.children_right_.copy()
        r_node = self.impurity_ * self.n_node_samples_ / self.n_node_samples_[0]
        parent = np.full(len(left), -1)
        for node in np.flatnonzero(left != LEAF):
            parent[left[node]] = parent[right[node]] = node
        n_leaves, r_branch = np.ones(len(left)), r_node.copy()
        for node in reversed(range(len(left))):  # children come after their parent
            if left[node] != LEAF:
                n_leaves[node] = n_leaves[left[node]] + n_leaves[right[node]]
                r_branch[node] = r_branch[left[node]] + r_branch[right[node]]
        internal = left != LEAF
        while internal.any():
            alphas = np.where(internal, (r_node - r_branch) / np.maximum(n_leaves - 1, 1), np.inf)
            node = int(np.argmin(alphas))
            removed_leaves, removed_r = n_leaves[node] - 1, r_branch[node] - r_node[node]
            below = [node]  # the subtree under node stops being internal
            while below:
                current = below.pop()
                internal[current] = False
                if left[current] != LEAF:
                    below += [left[current], right[current]]
            left[node] = right[node] = LEAF
            n_leaves[node], r_branch[node] = 1, r_node[node]
            ancestor = parent[node]
            while ancestor != -1:
                n_leaves[ancestor] -= removed_leaves
                r_branch[ancestor] -= removed_r
                ancestor = parent[ancestor]
            yield float(alphas[node]), float(r_branch[0]), left, right

    def cost_complexity_pruning_path(self, X, y) -> dict[str, np.ndarray]:
        """Effective alphas and total leaf impurities along minimal cost-complexity pruning."""
        tree = type(self)(**{**self.get_params(), "ccp_alpha": 0.0}).fit(X, y)
        leaves = tree.children_left_ == LEAF
        alphas = [0.0]
        impurities = [float((tree.impurity_ * tree.n_node_samples_)[leaves].sum() / tree.n_node_samples_[0])]
        for alpha, total, _, _ in tree._weakest_links():
            alphas.append(alpha)
            impurities.append(total)
        return {"ccp_alphas": np.array(alphas), "impurities": np.array(impurities)}

    def _reachable(self, left, right) -> np.ndarray:
        seen = np.zeros(len(left), dtype=bool)
        stack = [0]
        while stack:
            node = stack.pop()
            seen[node] = True
            if left[node] != LEAF:
                stack += [left[node], right[node]]
        return seen

    def _prune_to(self, ccp_alpha: float) -> None:
        left, right = self.children_left_, self.children_right_
        for alpha, _, pruned_left, pruned_right in self._weakest_links():
            if alpha > ccp_alpha:
                break
            left, right = pruned_left.copy(), pruned_right.copy()
        keep = np.flatnonzero(self._reachable(left, right))  # renumber, preserving depth-first order
        new_id = np.full(len(left), LEAF)
        new_id[keep] = np.arange(len(keep))
        self.children_left_ = np.where(left[keep] == LEAF, LEAF, new_id[left[keep]])
        self.children_right_ = np.where(right[keep] == LEAF, LEAF, new_id[right[keep]])
        leaf = self.children_left_ == LEAF
        self.feature_ = np.where(leaf, LEAF, self.feature_[keep])
        self.threshold_ = np.where(leaf, -2.0, self.threshold_[keep])
        for name in ("value_", "impurity_", "n_node_samples_"):
            setattr(self, name, getattr(self, name)[keep])

    def _importances(self) -> np.ndarray:
        importances = np.zeros(self.n_features_in_)
        weighted = self.impurity_ * self.n_node_samples_
        for node in np.flatnonzero(self.children_left_ != LEAF):
            left, right = self.children_left_[node], self.children_right_[node]
            importances[self.feature_[node]] += weighted[node] - weighted[left] - weighted[right]
        total = importances.sum()
        return importances / total if total > 0 else importances

    # -- prediction --------------------------------------------------------------------------
    def apply(self, X) -> np.ndarray:
        """The leaf each row lands in (all rows descend together, one level per step)."""
        require_fitted(self, "children_left_")
        X, _ = validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the tree was fitted on {self.n_features_in_}")
        node = np.zeros(len(X), dtype=np.intp)
        rows = np.arange(len(X))
        while True:
            inner = self.children_left_[node] != LEAF
            if not inner.any():
                return node
            at, where = node[inner], rows[inner]
            go_left = X[where, self.feature_[at]] <= self.threshold_[at]
            node[inner] = np.where(go_left, self.children_left_[at], self.children_right_[at])

    def predict_proba(self, X) -> np.ndarray:
        counts = self.value_[self.apply(X)]
        return counts / counts.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def get_depth(self) -> int:
        depth = np.zeros(len(self.children_left_), dtype=int)
        for node in np.flatnonzero(self.children_left_ != LEAF):
            depth[self.children_left_[node]] = depth[self.children_right_[node]] = depth[node] + 1
        return int(depth.max())

    def get_n_leaves(self) -> int:
        return int((self.children_left_ == LEAF).sum())
