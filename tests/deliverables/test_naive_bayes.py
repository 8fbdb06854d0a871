"""The ``naive_bayes`` deliverable: Gaussian and multinomial (text) naive Bayes against scikit-learn's."""

import numpy as np
from sklearn import naive_bayes

from models.phase1.naive_bayes.model import GaussianNB, TextNaiveBayes
from tests.deliverables._helpers import load


def test_gaussian_naive_bayes_matches_scikit_learn():
    X, y = load("wine")
    ours, theirs = GaussianNB().fit(X, y), naive_bayes.GaussianNB().fit(X, y)
    np.testing.assert_allclose(ours.theta_, theirs.theta_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_, theirs.var_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)


def test_text_naive_bayes_matches_scikit_learns_pipeline(reviews):
    from models.phase1.naive_bayes.reference import text_multinomial_nb

    X_train, X_test, y_train, _ = reviews
    ours = TextNaiveBayes(alpha=0.5).fit(X_train, y_train)
    theirs = text_multinomial_nb(alpha=0.5).fit(X_train, y_train)
    np.testing.assert_allclose(ours.predict_proba(X_test), theirs.predict_proba(X_test), atol=1e-9)
    assert {word for word, _ in ours.top_words(5)["last"]}  # words exist for the plot
