"""The shared text front end (models/text.py) against scikit-learn's."""

import pytest

from tests.deliverables._helpers import review_splits


@pytest.fixture(scope="module")
def reviews():
    return review_splits()


def test_our_counts_equal_scikit_learns_count_vectorizer(reviews):
    from sklearn.feature_extraction.text import CountVectorizer

    from models.text import Counts

    texts = reviews[0][:, 0].tolist()
    ours = Counts(texts, min_df=2)
    theirs = CountVectorizer(min_df=2).fit(texts)
    assert ours.vocabulary == theirs.vocabulary_
    assert (ours.transform(texts) != theirs.transform(texts)).nnz == 0
