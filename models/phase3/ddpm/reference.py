"""The reference: the same denoiser, data, loop and seed, with the noise schedule and the sampling steps of
diffusers (DDPMScheduler for training's noising and ancestral sampling, DDIMScheduler for DDIM); only the
schedulers are imported from diffusers, the network is ours (model.py). Given the same weights and seed it
draws the same images as ours (tests/deliverables/test_ddpm.py), except DDIM with "linspace" spacing, where
DDIMScheduler.step goes from t to t - T // n rather than to the next timestep it set."""

from __future__ import annotations

import torch

from models.phase3.ddpm.model import DDPM


class DiffusersDDPM(DDPM):
    """``DDPM`` whose schedule and steps are diffusers' schedulers, configured as ours."""

    def _scheduler(self, sampler: str):
        from diffusers import DDIMScheduler, DDPMScheduler

        config = dict(num_train_timesteps=self.num_train_timesteps, beta_schedule=self.beta_schedule,
                      beta_start=self.beta_start, beta_end=self.beta_end, clip_sample=self.clip_sample)  # fmt: skip
        if sampler == "ddpm":
            return DDPMScheduler(**config)
        return DDIMScheduler(**config, timestep_spacing=self.timestep_spacing)

    def _add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        scheduler = self.__dict__.get("_noising")
        if scheduler is None:
            scheduler = self._noising = self._scheduler("ddpm")
        return scheduler.add_noise(x0, noise, t)

    def _denoise(self, x, labels, sampler, steps, eta, guidance, generator, visit=None):
        scheduler = self._scheduler(sampler)
        scheduler.set_timesteps(steps)
        for t in scheduler.timesteps.tolist():
            if visit:
                visit(t, x)
            eps = self._eps(x, t, labels, guidance)
            if sampler == "ddpm":
                x = scheduler.step(eps, t, x, generator=generator).prev_sample
            else:
                x = scheduler.step(eps, t, x, eta=eta, use_clipped_model_output=self.clipped_eps,
                                   generator=generator if eta > 0 else None).prev_sample  # fmt: skip
        return x

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_noising", None)  # rebuilt on demand
        return state
