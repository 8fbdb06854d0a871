"""DDPM: a denoising diffusion model of 8x8 digits (the forward noising process and its closed form, a small
class-conditional UNet / residual-MLP noise predictor with sinusoidal time embeddings, DDPM's ancestral
sampling and DDIM's fewer steps), against the same network trained and sampled with diffusers'
DDPMScheduler / DDIMScheduler."""
