"""A feedforward network from scratch in NumPy, and the same network in PyTorch.

Dense layers with ReLU, sigmoid or tanh, He or Xavier initialization, softmax cross-entropy,
mini-batch SGD (or any optimizer of models.optim). The deliverable ``mlp`` trains it
on Fashion-MNIST beside ``TorchMLPClassifier``, the same layers in torch trained by the project's
torch loop; ``backprop`` trains a deeper, narrower one on digits and plots its gradient flow.
"""

from __future__ import annotations

import numpy as np

from models.phase2.layers import Activation, Dense, Flatten
from models.phase2.network import NetworkClassifier, TorchClassifierMixin, initialize
from models.phase2.trainer import TorchEstimator


class MLPClassifier(NetworkClassifier):
    def __init__(self, hidden: tuple[int, ...] = (128,), activation: str = "relu", init: str = "he",
                 optimizer: str = "gd", learning_rate: float = 0.1, batch_size: int = 64, max_epochs: int = 10,
                 tol: float = 0.0, random_state: int | None = None):  # fmt: skip
        self.hidden = hidden
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.random_state = random_state

    def _layers(self, input_shape, n_classes, rng):
        layers, width = [Flatten()], int(np.prod(input_shape))
        for units in self.hidden:
            layers += [Dense(width, units, rng, self.init), Activation(self.activation)]
            width = units
        return [*layers, Dense(width, n_classes, rng, self.init)]


def torch_mlp(n_in: int, hidden: tuple[int, ...], n_out: int, activation: str):
    import torch.nn as nn

    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    layers, width = [nn.Flatten()], n_in
    for units in hidden:
        layers += [nn.Linear(width, units), act()]
        width = units
    return nn.Sequential(*layers, nn.Linear(width, n_out))


class TorchMLPClassifier(TorchClassifierMixin, TorchEstimator):
    """The same network in torch (the same initialization), trained with torch.optim.SGD."""

    def __init__(self, hidden: tuple[int, ...] = (128,), activation: str = "relu", init: str = "he",
                 learning_rate: float = 0.1,
                 batch_size: int = 64, max_epochs: int = 10, tol: float = 0.0, device: str = "auto",
                 precision: str = "auto", random_state: int | None = None):  # fmt: skip
        self.hidden = hidden
        self.activation = activation
        self.init = init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _module(self, X, y):
        n_classes = self._classes(y)
        net = torch_mlp(int(np.prod(np.shape(X)[1:])), tuple(self.hidden), n_classes, self.activation)
        return initialize(net, self.init)

    def _optimizer(self, parameters):
        import torch

        return torch.optim.SGD(parameters, lr=self.learning_rate)
