"""The DDPM noise schedule and the updates it defines, as pure functions of tensors (Ho et al. 2020; DDIM:
Song et al. 2021). Images live in [-1, 1]; t indexes 0 .. T-1 as in diffusers.

- forward process: q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), whose closed form is
  q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) with abar_t = prod_{s <= t} (1 - beta_s);
- posterior: q(x_{t-1} | x_t, x_0) = N(c0_t x_0 + ct_t x_t, sigma2_t I) with
  c0_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t), ct_t = sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t),
  sigma2_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t (abar_{-1} = 1);
- a DDPM step estimates x_0 from the predicted noise, (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), clips
  it to [-1, 1], and draws x_{t-1} from the posterior; a DDIM step jumps t -> t' < t deterministically
  at eta = 0: x_t' = sqrt(abar_t') x_0 + sqrt(1 - abar_t' - s^2) eps + s z, s = eta sigma(t, t').
  When x_0 is clipped, the eps of that step can be re-derived from the clipped x_0
  ((x_t - sqrt(abar_t) x_0) / sqrt(1 - abar_t), diffusers' ``use_clipped_model_output``), which makes a DDIM
  step at eta = 1 from t to t - 1 the DDPM step itself;
- DDIM's timesteps are spaced over 0 .. T-1 as diffusers' "leading" (0, r, 2r, .., r = T // n: the top one
  can fall well short of T - 1, where x_T ~ N(0, I) is not what the network saw), "trailing" (T - 1,
  T - 1 - T/n, ..., down to T/n - 1) or "linspace" (0 .. T-1 evenly, both ends included).

Every coefficient is a 0-d tensor of the schedule's dtype (float32 by default, like the samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

BetaSchedule = Literal["linear", "scaled_linear", "squaredcos_cap_v2"]
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
TimestepSpacing = Literal["leading", "trailing", "linspace"]
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")


def make_betas(schedule: BetaSchedule, steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_0 .. beta_{T-1} (float64): linear from beta_start to beta_end, linear in sqrt(beta) (scaled),
    or the cosine schedule of Nichol & Dhariwal (abar(s) = cos^2((s + 0.008) / 1.008 pi / 2), beta <= 0.999)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"the number of diffusion steps must be an integer >= 2, got {steps!r}")
    if schedule == "linear":
        return torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    if schedule == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=torch.float64) ** 2
    if schedule == "squaredcos_cap_v2":

        def alpha_bar(s: float) -> float:
            return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

        return torch.tensor(
            [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), 0.999) for i in range(steps)],
            dtype=torch.float64,
        )
    raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {schedule!r}")


@dataclass(frozen=True)
class NoiseSchedule:
    """betas (T,) in the schedule's dtype, with alphas = 1 - betas and their running product alphas_cumprod.

    float32 by default, as diffusers keeps it: near t = 0, 1 - abar_t is small and every formula that
    divides by it inherits float32's rounding (about 1e-4 relative at t = 1 next to a float64 schedule);
    the same float32 arithmetic gives the same coefficients as DDPMScheduler to 1e-7.
    """

    betas: torch.Tensor

    @classmethod
    def build(cls, schedule: BetaSchedule, steps: int, beta_start: float = 1e-4, beta_end: float = 0.02,
              dtype: torch.dtype = torch.float32):  # fmt: skip
        betas = make_betas(schedule, steps, beta_start, beta_end)
        if not (betas.min() > 0 and betas.max() < 1):
            raise ValueError(f"betas must lie in (0, 1); got [{float(betas.min())}, {float(betas.max())}]")
        return cls(betas.to(dtype))

    @property
    def steps(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, dim=0)

    def abar(self, t: int) -> torch.Tensor:
        """abar_t as a 0-d tensor, and 1 for t < 0 (before any noise)."""
        return self.alphas_cumprod[t] if t >= 0 else torch.ones((), dtype=self.betas.dtype)

    # -- the forward process ------------------------------------------------------------------
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """A draw of q(x_t | x_0): sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, one t per row of x0."""
        abar = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype)  # (batch,)
        shape = (-1,) + (1,) * (x0.dim() - 1)
        return abar.sqrt().view(shape) * x0 + (1 - abar).sqrt().view(shape) * noise

    def noise_step(self, x_prev: torch.Tensor, noise: torch.Tensor, t: int) -> torch.Tensor:
        """One step of the chain, q(x_t | x_{t-1}): sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) noise."""
        beta = self.betas[t].to(x_prev.dtype)
        return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise

    # -- the posterior q(x_{t'} | x_t, x_0), t' < t ----------------------------------------------
    def posterior(self, t: int, prev_t: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(c0, ct, variance) of q(x_{t'} | x_t, x_0) = N(c0 x_0 + ct x_t, variance), t' = t - 1 unless
        given, with beta = 1 - abar_t / abar_t' (beta_t itself for t' = t - 1)."""
        abar, abar_prev = self.abar(t), self.abar(t - 1 if prev_t is None else prev_t)
        alpha = abar / abar_prev
        beta = 1 - alpha
        c0 = abar_prev**0.5 * beta / (1 - abar)
        ct = alpha**0.5 * (1 - abar_prev) / (1 - abar)
        return c0, ct, (1 - abar_prev) / (1 - abar) * beta

    def posterior_mean_coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(c0, ct), each (T,): the posterior mean of x_{t-1} is c0_t x_0 + ct_t x_t."""
        c0, ct, _ = zip(*(self.posterior(t) for t in range(self.steps)), strict=True)
        return torch.stack(c0), torch.stack(ct)

    def posterior_variance(self) -> torch.Tensor:
        """sigma2_t (T,): (1 - abar_{t-1}) / (1 - abar_t) beta_t, 0 at t = 0."""
        return torch.stack([self.posterior(t)[2] for t in range(self.steps)])

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: int, clip: bool = True) -> torch.Tensor:
        """x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), clipped to the image range [-1, 1]."""
        abar = self.abar(t)
        x0 = (x_t - (1 - abar) ** 0.5 * eps) / abar**0.5
        return x0.clamp(-1.0, 1.0) if clip else x0

    # -- sampling steps -------------------------------------------------------------------------
    def ddpm_step(self, eps: torch.Tensor, t: int, x_t: torch.Tensor, noise: torch.Tensor | None, clip: bool = True):
        """x_{t-1} ~ q(x_{t-1} | x_t, x0_hat): the posterior mean plus sigma_t noise (none at t = 0)."""
        c0, ct, variance = self.posterior(t)
        mean = c0 * self.predict_x0(x_t, eps, t, clip) + ct * x_t
        if t == 0:
            return mean
        if noise is None:
            raise ValueError("a DDPM step at t > 0 needs noise")
        return mean + variance.clamp(min=1e-20) ** 0.5 * noise

    def ddim_timesteps(self, n: int, spacing: TimestepSpacing = "leading") -> list[int]:
        """n distinct timesteps from the top down, as diffusers' DDIMScheduler.set_timesteps spaces them:
        "leading" i * (T // n), "trailing" round(T - i T / n) - 1, "linspace" round(linspace(0, T - 1, n))."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.steps:
            raise ValueError(f"sampling steps must be an integer in [1, {self.steps}], got {n!r}")
        T = self.steps
        if spacing == "leading":
            return [i * (T // n) for i in reversed(range(n))]
        if spacing == "trailing":
            step = (T - T / n) - T  # numpy.arange's step, whose rounding decides the ties of round()
            return [round(T + i * step) - 1 for i in range(n)]
        if spacing == "linspace":
            return [round(i * ((T - 1) / max(n - 1, 1))) for i in reversed(range(n))]  # numpy's arithmetic
        raise ValueError(f"timestep_spacing must be one of {TIMESTEP_SPACINGS}, got {spacing!r}")

    def ddim_step(self, eps: torch.Tensor, t: int, prev_t: int, x_t: torch.Tensor, eta: float = 0.0,
                  noise: torch.Tensor | None = None, clip: bool = True,
                  clipped_eps: bool = False) -> torch.Tensor:  # fmt: skip
        """x_t -> x_{prev_t}: sqrt(abar') x0_hat + sqrt(1 - abar' - s^2) eps, plus s noise when eta > 0, where
        s = eta sqrt(posterior variance of t -> t'); eta = 1 is DDPM's posterior noise, eta = 0 deterministic.
        ``clipped_eps``: eps re-derived from the clipped x0_hat (eta = 1 and t' = t - 1 is then DDPM's step)."""
        if not prev_t < t:
            raise ValueError(f"a DDIM step goes down in time: prev_t {prev_t} is not below t {t}")
        abar, abar_prev = self.abar(t), self.abar(prev_t)
        x0 = self.predict_x0(x_t, eps, t, clip)
        if clip and clipped_eps:
            eps = (x_t - abar**0.5 * x0) / (1 - abar) ** 0.5
        sigma = eta * self.posterior(t, prev_t)[2] ** 0.5
        out = abar_prev**0.5 * x0 + (1 - abar_prev - sigma**2) ** 0.5 * eps
        if eta > 0:
            if noise is None:
                raise ValueError("a DDIM step with eta > 0 needs noise")
            out = out + sigma * noise
        return out
