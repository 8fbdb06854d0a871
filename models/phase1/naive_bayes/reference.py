"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations

from models.text import text_column


def text_multinomial_nb(alpha: float = 1.0, min_df: int = 1):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    return make_pipeline(text_column(), CountVectorizer(min_df=min_df), MultinomialNB(alpha=alpha))
