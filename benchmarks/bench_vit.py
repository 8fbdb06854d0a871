"""ViT benchmark: training speed of ours against the nn.TransformerEncoder reference.

    .venv/bin/python benchmarks/bench_vit.py [--quick] [--full] [--device cpu|cuda] [--threads N]

Ours (models/phase3/vit/model.py: GPT-mini's blocks written out in torch ops) and the reference (the same
network from nn.Conv2d and nn.TransformerEncoder, reference.py) are fitted by the same loop (the project's
TorchEstimator) on the same Fashion-MNIST images, batch, device and seed, in interleaved rounds (the order
alternates). Prints the median training samples/s of each, per wall second and per CPU second of this
process (steadier on a shared machine; on cuda only the wall figure means anything), and the ratio.
Target: ours >= 0.9x the reference. ``--full`` times params.yaml's ``full`` network (patch 4, 6 blocks of
192), meant for a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT = dict(patch_size=7, n_layer=4, n_head=4, n_embd=64, batch_size=32)  # params.yaml's default size
QUICK = dict(patch_size=7, n_layer=2, n_head=2, n_embd=32, batch_size=64)
FULL = dict(patch_size=4, n_layer=6, n_head=3, n_embd=192, batch_size=256)


def training_round(cls, params: dict, X, y) -> tuple[float, float]:
    """One fit: training samples per wall second and per CPU second of this process."""
    cpu_started, started = time.process_time(), time.perf_counter()
    cls(**params).fit(X, y)
    samples = len(X) * params["max_epochs"]
    return samples / (time.perf_counter() - started), samples / (time.process_time() - cpu_started)


def main() -> None:
    import numpy as np
    import torch

    from models.phase2.trainer import best_device
    from models.phase3.vit.model import VisionTransformerClassifier
    from models.phase3.vit.reference import TorchVisionTransformerClassifier
    from s2p.sources import fashion_mnist

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller network, fewer images and rounds")
    parser.add_argument("--full", action="store_true", help="the full size's network (for a GPU)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--images", type=int, default=None, help="training images per fit")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = best_device(args.device)

    network = FULL if args.full else QUICK if args.quick else DEFAULT
    images = args.images or (20_000 if args.full else 1_000 if args.quick else 2_000)
    rounds = args.rounds or (3 if args.quick else 5)
    frame = fashion_mnist().sample(images, random_state=0)
    X = np.stack(frame["image"].to_numpy()).reshape(-1, 28, 28)
    y = frame["label"].to_numpy()
    params = dict(**network, max_epochs=1, device=device, random_state=0)
    print(f"device {device}, threads {args.threads}, network {network}, {images} images per fit, {rounds} rounds")

    peers = {"ours": VisionTransformerClassifier, "reference": TorchVisionTransformerClassifier}
    for cls in peers.values():  # warm-up, not counted
        training_round(cls, params, X[: 4 * network["batch_size"]], y[: 4 * network["batch_size"]])
    speeds = {name: [] for name in peers}
    for round_ in range(rounds):
        for name in list(peers)[:: 1 if round_ % 2 == 0 else -1]:
            speeds[name].append(training_round(peers[name], params, X, y))
    for clock, column in (("wall", 0), ("CPU", 1)):
        median = {name: statistics.median(v[column] for v in values) for name, values in speeds.items()}
        for name, values in speeds.items():
            rounds_text = ", ".join(f"{v[column]:.0f}" for v in values)
            print(f"training {name:9s} {median[name]:8.1f} samples per {clock} second  (rounds: {rounds_text})")
        print(f"training ratio ours/reference ({clock}): {median['ours'] / median['reference']:.3f}  (target >= 0.9)")
    if device == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
