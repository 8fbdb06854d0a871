"""Evaluation metrics by name: the measuring stick both our model and the reference are held to.

Every metric takes the same arguments, so one table serves every task: the true values, the
model's outputs (pipeline/kinds.py), and the features and the model for the metrics that need
them (log-loss asks for probabilities, silhouette for the points, inertia for the centres).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _rmse(y_true, y_pred, X=None, model=None) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)))


def _mae(y_true, y_pred, X=None, model=None) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def _r2(y_true, y_pred, X=None, model=None) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, y_pred))


def _accuracy(y_true, y_pred, X=None, model=None) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def _f1_macro(y_true, y_pred, X=None, model=None) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def _positive(y_true, y_pred) -> dict:
    """How precision, recall and F1 read a label set: of the positive class when there are two
    classes (1 of 0/1, else the larger label), the unweighted mean over classes when there are more."""
    labels = np.unique(np.concatenate([np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()]))
    if len(labels) > 2:
        return {"average": "macro"}
    return {"pos_label": 1 if set(labels.tolist()) <= {0, 1} else labels[-1]}


def _precision(y_true, y_pred, X=None, model=None) -> float:
    from sklearn.metrics import precision_score

    return float(precision_score(y_true, y_pred, zero_division=0, **_positive(y_true, y_pred)))


def _recall(y_true, y_pred, X=None, model=None) -> float:
    from sklearn.metrics import recall_score

    return float(recall_score(y_true, y_pred, zero_division=0, **_positive(y_true, y_pred)))


def _f1(y_true, y_pred, X=None, model=None) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, zero_division=0, **_positive(y_true, y_pred)))


def _log_loss(y_true, y_pred, X=None, model=None) -> float:
    """Over the model's classes, any number of them; a class the model never saw in training has
    probability 0 (clipped, as scikit-learn clips, to a large but finite loss)."""
    from sklearn.metrics import log_loss

    classes, proba = np.asarray(model.classes_), np.asarray(model.predict_proba(X))
    unseen = np.setdiff1d(np.unique(y_true), classes)
    if unseen.size:  # log_loss reads the columns in sorted label order
        classes = np.concatenate([classes, unseen])
        proba = np.hstack([proba, np.zeros((len(proba), unseen.size))])
        order = np.argsort(classes, kind="stable")
        classes, proba = classes[order], proba[:, order]
    return float(log_loss(y_true, proba, labels=classes))


def _ari(y_true, y_pred, X=None, model=None) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(y_true, y_pred))


def _silhouette(y_true, y_pred, X=None, model=None) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(y_pred)) < 2:
        return -1.0  # one cluster: the worst score, not an error
    return float(silhouette_score(X, y_pred))


def _inertia(y_true, y_pred, X=None, model=None) -> float:
    """Within-cluster sum of squares of these points around the model's centres."""
    centres = model.cluster_centers_
    return float(((np.asarray(X) - centres[np.asarray(y_pred, dtype=int)]) ** 2).sum())


def _texts(X) -> list[str]:
    X = np.asarray(X, dtype=object)
    return (X[:, 0] if X.ndim == 2 else X).tolist()


def _compression(y_true, y_pred, X=None, model=None) -> float:
    """Characters per token: how much text one token carries."""
    return float(sum(len(text) for text in _texts(X)) / max(sum(len(ids) for ids in y_pred), 1))


def _roundtrip(y_true, y_pred, X=None, model=None) -> float:
    """Share of texts that decode back exactly from their tokens."""
    decoded = model.inverse_transform(y_pred)
    return float(np.mean([a == b for a, b in zip(decoded, _texts(X), strict=True)]))


def _recall_at_k(y_true, y_pred, X=None, model=None) -> float:
    """Share of the returned neighbours that are among the true k nearest, by exact distances under
    the index's metric (scikit-learn); a neighbour tied with the true k-th distance counts."""
    from sklearn.metrics import pairwise_distances

    distances = pairwise_distances(np.asarray(X, dtype=float), model.X_fit_, metric=model.metric)
    kth = np.sort(distances, axis=1)[:, model.k - 1]
    returned = np.take_along_axis(distances, np.asarray(y_pred, dtype=int), axis=1)
    return float(np.mean(returned <= kth[:, None] + 1e-9))


def _query_ms(y_true, y_pred, X=None, model=None) -> float:
    """Milliseconds per query: the best of 3 timed runs of the whole batch."""
    import time

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        model.transform(X)
        best = min(best, time.perf_counter() - started)
    return 1000.0 * best / max(len(X), 1)


def _reconstruction(X, model) -> np.ndarray:
    """The model's reconstruction of X, with X's shape (an image model may answer flat)."""
    return np.asarray(model.inverse_transform(model.transform(X))).reshape(np.shape(X))


def _explained_variance(y_true, y_pred, X=None, model=None) -> float:
    """Share of these points' variance the kept components reconstruct."""
    X = np.asarray(X, float)
    residual = ((X - _reconstruction(X, model)) ** 2).sum()
    return float(1.0 - residual / ((X - X.mean(axis=0)) ** 2).sum())


def _reconstruction_rmse(y_true, y_pred, X=None, model=None) -> float:
    X = np.asarray(X, float)
    return float(np.sqrt(np.mean((X - _reconstruction(X, model)) ** 2)))


def _elbo(y_true, y_pred, X=None, model=None) -> float:
    """Mean log-likelihood per sample in nats: a VAE's ELBO (a lower bound) or probabilistic PCA's."""
    return float(model.score(X))


def _perplexity(y_true, y_pred, X=None, model=None) -> float:
    """A language model's exp(mean negative log-likelihood per character) of the held-out texts."""
    return float(model.perplexity(X))


def _token_accuracy(y_true, y_pred, X=None, model=None) -> float:
    """Share of positions of generated sequences equal to the answer's."""
    return float(np.mean(np.asarray(y_pred) == np.asarray(y_true)))


def _sequence_accuracy(y_true, y_pred, X=None, model=None) -> float:
    """Share of generated sequences equal to the answer at every position."""
    return float(np.mean((np.asarray(y_pred) == np.asarray(y_true)).all(axis=1)))


METRICS: dict[str, tuple[Callable, bool]] = {
    # name: (function(y_true, y_pred, X, model), greater is better)
    "rmse": (_rmse, False),
    "mae": (_mae, False),
    "r2": (_r2, True),
    "accuracy": (_accuracy, True),
    "f1_macro": (_f1_macro, True),
    "log_loss": (_log_loss, False),
    "precision": (_precision, True),  # of the positive class (1), macro over more than two classes
    "recall": (_recall, True),
    "f1": (_f1, True),
    "ari": (_ari, True),
    "silhouette": (_silhouette, True),
    "inertia": (_inertia, False),
    "compression": (_compression, True),
    "recall_at_k": (_recall_at_k, True),
    "query_ms": (_query_ms, False),
    "roundtrip": (_roundtrip, True),
    "explained_variance": (_explained_variance, True),
    "reconstruction_rmse": (_reconstruction_rmse, False),
    "perplexity": (_perplexity, False),
    "elbo": (_elbo, True),
    "token_accuracy": (_token_accuracy, True),
    "sequence_accuracy": (_sequence_accuracy, True),
}


def known_metrics(deliverable=None) -> dict[str, tuple[Callable, bool]]:
    """The shared metrics and the deliverable's own (``METRICS`` in its folder's metrics.py, if any)."""
    import importlib
    import importlib.util

    package = getattr(deliverable, "package", "")
    if not package or importlib.util.find_spec(f"{package}.metrics") is None:
        return METRICS
    return METRICS | importlib.import_module(f"{package}.metrics").METRICS


def compute(
    names: tuple[str, ...] | list[str], y_true, y_pred, X=None, model=None, deliverable=None
) -> dict[str, float]:
    known = known_metrics(deliverable)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown metric(s) {unknown}; known: {sorted(known)}")
    return {name: known[name][0](y_true, y_pred, X, model) for name in names}


def greater_is_better(name: str, deliverable=None) -> bool:
    return known_metrics(deliverable)[name][1]
