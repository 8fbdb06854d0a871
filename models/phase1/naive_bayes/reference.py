"""The glue to this deliverable's reference implementation (what ours is compared with): scikit-learn's
CountVectorizer + MultinomialNB on a text column, its GaussianNB on numeric columns, chosen from the
data it is fitted on as ours chooses (models.text.TextOrNumbers)."""

from __future__ import annotations

from models.text import TextOrNumbers, text_column


def text_multinomial_nb(alpha: float = 1.0, min_df: int = 1, var_smoothing: float = 1e-9):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import GaussianNB, MultinomialNB
    from sklearn.pipeline import make_pipeline

    text = make_pipeline(text_column(), CountVectorizer(min_df=min_df), MultinomialNB(alpha=alpha))
    return TextOrNumbers(text=text, numbers=GaussianNB(var_smoothing=var_smoothing))
