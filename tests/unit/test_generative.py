"""The VAE's ELBO, the GAN's stabilizers and the FID-like score."""

import numpy as np
import pytest
import torch

from models.phase2.autoencoder.model import VAE
from models.phase2.fid import class_accuracy, fid
from models.phase2.gan.model import ConditionalGAN
from s2p import metrics


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16).reshape(-1, 8, 8), data.target


def test_elbo_is_the_gaussian_log_likelihood_minus_the_kl_to_the_prior():
    from models.phase2.torch_nets import VAEModule

    torch.manual_seed(0)
    module = VAEModule(features=6, hidden=8, latent=3)
    x = torch.rand(5, 6)
    torch.manual_seed(1)
    elbo = module.elbo(x)
    torch.manual_seed(1)  # the same draw of z, by torch.distributions
    mu, log_var = module.encode(x)
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * log_var))
    z = mu + posterior.stddev * torch.randn_like(mu)
    decoder = torch.distributions.Normal(module.decode(z), module.log_scale.exp())
    kl = torch.distributions.kl_divergence(posterior, torch.distributions.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(elbo, decoder.log_prob(x).sum(1) - kl)


def test_the_reparameterization_lets_the_gradient_reach_the_posterior_spread():
    from models.phase2.torch_nets import VAEModule

    module = VAEModule(features=6, hidden=8, latent=3)
    (-module.elbo(torch.rand(4, 6))).mean().backward()
    spread_rows = module.encoder[2].weight.grad[3:]  # the rows that output log sigma^2
    assert spread_rows.abs().sum() > 0


def test_vae_and_plain_autoencoder_beat_pca_and_the_vae_bound_is_its_likelihood(digits):
    from models.phase2.autoencoder.reference import ImagePCA

    X, _ = digits
    train, test = X[:1400], X[1400:]
    vae = VAE(max_epochs=60, random_state=0).fit(train, None)
    plain = VAE(variational=False, max_epochs=60, random_state=0).fit(train, None)
    pca = ImagePCA(n_components=4).fit(train)
    rmse = {name: metrics.compute(["reconstruction_rmse"], None, None, test, m)["reconstruction_rmse"]
            for name, m in (("vae", vae), ("plain", plain), ("pca", pca))}  # fmt: skip
    assert rmse["vae"] < rmse["pca"] and rmse["plain"] < rmse["pca"]
    assert vae.transform(test).shape == (len(test), 4)
    assert vae.score(test) == vae.score(test)  # one seeded draw: the same bound twice
    assert vae.score(test) > pca.score(test)  # a bound above the linear model's exact likelihood


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
