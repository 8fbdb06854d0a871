"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations


def scaled_logistic_regression(**params):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(**params))
