"""Autoencoder and VAE: reparameterization, ELBO, latent traversals."""
