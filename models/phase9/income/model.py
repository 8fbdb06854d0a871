"""Ours for ``income``: the project's from-scratch logistic regression, reused as it is.

models/phase1/logistic_regression/model.py already does what the adult table needs: binary log-loss with
scikit-learn's L2 objective, standardization inside (``standardize=True``, the one-hot and dollar
columns on one scale), Newton's method, ``predict_proba`` for the fairness audit's thresholds, and
scikit-learn's conventions (so it pickles and clones). No subclass is needed.
"""

from __future__ import annotations

from models.phase1.logistic_regression.model import LogisticRegression

__all__ = ["LogisticRegression"]
