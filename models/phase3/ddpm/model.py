"""DDPM on 8x8 digits: a class-conditional noise predictor trained by the project's torch loop, sampled by
DDPM's ancestral loop or by DDIM in fewer steps (the schedule and its steps: schedule.py).

Training (Ho et al. 2020, "simple" loss): draw t uniformly in 0..T-1 and noise eps, make
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, and regress the network's eps_hat(x_t, t, class) on eps
(mean squared error). The class is replaced by a "no class" token with probability ``cond_drop``, so the
same network also predicts unconditionally and sampling can use classifier-free guidance
(eps_u + guidance (eps_c - eps_u); guidance 1 is the plain conditional prediction).

The network is a small UNet (8x8 -> 4x4 -> 8x8 with a skip at each scale; residual blocks with group norm
and SiLU, the time and class embeddings added to every block) or, the cheap default on a CPU, a residual
MLP on the 64 pixels with the same embeddings. Time enters as a sinusoidal embedding of t followed by an
MLP, as in the DDPM paper.

As a model of the catalog it reads a class and answers with an image (ink 0-1): ``predict`` starts from
noise drawn from ``random_state``, so the same request gets the same image; ``sampler`` chooses
DDPM (all T steps) or DDIM (``ddim_steps`` of them, spaced by ``timestep_spacing``). DDIM clips x0_hat as
DDPM does and, with ``clipped_eps``, steps along the noise that the clipped x0_hat implies, as DDPM's
posterior mean does: without it (diffusers' default) the clipped x0_hat and the unclipped noise disagree,
and DDIM's FID-like score at 20 steps is 1.42 against DDPM's 0.91 (0.83 with it; benchmarks/bench_ddpm.py,
1,436 images); "trailing" starts at t = T - 1, where x_T ~ N(0, I) is what the network was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.phase2.trainer import TorchEstimator
from models.phase3.ddpm.data import to_model_range, to_pixels
from models.phase3.ddpm.schedule import BETA_SCHEDULES, TIMESTEP_SPACINGS, NoiseSchedule

SAMPLERS = ("ddpm", "ddim")


@dataclass(frozen=True)
class DenoiserConfig:
    image_size: int = 8
    classes: int = 10  # plus one "no class" token, index ``classes``
    arch: str = "mlp"  # "mlp" | "unet"
    width: int = 256  # hidden units of the MLP, embedding size of both
    depth: int = 3  # residual blocks of the MLP
    channels: int = 32  # channels of the UNet at full resolution (twice that at half)
    time_dim: int = 64  # size of the sinusoidal embedding of t

    def __post_init__(self):
        for name in ("image_size", "classes", "width", "depth", "channels", "time_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.arch not in ("mlp", "unet"):
            raise ValueError(f"arch must be 'mlp' or 'unet', got {self.arch!r}")
        if self.time_dim % 2:
            raise ValueError(f"time_dim must be even, got {self.time_dim}")
        if self.arch == "unet" and (self.image_size % 2 or self.channels % 8):
            raise ValueError("the UNet needs an even image size and channels divisible by 8 (group norm)")


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps t (batch,) -> (batch, dim): [cos(t w_i), sin(t w_i)],
    w_i = max_period^(-i / (dim/2)) (the transformer's positions, as the DDPM paper embeds t)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None, :]  # (batch, half)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class Conditioning(nn.Module):
    """The time and class embedding every block reads: MLP(sinusoid(t)) + Embedding(class)."""

    def __init__(self, config: DenoiserConfig):
        super().__init__()
        self.time_dim = config.time_dim
        self.time = nn.Sequential(
            nn.Linear(config.time_dim, config.width), nn.SiLU(), nn.Linear(config.width, config.width)
        )
        self.label = nn.Embedding(config.classes + 1, config.width)

    def forward(self, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.time(timestep_embedding(t, self.time_dim)) + self.label(labels)  # (batch, width)


class MLPBlock(nn.Module):
    """h + W2 SiLU(W1 LayerNorm(h) + E emb): a pre-norm residual block with the conditioning added."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1, self.emb, self.fc2 = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(F.silu(self.fc1(self.norm(h)) + self.emb(emb)))


class ResBlock(nn.Module):
    """A UNet block: GroupNorm-SiLU-conv, plus the conditioning per channel, GroupNorm-SiLU-conv, and a
    residual (a 1x1 convolution where the channel count changes)."""

    def __init__(self, c_in: int, c_out: int, width: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(width, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (batch, c_out, H, W)
        h = h + self.emb(emb)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class Denoiser(nn.Module):
    """eps_hat(x_t, t, class): (batch, 1, S, S), (batch,), (batch,) -> (batch, 1, S, S), and the mean
    squared error against the true noise when it is given."""

    def __init__(self, config: DenoiserConfig):
        super().__init__()
        self.config = config
        self.cond = Conditioning(config)
        c, w, pixels = config.channels, config.width, config.image_size**2
        if config.arch == "mlp":
            self.inp = nn.Linear(pixels, w)
            self.blocks = nn.ModuleList(MLPBlock(w) for _ in range(config.depth))
            self.out = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, pixels))
        else:
            self.inp = nn.Conv2d(1, c, 3, padding=1)
            self.down1, self.down = ResBlock(c, c, w), nn.Conv2d(c, c, 3, stride=2, padding=1)
            self.down2, self.mid = ResBlock(c, 2 * c, w), ResBlock(2 * c, 2 * c, w)
            self.up2, self.up1 = ResBlock(4 * c, 2 * c, w), ResBlock(3 * c, c, w)
            self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)  # starts by predicting zero noise
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor | None = None):
        emb = self.cond(t, labels)  # (batch, width)
        if self.config.arch == "mlp":
            h = self.inp(x.flatten(1))  # (batch, width)
            for block in self.blocks:
                h = block(h, emb)
            eps = self.out(h).view_as(x)  # (batch, 1, S, S)
        else:
            h1 = self.down1(self.inp(x), emb)  # (batch, c, S, S)
            h2 = self.down2(self.down(h1), emb)  # (batch, 2c, S/2, S/2)
            h = self.up2(torch.cat([self.mid(h2, emb), h2], dim=1), emb)  # (batch, 2c, S/2, S/2)
            h = F.interpolate(h, scale_factor=2, mode="nearest")  # (batch, 2c, S, S)
            eps = self.out(self.up1(torch.cat([h, h1], dim=1), emb))  # (batch, 1, S, S)
        loss = None if noise is None else F.mse_loss(eps, noise)
        return eps, loss


class DDPM(TorchEstimator):
    """A class-conditional DDPM: ``fit(classes (n, 1), images (n, S, S) in [0, 1])``, ``predict(classes)``
    -> images. Fitted: ``module_`` (the Denoiser), ``schedule_``, ``shape_``, ``loss_history_``."""

    def __init__(self, arch: str = "mlp", width: int = 256, depth: int = 3, channels: int = 32, time_dim: int = 64,
                 num_train_timesteps: int = 200, beta_schedule: str = "squaredcos_cap_v2", beta_start: float = 1e-4,
                 beta_end: float = 0.02, clip_sample: bool = True, classes: int = 10, cond_drop: float = 0.1,
                 guidance: float = 1.0, sampler: str = "ddpm", ddim_steps: int = 20, eta: float = 0.0,
                 timestep_spacing: str = "trailing", clipped_eps: bool = True,
                 learning_rate: float = 0.001, lr_decay: bool = True, batch_size: int = 128, max_epochs: int = 100,
                 tol: float = 0.0, device: str = "auto", precision: str = "fp32",
                 random_state: int | None = None):  # fmt: skip
        self.arch = arch
        self.width = width
        self.depth = depth
        self.channels = channels
        self.time_dim = time_dim
        self.num_train_timesteps = num_train_timesteps
        self.beta_schedule = beta_schedule
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.clip_sample = clip_sample
        self.classes = classes
        self.cond_drop = cond_drop
        self.guidance = guidance
        self.sampler = sampler
        self.ddim_steps = ddim_steps
        self.eta = eta
        self.timestep_spacing = timestep_spacing
        self.clipped_eps = clipped_eps
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    # -- checks ---------------------------------------------------------------------------------
    def _labels(self, X) -> np.ndarray:
        labels = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0]
        if not np.isfinite(labels).all() or not np.array_equal(labels, np.rint(labels)):
            raise ValueError(f"the class wanted must be a whole number 0..{self.classes - 1}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.classes):
            raise ValueError(f"the class wanted must be a whole number 0..{self.classes - 1}, got {labels.max():g}")
        return labels.astype(np.int64)

    def _check_sampling(self, sampler: str, steps: int, guidance: float, eta: float) -> int:
        """The number of denoising steps a draw takes (DDPM: all T; DDIM: ``steps``); a ValueError names
        what is out of bounds."""
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        if not (isinstance(guidance, int | float) and 0.0 <= guidance <= 10.0):
            raise ValueError(f"guidance must lie in [0, 10], got {guidance!r}")
        if not (isinstance(eta, int | float) and 0.0 <= eta <= 1.0):
            raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
        total = self.num_train_timesteps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= total:
            raise ValueError(f"ddim_steps must be an integer in [1, {total}] (num_train_timesteps), got {steps!r}")
        return total if sampler == "ddpm" else steps

    def _validate(self, X, y):
        images = np.asarray(y, dtype=np.float64)
        if images.ndim != 3 or images.shape[1] != images.shape[2]:
            raise ValueError(f"y must hold square images (n, S, S), got shape {images.shape}")
        if len(images) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(images)} images")
        if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise ValueError("images must be finite with ink in [0, 1]")
        if not 0.0 <= self.cond_drop < 1.0:
            raise ValueError(f"cond_drop must lie in [0, 1), got {self.cond_drop}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {self.beta_schedule!r}")
        if self.timestep_spacing not in TIMESTEP_SPACINGS:
            raise ValueError(f"timestep_spacing must be one of {TIMESTEP_SPACINGS}, got {self.timestep_spacing!r}")
        self._check_sampling(self.sampler, self.ddim_steps, self.guidance, self.eta)
        self._labels(X)
        return X, images

    # -- the loop's hooks -----------------------------------------------------------------------
    def _config(self, image_size: int) -> DenoiserConfig:
        return DenoiserConfig(image_size, self.classes, self.arch, self.width, self.depth, self.channels, self.time_dim)

    def _module(self, X, y):
        self.shape_ = tuple(np.shape(y)[1:])
        self.schedule_ = NoiseSchedule.build(
            self.beta_schedule, self.num_train_timesteps, self.beta_start, self.beta_end
        )
        return Denoiser(self._config(self.shape_[0]))

    def _tensors(self, X, y):
        labels = torch.from_numpy(self._labels(X))
        if y is None:
            return labels, None
        images = to_model_range(np.asarray(y, dtype=np.float32))[:, None]  # (n, 1, S, S) in [-1, 1]
        return labels, torch.from_numpy(images)

    def _run_epoch(self, X, y, rng) -> float:
        """One pass of the project's loop at this epoch's learning rate: cosine from ``learning_rate`` to 0
        over ``max_epochs`` when ``lr_decay`` (the last epochs average out the noise of the simple loss)."""
        if self.lr_decay:
            progress = len(self.loss_history_) / self.max_epochs
            for group in self.optimizer_.param_groups:
                group["lr"] = self.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))
        return super()._run_epoch(X, y, rng)

    def _add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.schedule_.add_noise(x0, noise, t)

    def _loss(self, module, labels, x0):
        t = torch.randint(0, self.num_train_timesteps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        dropped = torch.rand(len(labels), device=labels.device) < self.cond_drop
        labels = torch.where(dropped, torch.full_like(labels, self.classes), labels)
        _, loss = module(self._add_noise(x0, noise, t), t, labels, noise)
        return loss

    # -- sampling -------------------------------------------------------------------------------
    def _eps(self, x: torch.Tensor, t: int, labels: torch.Tensor, guidance: float) -> torch.Tensor:
        """The noise predicted at step t, with classifier-free guidance unless guidance is 1."""
        steps = torch.full((len(x),), t, dtype=torch.long, device=x.device)
        if guidance == 1.0:
            return self.module_(x, steps, labels)[0]
        both, _ = self.module_(
            torch.cat([x, x]), torch.cat([steps, steps]), torch.cat([labels, torch.full_like(labels, self.classes)])
        )
        conditional, unconditional = both.chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    def _denoise(self, x: torch.Tensor, labels: torch.Tensor, sampler: str, steps: int, eta: float, guidance: float,
                 generator: torch.Generator, visit: Callable[[int, torch.Tensor], None] | None = None):  # fmt: skip
        """x_T -> x_0 by DDPM's ancestral steps or DDIM's; ``visit(t, x_t)`` sees each x_t on the way."""
        schedule, clip = self.schedule_, self.clip_sample
        if sampler == "ddpm":
            for t in reversed(range(schedule.steps)):
                if visit:
                    visit(t, x)
                eps = self._eps(x, t, labels, guidance)
                noise = torch.randn(x.shape, generator=generator, dtype=x.dtype) if t > 0 else None
                x = schedule.ddpm_step(eps, t, x, noise, clip)
            return x
        timesteps = schedule.ddim_timesteps(steps, self.timestep_spacing)
        for t, prev_t in zip(timesteps, [*timesteps[1:], -1], strict=True):
            if visit:
                visit(t, x)
            eps = self._eps(x, t, labels, guidance)
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype) if eta > 0 else None
            x = schedule.ddim_step(eps, t, prev_t, x, eta, noise, clip, self.clipped_eps)
        return x

    @torch.inference_mode()
    def sample(self, X, sampler: str | None = None, steps: int | None = None, eta: float | None = None,
               guidance: float | None = None, seed: int | None = None, visit=None) -> np.ndarray:  # fmt: skip
        """An image (ink 0-1) of each class of X, (n, S, S), drawn from seeded noise: DDPM in all T steps or
        DDIM in ``steps``; the sampler, DDIM's steps, eta and guidance default to the estimator's."""
        from models.base import require_fitted

        require_fitted(self, "module_")
        sampler = self.sampler if sampler is None else sampler
        steps = self.ddim_steps if steps is None else steps
        eta = self.eta if eta is None else eta
        guidance = self.guidance if guidance is None else guidance
        steps = self._check_sampling(sampler, steps, guidance, eta)
        labels = torch.from_numpy(self._labels(X))
        generator = torch.Generator().manual_seed((self.random_state or 0) if seed is None else seed)
        x = torch.randn((len(labels), 1, *self.shape_), generator=generator)  # x_T ~ N(0, I)
        self.module_.eval()
        x = self._denoise(x, labels, sampler, steps, eta, guidance, generator, visit)
        return to_pixels(x[:, 0].double().numpy())

    def check_sampling(self, sampler: str | None = None, steps: int | None = None) -> int:
        """The denoising steps a draw with ``sampler`` and ``steps`` (None: the estimator's) takes; a
        ValueError names what is out of bounds (more steps than the model was trained with)."""
        sampler = self.sampler if sampler is None else sampler
        return self._check_sampling(sampler, self.ddim_steps if steps is None else steps, self.guidance, self.eta)

    def predict(self, X) -> np.ndarray:
        """An image of each wanted class, (n, S, S), by the estimator's sampler and steps."""
        return self.sample(X)

    def trajectory(self, X, frames: int = 8, sampler: str | None = None, steps: int | None = None):
        """x_t (as pixels) at ``frames`` timesteps evenly along the sampling path, ending with x_0:
        (timesteps, images (frames, n, S, S))."""
        seen: list[tuple[int, np.ndarray]] = []
        final = self.sample(X, sampler, steps, visit=lambda t, x: seen.append((t, to_pixels(x[:, 0].double().numpy()))))
        keep = np.linspace(0, len(seen) - 1, frames - 1).round().astype(int)
        timesteps = [seen[i][0] for i in keep] + [-1]
        return timesteps, np.stack([seen[i][1] for i in keep] + [final])
