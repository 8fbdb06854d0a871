"""The reference for ``income``: scikit-learn's StandardScaler + LogisticRegression (lbfgs), the same
glue as logistic_regression's (ours standardizes inside the model, scikit-learn's does not)."""

from __future__ import annotations

from models.phase1.logistic_regression.reference import scaled_logistic_regression

__all__ = ["scaled_logistic_regression"]
