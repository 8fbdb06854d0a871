"""The glue to this deliverable's reference implementation (what ours is compared with)."""

from __future__ import annotations

from sklearn.base import BaseEstimator  # get_params / set_params from __init__, so clone() works


class TorchMLPRegressor(BaseEstimator):
    """The same network as models.phase1.optimizers.model.MLPRegressor (same initial weights for the same
    seed, same batches), built from torch.nn and trained by torch.optim: the optimizers' reference."""

    def __init__(self, optimizer="adam", learning_rate=0.01, hidden=32, batch_size=32, max_epochs=200,
                 random_state=None):  # fmt: skip
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.random_state = random_state

    def _optimizer(self, parameters):
        import torch

        lr = self.learning_rate
        return {
            "gd": lambda: torch.optim.SGD(parameters, lr=lr),
            "momentum": lambda: torch.optim.SGD(parameters, lr=lr, momentum=0.9),
            "nesterov": lambda: torch.optim.SGD(parameters, lr=lr, momentum=0.9, nesterov=True),
            "rmsprop": lambda: torch.optim.RMSprop(parameters, lr=lr, alpha=0.99, eps=1e-8),
            "adam": lambda: torch.optim.Adam(parameters, lr=lr, eps=1e-8),
        }[self.optimizer]()

    def fit(self, X, y):
        import numpy as np
        import torch

        from models.base import Standardizer
        from models.phase1.optimizers.model import init_mlp

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self._scale, self._y_mean, self._y_std = Standardizer(X), float(y.mean()), float(max(y.std(), 1e-12))
        start = init_mlp(X.shape[1], self.hidden, np.random.default_rng(self.random_state))
        self.net_ = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], self.hidden), torch.nn.Tanh(), torch.nn.Linear(self.hidden, 1)
        ).double()
        with torch.no_grad():  # torch stores a layer's weight as (out, in)
            self.net_[0].weight.copy_(torch.from_numpy(start["W1"].T))
            self.net_[0].bias.copy_(torch.from_numpy(start["b1"]))
            self.net_[2].weight.copy_(torch.from_numpy(start["W2"].T))
            self.net_[2].bias.copy_(torch.from_numpy(start["b2"]))
        Z = torch.from_numpy(self._scale(X))
        target = torch.from_numpy((y - self._y_mean) / self._y_std)[:, None]
        optimizer = self._optimizer(self.net_.parameters())
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.max_epochs):
            order = torch.from_numpy(rng.permutation(len(Z)))
            for start_row in range(0, len(Z), self.batch_size):
                rows = order[start_row : start_row + self.batch_size]
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(self.net_(Z[rows]), target[rows])
                loss.backward()
                optimizer.step()
        return self

    def predict(self, X):
        import numpy as np
        import torch

        with torch.no_grad():
            output = self.net_(torch.from_numpy(self._scale(np.asarray(X, dtype=np.float64))))
        return output.numpy()[:, 0] * self._y_std + self._y_mean
