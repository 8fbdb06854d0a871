"""DDPM benchmark: training speed against the reference, and DDIM's sampling speed-up over DDPM at a
comparable FID-like score.

    .venv/bin/python benchmarks/bench_ddpm.py [--quick] [--device cpu|cuda] [--threads N] [--full]

Training: ours (models/phase3/ddpm/model.py) and the reference (the same network, noised by diffusers'
DDPMScheduler.add_noise, reference.py) are fitted by the same loop on the same 8x8 digits, batch, device
and seed, in interleaved rounds (the order alternates); prints the median training samples/s of each and
the ratio. Target: ours >= 0.9x the reference.

Sampling: one model of ours at the default size (``--full``: the full size) is fitted once on gan's
training split (seed 42, 20% held out); then the held-out classes are drawn by DDPM (all T steps) and by
DDIM at several step counts, eta 0 (deterministic) and eta 1 (DDPM's posterior noise), each timed and
scored by the project's FID-like score (models/phase2/fid.py) against the held-out images. Prints seconds
per 1,000 images and FID for each, and the speed-up of the fewest-step DDIM whose FID is within 10% of
DDPM's (or the closest, said so).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT = dict(arch="mlp", width=256, depth=3, time_dim=64, num_train_timesteps=200, beta_schedule="squaredcos_cap_v2",
               learning_rate=0.002, batch_size=128, max_epochs=100)  # fmt: skip
FULL = dict(DEFAULT, arch="unet", channels=64, num_train_timesteps=1000, beta_schedule="linear", learning_rate=0.001,
            max_epochs=800)  # fmt: skip


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


def main() -> None:
    import torch

    from models.phase2.fid import class_accuracy, fid
    from models.phase3.ddpm.model import DDPM
    from models.phase3.ddpm.reference import DiffusersDDPM

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and rounds (a smoke run)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="the full size (a GPU)")
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

    # -- DDIM against DDPM ---------------------------------------------------------------------------------
    fit_params = dict(size, max_epochs=10) if args.quick else size
    started = time.perf_counter()
    model = DDPM(**fit_params).fit(X, y)
    print(f"\nsampling: one model fitted in {time.perf_counter() - started:.1f} s; {len(X_test)} held-out classes")
    T = model.num_train_timesteps
    results = []
    draws = [("ddpm", T, 0.0)] + [("ddim", n, eta) for eta in (0.0, 1.0) for n in (10, 20, 50, 100) if n < T]
    for sampler, steps, eta in draws:
        started = time.perf_counter()
        images = model.sample(X_test, sampler=sampler, steps=None if sampler == "ddpm" else steps, eta=eta)
        seconds = (time.perf_counter() - started) / len(X_test) * 1000
        score, accuracy = fid(y_test, images, X_test), class_accuracy(y_test, images, X_test)
        results.append((f"{sampler} eta {eta:g}", steps, seconds, score))
        print(f"  {sampler} {steps:>4} steps{'' if sampler == 'ddpm' else f', eta {eta:g}'}: {seconds:7.2f} s per "
              f"1,000 images   fid {score:.3f}   class accuracy {accuracy:.3f}")  # fmt: skip
    _, _, ddpm_seconds, ddpm_fid = results[0]
    within = [r for r in results[1:] if r[3] <= 1.1 * ddpm_fid]
    chosen = min(within, key=lambda r: r[1]) if within else min(results[1:], key=lambda r: r[3])
    said = "within 10% of DDPM's FID" if within else "none within 10% of DDPM's FID: the closest"
    print(f"DDIM {chosen[1]} steps, {chosen[0][5:]} ({said}: {chosen[3]:.3f} against {ddpm_fid:.3f}) is "
          f"{ddpm_seconds / chosen[2]:.1f}x faster than DDPM's {T} steps")  # fmt: skip


if __name__ == "__main__":
    main()
