"""The ``decision_tree`` deliverable: split search, growth and pruning against scikit-learn's tree."""

import itertools

import numpy as np
import pytest
from sklearn import datasets, tree

from models.phase1.decision_tree.model import DecisionTreeClassifier, impurity
from tests.deliverables._helpers import load


def continuous(seed=0, n=400, classes=3):
    return datasets.make_classification(
        n_samples=n, n_features=8, n_informative=5, n_classes=classes, random_state=seed
    )


def test_vectorized_split_search_equals_a_loop_over_every_threshold():
    X, y = continuous(seed=1, n=120)
    Y = np.eye(3)[y]
    model = DecisionTreeClassifier()
    _feature, _threshold, proxy = model._best_split(X, Y, np.arange(X.shape[1]))
    best = -np.inf
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        for low, high in itertools.pairwise(values):
            left = X[:, j] <= (low + high) / 2
            score = -(left.sum() * impurity(Y[left].sum(0), "gini") + (~left).sum() * impurity(Y[~left].sum(0), "gini"))
            best = max(best, score)
    assert proxy == pytest.approx(best)


# Seeds where no two features tie for a split: scikit-learn breaks ties by a random feature order.
@pytest.mark.parametrize(("criterion", "seed"), [("gini", 2), ("entropy", 2), ("gini", 3)])
def test_tree_equals_scikit_learns_tree_node_for_node(criterion, seed):
    X, y = continuous(seed)
    settings = {"criterion": criterion, "max_depth": 4, "min_samples_leaf": 5}
    ours = DecisionTreeClassifier(**settings).fit(X, y)
    theirs = tree.DecisionTreeClassifier(**settings, random_state=0).fit(X, y).tree_
    np.testing.assert_array_equal(ours.feature_, np.where(theirs.feature < 0, -1, theirs.feature))
    np.testing.assert_allclose(ours.threshold_, theirs.threshold)
    np.testing.assert_allclose(ours.feature_importances_, tree.DecisionTreeClassifier(
        **settings, random_state=0).fit(X, y).feature_importances_, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_pruning_path_and_pruned_tree_match_scikit_learn(seed):
    X, y = continuous(seed)
    settings = {"max_depth": 5, "min_samples_leaf": 3}
    ours = DecisionTreeClassifier(**settings).cost_complexity_pruning_path(X, y)
    theirs = tree.DecisionTreeClassifier(**settings, random_state=0).cost_complexity_pruning_path(X, y)
    np.testing.assert_allclose(ours["ccp_alphas"], theirs["ccp_alphas"], atol=1e-12)
    np.testing.assert_allclose(ours["impurities"], theirs["impurities"], atol=1e-12)
    alpha = float(np.mean(theirs["ccp_alphas"][3:5]))  # between two steps of the path
    pruned = DecisionTreeClassifier(**settings, ccp_alpha=alpha).fit(X, y)
    reference = tree.DecisionTreeClassifier(**settings, ccp_alpha=alpha, random_state=0).fit(X, y)
    assert pruned.get_n_leaves() == reference.get_n_leaves()


def test_tree_stopping_rules():
    X, y = load("breast_cancer")
    assert DecisionTreeClassifier(max_depth=3).fit(X, y).get_depth() == 3
    leaves = DecisionTreeClassifier(min_samples_leaf=20).fit(X, y)
    assert leaves.n_node_samples_[leaves.children_left_ == -1].min() >= 20
    stump = DecisionTreeClassifier(min_impurity_decrease=0.2).fit(X, y)
    assert stump.get_n_leaves() == 2
