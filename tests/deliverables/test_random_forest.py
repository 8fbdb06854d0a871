"""The ``random_forest`` deliverable: accuracy, out-of-bag score and importances against scikit-learn's."""

import numpy as np
import pytest
from sklearn import ensemble
from sklearn.model_selection import train_test_split

from models.phase1.random_forest.model import RandomForestClassifier
from tests.deliverables._helpers import load


def test_random_forest_matches_scikit_learns_accuracy_and_reports_out_of_bag():
    X, y = load("breast_cancer")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    ours = RandomForestClassifier(n_estimators=60, random_state=0).fit(X_train, y_train)
    theirs = ensemble.RandomForestClassifier(n_estimators=60, random_state=0, oob_score=True).fit(X_train, y_train)
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.02
    assert abs(ours.oob_score_ - theirs.oob_score_) < 0.03
    assert ours.feature_importances_.sum() == pytest.approx(1.0)
    assert np.argmax(ours.feature_importances_) in np.argsort(theirs.feature_importances_)[-5:]
