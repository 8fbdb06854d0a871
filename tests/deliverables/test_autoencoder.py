"""The ``autoencoder`` deliverable: the VAE's ELBO and reparameterization; VAE and autoencoder against PCA."""

import torch

from models.phase2.autoencoder.model import VAE
from s2p import metrics


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
