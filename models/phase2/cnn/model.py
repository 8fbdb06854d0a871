"""A LeNet-like convolutional network from scratch in NumPy, and the same network in PyTorch.

    conv 5x5 (padding 2) -> ReLU -> pool 2 -> conv 5x5 -> ReLU -> pool 2 -> dense -> ReLU -> dense

Convolution and pooling are models/phase2/layers.py (im2col; forward and backward equal
torch.nn.functional's to 1e-6, tests/deliverables/test_cnn.py). ``TorchCNNClassifier`` is the same
architecture in torch, trained by the project's torch loop: on cuda in mixed precision.
"""

from __future__ import annotations

from models.phase2.layers import Activation, Conv2d, Dense, Flatten, Pool2d
from models.phase2.network import NetworkClassifier, TorchClassifierMixin
from models.phase2.trainer import TorchEstimator


def _side(size: int, kernel: int, padding: int, pool: int) -> int:
    """Height (or width) after a convolution and a pooling."""
    return (size + 2 * padding - kernel + 1) // pool


class CNNClassifier(NetworkClassifier):
    input_ndim = 4

    def __init__(self, channels: tuple[int, int] = (6, 16), kernel: int = 5, pooling: str = "max",
                 hidden: int = 64, optimizer: str = "adam", learning_rate: float = 0.002, batch_size: int = 64,
                 max_epochs: int = 3, tol: float = 0.0, random_state: int | None = None):  # fmt: skip
        self.channels = channels
        self.kernel = kernel
        self.pooling = pooling
        self.hidden = hidden
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.random_state = random_state

    def _layers(self, input_shape, n_classes, rng):
        c_in, height, width = input_shape
        first, second = self.channels
        k = self.kernel
        side_h = _side(_side(height, k, k // 2, 2), k, 0, 2)
        side_w = _side(_side(width, k, k // 2, 2), k, 0, 2)
        return [
            Conv2d(c_in, first, k, rng, padding=k // 2), Activation("relu"), Pool2d(2, kind=self.pooling),
            Conv2d(first, second, k, rng), Activation("relu"), Pool2d(2, kind=self.pooling),
            Flatten(), Dense(second * side_h * side_w, self.hidden, rng), Activation("relu"),
            Dense(self.hidden, n_classes, rng),
        ]  # fmt: skip


def torch_lenet(input_shape: tuple[int, int, int], channels, kernel: int, pooling: str, hidden: int, n_out: int):
    import torch.nn as nn

    c_in, height, width = input_shape
    first, second = channels
    pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
    side_h = _side(_side(height, kernel, kernel // 2, 2), kernel, 0, 2)
    side_w = _side(_side(width, kernel, kernel // 2, 2), kernel, 0, 2)
    return nn.Sequential(
        nn.Conv2d(c_in, first, kernel, padding=kernel // 2), nn.ReLU(), pool(2),
        nn.Conv2d(first, second, kernel), nn.ReLU(), pool(2),
        nn.Flatten(), nn.Linear(second * side_h * side_w, hidden), nn.ReLU(), nn.Linear(hidden, n_out),
    )  # fmt: skip


class TorchCNNClassifier(TorchClassifierMixin, TorchEstimator):
    input_ndim = 4

    def __init__(self, channels: tuple[int, int] = (6, 16), kernel: int = 5, pooling: str = "max",
                 hidden: int = 64, learning_rate: float = 0.002, batch_size: int = 64, max_epochs: int = 3,
                 tol: float = 0.0, device: str = "auto", precision: str = "auto",
                 random_state: int | None = None):  # fmt: skip
        self.channels = channels
        self.kernel = kernel
        self.pooling = pooling
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _module(self, X, y):
        from models.phase2.network import as_images, initialize

        n_classes = self._classes(y)
        shape = as_images(X[:1], 4).shape[1:]
        net = torch_lenet(shape, tuple(self.channels), self.kernel, self.pooling, self.hidden, n_classes)
        return initialize(net, "he")  # as the NumPy layers start
