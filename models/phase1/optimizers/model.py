"""A small network from scratch: one hidden layer (tanh or ReLU, optional inverted dropout) and a
linear output, trained by mini-batches with any optimizer of models.optim.

It is the network of two deliverables: ``optimizers`` (tanh, no dropout, the same net as the torch
reference, step for step) and ``regularization`` (ReLU with dropout, in the dropout ablation).
Inverted dropout keeps each hidden unit with probability 1 - dropout and scales it by
1 / (1 - dropout) in training; prediction uses the full network.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from models.base import EpochTrainable, Standardizer, require_fitted, validate_xy
from models.optim import Optimizer

ACTIVATIONS = ("tanh", "relu")


def init_mlp(d: int, hidden: int, rng: np.random.Generator, activation: str = "tanh") -> dict[str, np.ndarray]:
    """Xavier initialization for a tanh layer, He for a ReLU layer; a linear output (float64)."""
    spread = np.sqrt(2.0 / d) if activation == "relu" else np.sqrt(2.0 / (d + hidden))
    return {
        "W1": rng.normal(0.0, spread, (d, hidden)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(0.0, np.sqrt(2.0 / (hidden + 1)), (hidden, 1)),
        "b2": np.zeros(1),
    }


def forward(params, Z, activation: str = "tanh", mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-activations, hidden units (masked when a dropout mask is given) and outputs."""
    pre = Z @ params["W1"] + params["b1"]
    hidden = np.tanh(pre) if activation == "tanh" else np.maximum(pre, 0.0)
    if mask is not None:
        hidden = hidden * mask
    return pre, hidden, hidden @ params["W2"] + params["b2"]


def mlp_loss_and_gradients(params, Z, target, activation: str = "tanh", mask=None) -> tuple[float, dict]:
    """Mean squared error of the network on (Z, target) and its gradients, by backpropagation."""
    pre, hidden, output = forward(params, Z, activation, mask)
    error = output - target
    d_output = 2.0 * error / len(Z)
    slope = 1.0 - np.tanh(pre) ** 2 if activation == "tanh" else (pre > 0).astype(float)
    d_hidden = (d_output @ params["W2"].T) * slope * (1.0 if mask is None else mask)
    grads = {"W2": hidden.T @ d_output, "b2": d_output.sum(0), "W1": Z.T @ d_hidden, "b1": d_hidden.sum(0)}
    return float(np.mean(error**2)), grads


class MLPRegressor(RegressorMixin, EpochTrainable):
    """Trained on standardized inputs and target. Fitted: ``params_``, ``loss_history_`` (training
    MSE in standardized units, the full network)."""

    def __init__(self, optimizer: str = "adam", learning_rate: float = 0.01, hidden: int = 32,
                 activation: str = "tanh", dropout: float = 0.0, batch_size: int = 32, max_epochs: int = 200,
                 tol: float = 0.0, random_state: int | None = None):  # fmt: skip
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.random_state = random_state

    def _init_state(self, X, y) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        self._x_scale, self._y_mean, self._y_std = Standardizer(X), float(y.mean()), float(max(y.std(), 1e-12))
        rng = np.random.default_rng(self.random_state)
        self.params_ = init_mlp(X.shape[1], self.hidden, rng, self.activation)
        self._optimizer = Optimizer(self.optimizer, self.learning_rate)
        self.n_features_in_ = X.shape[1]
        self.loss_history_ = []

    def _run_epoch(self, X, y, rng) -> float:
        Z, target = self._x_scale(X), ((y - self._y_mean) / self._y_std)[:, None]
        order = rng.permutation(len(Z))
        keep = 1.0 - self.dropout
        for start in range(0, len(Z), self.batch_size):
            rows = order[start : start + self.batch_size]
            mask = (rng.random((len(rows), self.hidden)) < keep) / keep if self.dropout else None
            _, grads = mlp_loss_and_gradients(self.params_, Z[rows], target[rows], self.activation, mask)
            self._optimizer.step(self.params_, grads)
        return mlp_loss_and_gradients(self.params_, Z, target, self.activation)[0]

    def _converged(self) -> bool:
        return self.tol > 0 and super()._converged()

    def _finish(self) -> None:
        self.n_epochs_ = len(self.loss_history_)
        del self._optimizer

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "params_")
        X, _ = validate_xy(X)
        output = forward(self.params_, self._x_scale(X), self.activation)[2]
        return output[:, 0] * self._y_std + self._y_mean
