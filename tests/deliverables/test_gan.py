"""The ``gan`` deliverable: the conditional GAN's gradient penalty and draws, and the FID-like score."""

import numpy as np
import pytest
import torch

from models.phase2.fid import class_accuracy, fid
from models.phase2.gan.model import ConditionalGAN


def test_the_gradient_penalty_vanishes_for_a_unit_slope_critic():
    gan = ConditionalGAN()
    weight = torch.randn(64)
    weight /= weight.norm()

    def critic(x, onehot):  # d critic / dx = weight, norm 1
        return x @ weight

    real, fake = torch.rand(8, 64), torch.rand(8, 64)
    assert gan._gradient_penalty(critic, real, fake, None).item() == pytest.approx(0.0, abs=1e-10)
    assert gan._gradient_penalty(lambda x, o: 3 * x @ weight, real, fake, None).item() == pytest.approx(4.0)


def test_the_gan_draws_the_digit_asked_for_the_same_way_each_time(digits):
    images, labels = digits
    gan = ConditionalGAN(max_epochs=10, snapshot_every=5, random_state=0).fit(labels[:, None], images)
    asked = np.array([[3.0], [7.0]])
    first, second = gan.predict(asked), gan.predict(asked)
    assert first.shape == (2, 8, 8) and np.array_equal(first, second) and 0 <= first.min() <= first.max() <= 1
    assert [epoch for epoch, _ in gan.snapshots_] == [5, 10]
    with pytest.raises(ValueError, match=r"whole number 0\.\.9"):
        gan.predict(np.array([[12.0]]))


def test_fid_is_zero_for_the_real_images_and_grows_as_samples_degrade(digits):
    images, labels = digits
    real, asked = images[:400], labels[:400, None].astype(float)
    rng = np.random.default_rng(0)
    noisy = np.clip(real + rng.normal(0, 0.1, real.shape), 0, 1)
    noisier = np.clip(real + rng.normal(0, 0.3, real.shape), 0, 1)
    scores = [fid(real, fake, asked) for fake in (real, noisy, noisier)]
    assert scores[0] == pytest.approx(0.0, abs=1e-6) and scores[0] < scores[1] < scores[2]
    assert class_accuracy(real, real, asked) > 0.95
