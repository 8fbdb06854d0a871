"""The metrics of `bert_mini` besides the shared ones: what masked-LM pretraining bought. The same network
fine-tuned the same way from a random initialization (``compare_random_init``) is scored on the same rows."""

from __future__ import annotations

import numpy as np


def accuracy_from_random(y_true, y_pred, X=None, model=None) -> float:
    """Accuracy of the classifier fine-tuned from a random encoder instead of the pretrained one."""
    return float(np.mean(np.asarray(model.predict(X, random_init=True)) == np.asarray(y_true)))


def pretraining_gain(y_true, y_pred, X=None, model=None) -> float:
    """Accuracy fine-tuned from the masked-LM checkpoint minus accuracy fine-tuned from random init."""
    return float(np.mean(np.asarray(y_pred) == np.asarray(y_true))) - accuracy_from_random(y_true, y_pred, X, model)


METRICS = {"accuracy_from_random": (accuracy_from_random, True), "pretraining_gain": (pretraining_gain, True)}
