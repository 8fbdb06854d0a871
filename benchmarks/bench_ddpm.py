"""DDPM benchmark: training speed against the reference, and DDIM's sampling speed-up over DDPM at an equal
FID-like score.

    .venv/bin/python benchmarks/bench_ddpm.py [--quick] [--device cpu|cuda] [--threads N] [--full] [--repeats R]

Training: ours (models/phase3/ddpm/model.py) and the reference (the same network, noised by diffusers'
DDPMScheduler.add_noise, reference.py) are fitted by the same loop on the same 8x8 digits, batch, device
and seed, in interleaved rounds (the order alternates); prints the median training samples/s of each and
the ratio. Target: ours >= 0.9x the reference.

Sampling: one model of ours at the default size (``--full``: the full size) is fitted once on gan's
training split (seed 42, 20% held out). Every sampler setting draws the held-out classes ``--repeats``
times over (4: 1,436 images) with each of two seeds; the FID-like score (models/phase2/fid.py) compares
each draw with the 359 real held-out images, and a setting's FID is the mean of its two draws, its time the
faster of the two (seconds per 1,000 images). The noise of the score is DDPM's own: the gap between its two
seeds' FIDs. A DDIM setting is at equal FID when its FID is at most DDPM's plus the tolerance
max(that gap, 5% of DDPM's FID). The sweep: the model's DDIM ("trailing" spacing, eps re-derived from
the clipped x0) at 3, 5, 10, 20, T/4 and T/2 steps and eta 0, 0.5 and 1; then, at 20 steps and eta 0, each
of those two choices undone ("leading" and "linspace" spacing, the unclipped eps of diffusers' default),
and DDIM in all T steps at eta 1, which is DDPM's ancestral step (the same images). Prints every setting
and the speed-up of the fastest DDIM at equal FID (the fewest steps; the lower FID between equals).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT = dict(arch="mlp", width=256, depth=3, time_dim=64, num_train_timesteps=200, beta_schedule="squaredcos_cap_v2",
               learning_rate=0.002, batch_size=128, max_epochs=100)  # fmt: skip
FULL = dict(DEFAULT, arch="unet", channels=64, num_train_timesteps=1000, beta_schedule="linear", learning_rate=0.001,
            max_epochs=800)  # fmt: skip
SEEDS = (1, 2)  # each sampler setting draws once with each: DDPM's two draws measure the FID's noise


def digit_split():
    """gan's data and split: the pipeline's ETL (seed 42, 20% held out) on s2p.sources:digit_images."""
    import numpy as np

    from pipeline.etl import build_dataset
    from s2p.sources import digit_images

    frame, _ = build_dataset(digit_images(), ["digit", "image"], 42, 0.2, None)

    def part(split: str):
        rows = frame[frame["split"] == split]
        return rows[["digit"]].to_numpy(float), np.stack([np.asarray(a).reshape(8, 8) for a in rows["image"]])

    return part("train"), part("test")


def training_round(cls, params: dict, X, y) -> float:
    """One fit: its training samples per wall second."""
    started = time.perf_counter()
    model = cls(**params).fit(X, y)
    return len(X) * len(model.loss_history_) / (time.perf_counter() - started)


class Setting(NamedTuple):
    """One sampler setting's figures: FID the mean over the seeds' draws, seconds the faster draw's."""

    name: str
    steps: int
    eta: float
    fid: float
    seconds: float
    scores: list[float]


def main() -> None:
    import numpy as np
    import torch

    from models.phase2.fid import fid
    from models.phase3.ddpm.model import DDPM
    from models.phase3.ddpm.reference import DiffusersDDPM

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and rounds (a smoke run)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="the full size (a GPU)")
    parser.add_argument("--repeats", type=int, default=4, help="draws of each held-out class per FID")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (X, y), (X_test, y_test) = digit_split()
    size = dict(FULL if args.full else DEFAULT, device=args.device, random_state=42)

    # -- training throughput, interleaved ------------------------------------------------------------
    rounds, epochs = (2, 3) if args.quick else (5, 10)
    speeds = {"ours": [], "reference": []}
    for round_ in range(rounds):
        pair = [("ours", DDPM), ("reference", DiffusersDDPM)]
        for name, cls in pair if round_ % 2 == 0 else pair[::-1]:
            speeds[name].append(training_round(cls, dict(size, max_epochs=epochs), X, y))
    ours, reference = (statistics.median(speeds[name]) for name in ("ours", "reference"))
    print(f"training ({args.device}, batch {size['batch_size']}, {rounds} interleaved rounds of {epochs} epochs):")
    print(f"  ours {ours:,.0f} samples/s   reference (diffusers schedulers) {reference:,.0f} samples/s   "
          f"ratio {ours / reference:.3f} (target >= 0.9)")  # fmt: skip

    # -- DDIM against DDPM -----------------------------------------------------------------------------
    fit_params = dict(size, max_epochs=10) if args.quick else size
    started = time.perf_counter()
    model = DDPM(**fit_params).fit(X, y)
    asked = np.tile(X_test, (args.repeats, 1))
    T = model.num_train_timesteps
    print(f"\nsampling: one model fitted in {time.perf_counter() - started:.1f} s; each draw is {len(asked):,} images "
          f"({args.repeats} x the {len(X_test)} held-out classes) scored against the {len(X_test)} real ones; "
          f"two seeds a setting")  # fmt: skip

    def draw(sampler: str, steps: int, eta: float = 0.0, spacing: str = "trailing", clipped_eps: bool = True):
        model.set_params(timestep_spacing=spacing, clipped_eps=clipped_eps)
        scores, seconds = [], []
        for seed in SEEDS:
            started = time.perf_counter()
            images = model.sample(asked, sampler=sampler, steps=steps, eta=eta, seed=seed)
            seconds.append((time.perf_counter() - started) / len(asked) * 1000)
            scores.append(fid(y_test, images, X_test))
        name = "ddpm" if sampler == "ddpm" else f"ddim {spacing}{'' if clipped_eps else ', unclipped eps'}"
        row = Setting(name, steps, eta, statistics.fmean(scores), min(seconds), scores)
        print(f"  {name:<28} {steps:>4} steps  eta {eta:<4g} {row.seconds:7.2f} s per 1,000 images   fid "
              f"{row.fid:.3f} ({', '.join(f'{s:.3f}' for s in scores)})")  # fmt: skip
        return row

    ddpm = draw("ddpm", T)
    noise = abs(ddpm.scores[0] - ddpm.scores[1])
    tolerance = max(noise, 0.05 * ddpm.fid)
    print(f"  DDPM's FID across seeds {SEEDS}: {ddpm.fid:.3f}, gap {noise:.3f}; equal FID: at most "
          f"{ddpm.fid + tolerance:.3f} (tolerance max(gap, 5%) = {tolerance:.3f})")  # fmt: skip
    counts = sorted({n for n in (3, 5, 10, 20, T // 4, T // 2) if n < T})
    sweep = [draw("ddim", n, eta) for eta in (0.0, 0.5, 1.0) for n in counts]
    print("  ablations at 20 steps, eta 0, and DDIM in all T steps at eta 1 (DDPM's step):")
    ablations = [draw("ddim", 20, spacing=spacing) for spacing in ("leading", "linspace")]
    ablations += [draw("ddim", 20, clipped_eps=False), draw("ddim", 20, spacing="leading", clipped_eps=False)]
    ablations.append(draw("ddim", T, eta=1.0))
    equal = [row for row in sweep + ablations if row.fid <= ddpm.fid + tolerance]
    if not equal:
        closest = min(sweep, key=lambda row: row.fid)
        print(f"no DDIM setting at equal FID: the closest, {closest.steps} steps at eta {closest.eta:g}, scores "
              f"{closest.fid:.3f} against DDPM's {ddpm.fid:.3f} ({closest.fid - ddpm.fid:+.3f}, tolerance "
              f"{tolerance:.3f}), {ddpm.seconds / closest.seconds:.1f}x faster")  # fmt: skip
        return
    chosen = min(equal, key=lambda row: (row.steps, row.fid))
    print(f"DDIM at equal FID: {chosen.name}, {chosen.steps} steps, eta {chosen.eta:g}: FID {chosen.fid:.3f} against "
          f"DDPM's {ddpm.fid:.3f} ({chosen.fid - ddpm.fid:+.3f}, tolerance {tolerance:.3f}); "
          f"{chosen.seconds:.2f} against {ddpm.seconds:.2f} s per 1,000 images: {ddpm.seconds / chosen.seconds:.1f}x "
          f"faster than DDPM's {T} steps")  # fmt: skip


if __name__ == "__main__":
    main()
