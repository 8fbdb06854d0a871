"""Helpers that several test modules share (deliverables' modules and the shared ones in tests/unit)."""

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split

RNG = np.random.default_rng(0)


def load(name):
    return getattr(datasets, f"load_{name}")(return_X_y=True)


def review_splits():
    """3000 movie-review sentences split 3:1: ``X_train, X_test, y_train, y_test`` (X: one text column)."""
    from s2p.sources import movie_reviews

    frame = movie_reviews().sample(3000, random_state=0)
    X, y = frame[["text"]].to_numpy(dtype=object), frame["sentiment"].to_numpy()
    return train_test_split(X, y, test_size=0.25, random_state=0)


def grads_by_autograd(function, *arrays):
    """Values and gradients of sum(function(*tensors) * upstream) with respect to each input."""
    import torch

    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = function(*tensors)
    upstream = torch.tensor(RNG.normal(size=tuple(out.shape)))
    (out * upstream).sum().backward()
    return out.detach().numpy(), upstream.numpy(), [t.grad.numpy() for t in tensors]
