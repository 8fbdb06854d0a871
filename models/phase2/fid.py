"""The project's FID-like score for generated images (gan, ddpm): the Frechet distance between
Gaussians fitted to a classifier's features of real and of generated images, and the share of
generated images that classifier reads as the class asked for. The classifier is the NumPy MLP of
the `mlp` deliverable, trained here on the real held-out images (no pretrained network offline).
"""

from __future__ import annotations

import warnings

import numpy as np


def image_classifier(images: np.ndarray, labels: np.ndarray):
    """The classifier an FID-like score reads features from: a NumPy MLP (64 ReLU units) trained
    here, on the real held-out images of the classes wanted."""
    from models.phase2.mlp.model import MLPClassifier

    return MLPClassifier(hidden=(64,), optimizer="adam", learning_rate=0.003, max_epochs=60, random_state=0).fit(
        images, labels
    )


def classifier_features(classifier, images: np.ndarray) -> np.ndarray:
    """The classifier's hidden layer (after ReLU): the feature space the distance is measured in."""
    net = classifier.net_
    out = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    for layer in net.layers[1:3]:  # Flatten is done; Dense, ReLU
        out = layer.forward(out)
    return out


def fid(y_true, y_pred, X=None, model=None) -> float:
    """FID-like: the Frechet distance between Gaussians fitted to the classifier features of real
    (y_true) and generated (y_pred) images, ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^1/2)."""
    from scipy import linalg

    labels = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0].astype(np.int64)
    classifier = image_classifier(np.asarray(y_true), labels)
    real, fake = classifier_features(classifier, y_true), classifier_features(classifier, y_pred)
    mu_r, mu_g = real.mean(axis=0), fake.mean(axis=0)
    s_r, s_g = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    with warnings.catch_warnings():  # units that never fire make the product singular: its root still exists
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(s_r @ s_g).real
    return max(0.0, float(((mu_r - mu_g) ** 2).sum() + np.trace(s_r + s_g - 2 * root)))


def class_accuracy(y_true, y_pred, X=None, model=None) -> float:
    """Share of generated images that the same classifier reads as the class that was asked for."""
    labels = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0].astype(np.int64)
    return float(np.mean(image_classifier(np.asarray(y_true), labels).predict(y_pred) == labels))
