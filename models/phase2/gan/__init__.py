"""Conditional GAN: generator against discriminator, label smoothing, gradient penalty, FID-like score."""
