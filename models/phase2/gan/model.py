"""A conditional GAN written out in torch: a generator and a discriminator, trained against each other.

Each batch: the discriminator D learns to tell real images of a class from the generator's G(z,
class) with binary cross-entropy, with two stabilizing tricks; then G learns to make D call its
images real (the non-saturating loss, -log D(G(z))).

- one-sided label smoothing: real images are labelled ``real_label`` (0.9), not 1, so D does not
  grow over-confident and G keeps a gradient;
- gradient penalty: ``gp_weight * (||grad_x D(x_hat)|| - 1)^2`` on random interpolates x_hat
  between real and generated images keeps D smooth (Lipschitz), as in WGAN-GP.

As a model of the catalog, it reads a class (the digit wanted) and answers with an image: ``predict``
draws one noise vector per row from ``random_state``, so the same request gets the same image.
``snapshots_`` keeps the images of a fixed noise per class every ``snapshot_every`` epochs, for the
sample grids over training. Training runs in float32 (the penalty's double backward is not
autocast-safe).
"""

from __future__ import annotations

import math

import numpy as np

from models.phase2.trainer import TorchEstimator


class ConditionalGAN(TorchEstimator):
    def __init__(self, noise: int = 16, hidden: int = 128, classes: int = 10, real_label: float = 0.9,
                 gp_weight: float = 1.0, learning_rate: float = 0.0005, batch_size: int = 64,
                 max_epochs: int = 150, snapshot_every: int = 25, tol: float = 0.0, device: str = "auto",
                 precision: str = "fp32", random_state: int | None = None):  # fmt: skip
        self.noise = noise
        self.hidden = hidden
        self.classes = classes
        self.real_label = real_label
        self.gp_weight = gp_weight
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.snapshot_every = snapshot_every
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _labels(self, X) -> np.ndarray:
        labels = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0]
        if not np.array_equal(labels, np.rint(labels)) or labels.min() < 0 or labels.max() >= self.classes:
            raise ValueError(f"the class wanted must be a whole number 0..{self.classes - 1}")
        return labels.astype(np.int64)

    def _validate(self, X, y):
        images = np.asarray(y, dtype=np.float64)
        if len(images) != len(X) or not np.isfinite(images).all():
            raise ValueError("y must hold one finite image per class label in X")
        return X, images

    def _module(self, X, y):
        import torch.nn as nn

        from models.phase2.torch_nets import ConditionalDiscriminator, ConditionalGenerator

        self.shape_ = tuple(np.shape(y)[1:])
        features = math.prod(self.shape_)
        self.snapshots_ = []
        return nn.ModuleDict({
            "generator": ConditionalGenerator(self.noise, self.classes, self.hidden, features),
            "discriminator": ConditionalDiscriminator(self.classes, self.hidden, features),
        })  # fmt: skip

    def _optimizer(self, parameters):
        import torch

        # one Adam per player (betas of the DCGAN paper); ``parameters`` is unused: they are in module_
        return {
            name: torch.optim.Adam(self.module_[name].parameters(), lr=self.learning_rate, betas=(0.5, 0.999))
            for name in ("generator", "discriminator")
        }

    def _tensors(self, X, y):
        import torch

        onehot = torch.nn.functional.one_hot(torch.from_numpy(self._labels(X)), self.classes).float()
        if y is None:
            return onehot, None
        images = np.asarray(y, dtype=np.float32)
        return onehot, torch.from_numpy(images.reshape(len(images), -1))

    def _run_epoch(self, X, y, rng) -> float:
        import torch
        import torch.nn.functional as F

        onehots, images = self._device_data(X, y)
        G, D = self.module_["generator"], self.module_["discriminator"]
        g_optimizer, d_optimizer = self.optimizer_["generator"], self.optimizer_["discriminator"]
        order = torch.from_numpy(rng.permutation(len(images))).to(self.device_)
        total = torch.zeros((), device=self.device_)
        for batch in order.split(self.batch_size):
            real, onehot = images[batch], onehots[batch]
            fake = G(torch.randn(len(batch), self.noise, device=self.device_), onehot)
            # the discriminator: real (smoothed label) against generated, plus the gradient penalty
            real_logits, fake_logits = D(real, onehot), D(fake.detach(), onehot)
            d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.real_label))
            d_loss = d_loss + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            if self.gp_weight:
                d_loss = d_loss + self.gp_weight * self._gradient_penalty(D, real, fake.detach(), onehot)
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimizer.step()
            # the generator: make the discriminator call its images real
            logits = D(fake, onehot)
            g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
            total += (d_loss.detach() + g_loss.detach()) * len(batch)
        if (len(self.loss_history_) + 1) % self.snapshot_every == 0:
            self.snapshots_.append((len(self.loss_history_) + 1, self._fixed_samples()))
        return float(total) / len(images)

    def _gradient_penalty(self, D, real, fake, onehot):
        import torch

        mix = torch.rand(len(real), 1, device=real.device)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(between, onehot).sum(), between, create_graph=True)
        return ((grad.norm(dim=1) - 1) ** 2).mean()

    def _fixed_samples(self) -> np.ndarray:
        """One image per class from a fixed noise: the same picture at every snapshot."""
        generator = np.random.default_rng(0)
        z = generator.standard_normal((self.classes, self.noise)).astype(np.float32)
        return self._generate(np.arange(self.classes), z)

    def _generate(self, labels: np.ndarray, z: np.ndarray) -> np.ndarray:
        import torch

        G = self.module_["generator"]
        device = next(G.parameters()).device
        onehot = torch.nn.functional.one_hot(torch.from_numpy(labels), self.classes).float().to(device)
        was_training = G.training
        G.eval()
        with torch.no_grad():
            images = G(torch.from_numpy(z).to(device), onehot).cpu().double().numpy()
        G.train(was_training)
        return images.reshape(len(labels), *self.shape_)

    def predict(self, X) -> np.ndarray:
        """An image of each wanted class, (n, *image shape)."""
        from models.base import require_fitted

        require_fitted(self, "module_")
        labels = self._labels(X)
        z = np.random.default_rng(self.random_state).standard_normal((len(labels), self.noise)).astype(np.float32)
        return self._generate(labels, z)
