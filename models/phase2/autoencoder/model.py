"""An autoencoder and a variational autoencoder (VAE) written out in torch.

    encoder  x -> hidden -> (mu, log sigma^2) of q(z | x), ``latent`` dimensions
    sample   z = mu + sigma * eps, eps ~ N(0, I)               (the reparameterization trick)
    decoder  z -> hidden -> x_hat in [0, 1]; p(x | z) = N(x_hat, s^2 I), s learned (one number)
    ELBO     E_q[log p(x | z)] - KL(q(z | x) || N(0, I)),  KL = -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)

Training maximizes the ELBO (one sample of z per image). ``variational=False`` is the plain
autoencoder: z = mu, no KL term. The isotropic Gaussian decoder makes the ELBO a lower bound on
the same log-likelihood that probabilistic PCA (the reference, PCA.score) computes exactly, in the
same units: nats per image. As a decomposition, ``transform`` gives the posterior mean and
``inverse_transform`` the decoded image.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import TransformerMixin

from models.phase2.trainer import TorchEstimator


class VAE(TransformerMixin, TorchEstimator):
    def __init__(self, latent: int = 4, hidden: int = 128, variational: bool = True, learning_rate: float = 0.002,
                 batch_size: int = 64, max_epochs: int = 150, tol: float = 0.0, device: str = "auto",
                 precision: str = "auto", random_state: int | None = None):  # fmt: skip
        self.latent = latent
        self.hidden = hidden
        self.variational = variational
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _validate(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinite values")
        return X, y

    def _module(self, X, y):
        from models.phase2.torch_nets import VAEModule

        self.shape_ = tuple(np.shape(X)[1:])
        return VAEModule(math.prod(self.shape_), self.hidden, self.latent)

    def _tensors(self, X, y):
        import torch

        X = np.asarray(X, dtype=np.float32)
        flat = torch.from_numpy(X.reshape(len(X), -1))
        return flat, flat

    def _loss(self, module, inputs, targets):
        return -module.elbo(inputs, self.variational).mean()

    def transform(self, X) -> np.ndarray:
        """The posterior mean of z for each image."""
        return self._forward(X, lambda module, batch: module.encode(batch)[0])

    def inverse_transform(self, Z) -> np.ndarray:
        """The decoded image (its mean) for each latent vector, flat."""
        import torch

        with torch.no_grad():
            return self.module_.decode(torch.as_tensor(np.asarray(Z), dtype=torch.float32)).double().numpy()

    def score(self, X, y=None) -> float:
        """Mean ELBO per image (nats); for ``variational=False`` the log-likelihood of the
        reconstruction under the decoder's Gaussian."""
        import torch

        torch.manual_seed(0)  # the ELBO's expectation is estimated with one draw per image
        values = self._forward(X, lambda module, batch: module.elbo(batch, self.variational))
        return float(values.mean())
