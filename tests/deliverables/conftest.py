"""Fixtures that several deliverables' test modules read."""

import pytest

from tests.deliverables._helpers import review_splits


@pytest.fixture(scope="module")
def reviews():
    """Movie-review sentences split 3:1 (naive Bayes and the linear SVM read them)."""
    return review_splits()


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits scaled to [0, 1], as images, with their labels (autoencoder, GAN)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16).reshape(-1, 8, 8), data.target
