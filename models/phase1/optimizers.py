"""Optimizers from scratch, step by step in NumPy: GD, momentum, Nesterov, RMSProp and Adam.

Each optimizer updates a dict of named arrays in place from a dict of gradients, with exactly
torch.optim's update rules (so the same start gives the same iterates, which the tests check):

    gd        p -= lr g
    momentum  v = mu v + g;  p -= lr v                                  (torch SGD, momentum=mu)
    nesterov  v = mu v + g;  p -= lr (g + mu v)                         (torch SGD, nesterov=True)
    rmsprop   s = a s + (1 - a) g^2;  p -= lr g / (sqrt(s) + eps)        (torch RMSprop)
    adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
              p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (torch Adam)

``MLPRegressor`` is the small network the deliverable trains with any of them; the test
functions (Rosenbrock, an ill-conditioned quadratic) are for the speed and stability plots.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import RegressorMixin

from models.base import EpochTrainable, Standardizer, require_fitted, validate_xy

OPTIMIZERS = ("gd", "momentum", "nesterov", "rmsprop", "adam")
DEFAULTS = {"momentum": 0.9, "alpha": 0.99, "betas": (0.9, 0.999), "eps": 1e-8}


class Optimizer:
    def __init__(self, kind: str, learning_rate: float, **settings):
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kind!r}")
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        self.kind, self.lr = kind, learning_rate
        self.settings = DEFAULTS | settings
        self.state: dict[str, list[np.ndarray]] = {}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        mu, eps = self.settings["momentum"], self.settings["eps"]
        for name, g in grads.items():
            p = params[name]
            if self.kind == "gd":
                p -= self.lr * g
            elif self.kind in ("momentum", "nesterov"):
                (v,) = self.state.setdefault(name, [np.zeros_like(p)])
                if self.t == 1:
                    v[...] = g  # torch starts the buffer at the first gradient
                else:
                    v *= mu
                    v += g
                p -= self.lr * (g + mu * v if self.kind == "nesterov" else v)
            elif self.kind == "rmsprop":
                (s,) = self.state.setdefault(name, [np.zeros_like(p)])
                a = self.settings["alpha"]
                s *= a
                s += (1 - a) * g * g
                p -= self.lr * g / (np.sqrt(s) + eps)
            else:
                m, v = self.state.setdefault(name, [np.zeros_like(p), np.zeros_like(p)])
                b1, b2 = self.settings["betas"]
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                m_hat, v_hat = m / (1 - b1**self.t), v / (1 - b2**self.t)
                p -= self.lr * m_hat / (np.sqrt(v_hat) + eps)


def minimize(kind: str, gradient: Callable, start, learning_rate: float, steps: int, **settings) -> np.ndarray:
    """The iterates of ``kind`` on a function given by its gradient: (steps + 1, dimension)."""
    point = {"x": np.array(start, dtype=float)}
    optimizer = Optimizer(kind, learning_rate, **settings)
    path = [point["x"].copy()]
    for _ in range(steps):
        optimizer.step(point, {"x": gradient(point["x"])})
        path.append(point["x"].copy())
    return np.array(path)


def rosenbrock(x: np.ndarray) -> float:
    return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)


def rosenbrock_gradient(x: np.ndarray) -> np.ndarray:
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])


ILL_CONDITIONED = np.diag([1.0, 100.0])  # condition number 100


def quadratic(x: np.ndarray) -> float:
    return float(0.5 * x @ ILL_CONDITIONED @ x)


def quadratic_gradient(x: np.ndarray) -> np.ndarray:
    return ILL_CONDITIONED @ x


def init_mlp(d: int, hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Xavier-initialized tanh layer and a linear output (float64)."""
    return {
        "W1": rng.normal(0.0, np.sqrt(2.0 / (d + hidden)), (d, hidden)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(0.0, np.sqrt(2.0 / (hidden + 1)), (hidden, 1)),
        "b2": np.zeros(1),
    }


def mlp_loss_and_gradients(params, Z, target) -> tuple[float, dict[str, np.ndarray]]:
    """Mean squared error of the network on (Z, target) and its gradients, by backpropagation."""
    hidden = np.tanh(Z @ params["W1"] + params["b1"])
    output = hidden @ params["W2"] + params["b2"]
    error = output - target
    d_output = 2.0 * error / len(Z)
    d_hidden = (d_output @ params["W2"].T) * (1.0 - hidden**2)
    grads = {"W2": hidden.T @ d_output, "b2": d_output.sum(0), "W1": Z.T @ d_hidden, "b1": d_hidden.sum(0)}
    return float(np.mean(error**2)), grads


class MLPRegressor(RegressorMixin, EpochTrainable):
    """One hidden tanh layer, trained on standardized inputs and target by mini-batches with one of
    ``OPTIMIZERS``. Fitted: ``params_``, ``loss_history_`` (training MSE in standardized units)."""

    def __init__(self, optimizer: str = "adam", learning_rate: float = 0.01, hidden: int = 32,
                 batch_size: int = 32, max_epochs: int = 200, tol: float = 0.0,
                 random_state: int | None = None):  # fmt: skip
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.random_state = random_state

    def _init_state(self, X, y) -> None:
        self._x_scale, self._y_mean, self._y_std = Standardizer(X), float(y.mean()), float(max(y.std(), 1e-12))
        self.params_ = init_mlp(X.shape[1], self.hidden, np.random.default_rng(self.random_state))
        self._optimizer = Optimizer(self.optimizer, self.learning_rate)
        self.n_features_in_ = X.shape[1]
        self.loss_history_ = []

    def _run_epoch(self, X, y, rng) -> float:
        Z, target = self._x_scale(X), ((y - self._y_mean) / self._y_std)[:, None]
        order = rng.permutation(len(Z))
        for start in range(0, len(Z), self.batch_size):
            rows = order[start : start + self.batch_size]
            _, grads = mlp_loss_and_gradients(self.params_, Z[rows], target[rows])
            self._optimizer.step(self.params_, grads)
        return mlp_loss_and_gradients(self.params_, Z, target)[0]

    def _converged(self) -> bool:
        return self.tol > 0 and super()._converged()

    def _finish(self) -> None:
        self.n_epochs_ = len(self.loss_history_)
        del self._optimizer

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "params_")
        X, _ = validate_xy(X)
        hidden = np.tanh(self._x_scale(X) @ self.params_["W1"] + self.params_["b1"])
        return (hidden @ self.params_["W2"] + self.params_["b2"])[:, 0] * self._y_std + self._y_mean
