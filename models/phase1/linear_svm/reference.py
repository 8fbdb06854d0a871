"""The glue to this deliverable's reference implementation (what ours is compared with): scikit-learn's
LinearSVC(loss="hinge") on L2-normalized word counts of a text column, or on standardized numeric
columns, chosen from the data it is fitted on as ours chooses (models.text.TextOrNumbers)."""

from __future__ import annotations

from models.text import TextOrNumbers, text_column


def scaled_linear_svc(**params):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(), LinearSVC(**params))


def text_linear_svc(C: float = 1.0, min_df: int = 1, **params):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer
    from sklearn.svm import LinearSVC

    svc = LinearSVC(C=C, loss="hinge", **params)
    text = make_pipeline(text_column(), CountVectorizer(min_df=min_df), Normalizer(), svc)
    return TextOrNumbers(text=text, numbers=scaled_linear_svc(C=C, loss="hinge", **params))
