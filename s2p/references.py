"""Reference implementations that need a preprocessing step to match ours on the same data.

Ours standardize the features inside (``standardize=True``); scikit-learn's linear models do not,
so their reference is the same model behind a StandardScaler.
"""

from __future__ import annotations


def scaled_logistic_regression(**params):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(**params))


def scaled_linear_svc(**params):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(), LinearSVC(**params))
