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


def _text_column():
    """scikit-learn's vectorizers take a 1-D sequence of texts; the pipeline hands a one-column table."""
    import numpy as np
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(np.ravel)


def text_multinomial_nb(alpha: float = 1.0, min_df: int = 1):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_text_column(), CountVectorizer(min_df=min_df), MultinomialNB(alpha=alpha))


def text_linear_svc(C: float = 1.0, min_df: int = 1, **params):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer
    from sklearn.svm import LinearSVC

    svc = LinearSVC(C=C, loss="hinge", **params)
    return make_pipeline(_text_column(), CountVectorizer(min_df=min_df), Normalizer(), svc)
