"""Optimizers from scratch, step by step in NumPy: GD, momentum, Nesterov, RMSProp and Adam.

Each optimizer updates a dict of named arrays in place from a dict of gradients, with exactly
torch.optim's update rules (so the same start gives the same iterates, which the tests check):

    gd        p -= lr g
    momentum  v = mu v + g;  p -= lr v                                  (torch SGD, momentum=mu)
    nesterov  v = mu v + g;  p -= lr (g + mu v)                         (torch SGD, nesterov=True)
    rmsprop   s = a s + (1 - a) g^2;  p -= lr g / (sqrt(s) + eps)        (torch RMSprop)
    adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
              p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (torch Adam)

The deliverable trains the small network of models.phase1.optimizers.model with any of them; the test
functions (Rosenbrock, an ill-conditioned quadratic) are for the speed and stability plots.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
