"""The plots of `ddpm` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, image_grid

SHOWN = (0, 3, 5, 8)


def denoising_steps(data: PlotData, frames: int = 9):
    """x_t along DDPM's ancestral sampling for a few digits (rows), from pure noise at t = T-1 (left) to
    the drawn image (right): ours, then the same seeds through the reference's diffusers schedulers."""
    rows, titles = [], []
    for name, model in data.models.items():
        timesteps, images = model.trajectory(np.array(SHOWN)[:, None], frames)  # (frames, digits, S, S)
        rows.append(images.transpose(1, 0, 2, 3).reshape(-1, *images.shape[2:]))
        for digit in SHOWN:
            titles += [
                f"{name} {digit}: t={t}" if i == 0 else (f"t={t}" if t >= 0 else "x0") for i, t in enumerate(timesteps)
            ]
    figure = image_grid(np.concatenate(rows), 2 * len(SHOWN), frames, titles, size=1.0)
    figure.suptitle("DDPM denoising: x_t from noise (left) to the image (right), ours then the reference", fontsize=9)
    return figure, [{"model": name, "digits": list(SHOWN), "frames": frames} for name in data.models]


def generated_samples(data: PlotData, per_class: int = 3):
    """Each digit (a row): ours by DDPM, ours by DDIM, then the reference by DDPM, three images each."""
    labels = np.repeat(np.arange(10), per_class)[:, None]
    ours, reference = data.models["ours"], data.models["reference"]
    grids = [
        ours.sample(labels, sampler="ddpm"),
        ours.sample(labels, sampler="ddim"),
        reference.sample(labels, sampler="ddpm"),
    ]
    images = np.concatenate([np.concatenate([g[labels[:, 0] == d] for g in grids]) for d in range(10)])
    figure = image_grid(images, 10, 3 * per_class, size=0.9)
    figure.suptitle(
        "Each digit: ours by DDPM | ours by DDIM | the reference (diffusers' schedulers) by DDPM", fontsize=9
    )
    return figure, None


PLOTS = {function.__name__: function for function in (denoising_steps, generated_samples)}
