"""The ``mlp`` deliverable: the NumPy feedforward network learns what its torch twin learns."""

import numpy as np

from models.phase2.mlp.model import MLPClassifier, TorchMLPClassifier


def test_numpy_mlp_and_torch_mlp_learn_the_same_task():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data.reshape(-1, 8, 8) / 16, digits.target
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    ours = MLPClassifier(hidden=(32,), max_epochs=15, random_state=0).fit(X[train], y[train])
    theirs = TorchMLPClassifier(hidden=(32,), max_epochs=15, random_state=0).fit(X[train], y[train])
    ours_accuracy, their_accuracy = ours.score(X[test], y[test]), theirs.score(X[test], y[test])
    assert ours_accuracy > 0.93 and their_accuracy > 0.93, (ours_accuracy, their_accuracy)
    assert abs(ours_accuracy - their_accuracy) < 0.03
