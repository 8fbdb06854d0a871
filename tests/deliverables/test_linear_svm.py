"""The ``linear_svm`` deliverable: Pegasos on text against LinearSVC's optimum and accuracy."""

import numpy as np
import pytest

from models.phase1.linear_svm.model import TextLinearSVM


def test_pegasos_approaches_linear_svcs_optimum(reviews):
    from models.phase1.linear_svm.reference import text_linear_svc

    X_train, X_test, y_train, y_test = reviews
    ours = TextLinearSVM(batch_size=32, max_epochs=60, eta0=30.0, random_state=0).fit(X_train, y_train)
    reference = text_linear_svc(max_iter=20000).fit(X_train, y_train)
    Z = reference[:-1].transform(X_train)
    signs = np.where(y_train == 1, 1.0, -1.0)
    w = np.r_[reference[-1].coef_.ravel(), reference[-1].intercept_]
    features = np.c_[Z.toarray(), np.ones(len(signs))]
    optimum = w @ w / (2 * len(signs)) + np.maximum(0.0, 1.0 - signs * (features @ w)).mean()  # lambda = 1/(C n)
    assert ours.loss_history_[-1] == pytest.approx(optimum, rel=0.05)
    assert ours.score(X_test, y_test) >= reference.score(X_test, y_test) - 0.015
    assert np.mean(ours.loss_history_[-5:]) < np.mean(ours.loss_history_[:5])
