"""A classifier made of NumPy layers, trained by mini-batches with softmax cross-entropy.

The dense net (models/phase2/mlp.py) and the convolutional net (models/phase2/cnn.py) differ
only in the layers ``_layers`` returns. Training records, per epoch, the mean gradient norm of
each layer's weights, and keeps the weight gradients of the last batch: the gradient-flow plots of
the backprop deliverable read them.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin

from models.base import EpochTrainable, require_fitted
from models.optim import Optimizer
from models.phase2.layers import Sequential, softmax, softmax_cross_entropy


def as_images(X, ndim: int) -> np.ndarray:
    """X as float64 with finite values: (n, features) for a dense net, (n, channels, h, w) for a CNN."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2:
        raise ValueError(f"X must have a row per sample, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    if ndim == 2:
        return X.reshape(len(X), -1)
    if X.ndim == 3:  # (n, h, w): one channel
        return X[:, None]
    if X.ndim != 4:
        raise ValueError(f"a CNN reads (n, h, w) or (n, channels, h, w), got shape {X.shape}")
    return X


class NetworkClassifier(ClassifierMixin, EpochTrainable):
    """Subclasses define ``_layers(input_shape, n_classes, rng)`` and ``input_ndim``.
    Fitted: ``net_``, ``classes_``, ``loss_history_``, ``grad_norms_`` (epochs x layers),
    ``last_grads_`` (layer name -> the last batch's weight gradient)."""

    input_ndim = 2

    def _layers(self, input_shape: tuple[int, ...], n_classes: int, rng: np.random.Generator):
        raise NotImplementedError

    def _validate(self, X, y):
        X = as_images(X, self.input_ndim)
        y = np.asarray(y).ravel()
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        return X, y

    def _init_state(self, X, y) -> None:
        X, y = self._validate(X, y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_.tolist()}); a classifier needs at least two")
        rng = np.random.default_rng(self.random_state)
        self.net_ = Sequential(self._layers(X.shape[1:], len(self.classes_), rng))
        self.optimizer_ = Optimizer(self.optimizer, self.learning_rate)
        self.loss_history_, self.grad_norms_ = [], []

    def weight_names(self) -> list[str]:
        return [name for name in self.net_.params() if name.endswith("weight")]

    def _run_epoch(self, X, y, rng) -> float:
        X, y = self._validate(X, y)
        encoded = np.searchsorted(self.classes_, y)
        params = self.net_.params()
        weights = self.weight_names()
        total, norms, batches = 0.0, np.zeros(len(weights)), 0
        for batch in np.array_split(rng.permutation(len(X)), max(1, -(-len(X) // self.batch_size))):
            logits = self.net_.forward(X[batch], training=True)
            loss, d_logits = softmax_cross_entropy(logits, encoded[batch])
            self.net_.backward(d_logits)
            grads = self.net_.grads()
            self.optimizer_.step(params, grads)
            norms += [np.linalg.norm(grads[name]) for name in weights]
            total += loss * len(batch)
            batches += 1
        self.grad_norms_.append((norms / batches).tolist())
        self.last_grads_ = {name: grads[name].ravel().copy() for name in weights}
        return total / len(X)

    def _finish(self) -> None:
        self.__dict__.pop("optimizer_", None)

    def predict_proba(self, X) -> np.ndarray:
        require_fitted(self, "net_")
        X = as_images(X, self.input_ndim)
        return np.concatenate([softmax(self.net_.forward(part)) for part in np.array_split(X, max(1, len(X) // 512))])

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def initialize(module, init: str):
    """He or Xavier (normal) weights and zero biases in every linear and convolution layer, as the
    NumPy networks start (models/phase2/layers.py), so the torch twin is the same network."""
    import torch.nn as nn

    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            if init == "he":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module


def torch_classifier_loss(module, inputs, targets):
    """Softmax cross-entropy of a torch classifier on a batch (the torch twins' ``_loss``)."""
    import torch.nn.functional as F

    return F.cross_entropy(module(inputs), targets)


class TorchClassifierMixin(ClassifierMixin):
    """What the torch twins of the NumPy networks share: class encoding, tensors, predictions.
    Their ``_module`` calls ``_classes(y)`` first."""

    input_ndim = 2

    def _tensors(self, X, y):
        import torch

        inputs = torch.from_numpy(as_images(X, self.input_ndim).astype(np.float32))
        if y is None:
            return inputs, None
        return inputs, torch.from_numpy(np.searchsorted(self.classes_, np.asarray(y).ravel()).astype(np.int64))

    _loss = staticmethod(torch_classifier_loss)

    def _validate(self, X, y):
        return as_images(X, self.input_ndim), np.asarray(y).ravel()

    def _classes(self, y) -> int:
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_.tolist()}); a classifier needs at least two")
        return len(self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        import torch

        return self._forward(X, lambda module, batch: torch.softmax(module(batch), dim=1))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
