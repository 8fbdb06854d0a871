"""CLIP benchmark: training speed of ours against the reference, on the same pairs, batch, device and seed.

    .venv/bin/python benchmarks/bench_clip.py [--quick] [--device cpu|cuda] [--threads N] [--batch-size B]

Ours (models/phase3/clip/model.py: GPT-mini's blocks, our patch embedding and our InfoNCE) and the reference
(reference.py: nn.Conv2d, nn.TransformerEncoder and open_clip's ClipLoss formula) are trained by the same loop
(CLIPModel: TorchEstimator's epochs, AdamW, the per-epoch schedule) on the same generated pairs. Each round
builds one model (the pair check and the first epoch are not timed: warm-up), then times ``epochs`` epochs;
rounds alternate the order of the two. Prints the median training samples per wall second and per CPU second
of each, and the ratio ours / reference (target >= 0.9).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def training_round(cls, params: dict, X, y, epochs: int) -> tuple[float, float]:
    """Training samples per wall second and per CPU second of this process over ``epochs`` timed epochs."""
    import numpy as np
    import torch

    model = cls(**params)
    model._init_state(X, y)
    rng = np.random.default_rng(0)
    model._epoch(X, y, rng)  # warm-up: data to the device, kernels chosen
    if model.device_ == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        model._epoch(X, y, rng)  # reads the epoch's loss: the device is synchronized
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return epochs * len(X) / wall, epochs * len(X) / cpu


def main() -> None:
    import numpy as np
    import torch

    from models.phase2.trainer import best_device
    from models.phase3.clip.data import generate
    from models.phase3.clip.model import CLIPModel
    from models.phase3.clip.reference import TorchCLIPModel

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer pairs, epochs and rounds")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--full", action="store_true", help="params.yaml's full network (for a GPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = best_device(args.device)

    pairs, epochs, rounds = (960, 1, 3) if args.quick else (4800, 2, 5)
    size = dict(width=64, n_layer=2, n_head=4, embed_dim=64, patch_size=8)  # make run's size
    if args.full:
        size = dict(width=256, n_layer=6, n_head=8, embed_dim=256, patch_size=4)
    frame = generate(pairs, seed=0)
    X = np.stack(frame["image"].to_numpy()).reshape(pairs, 32, 32, 3)
    y = frame["caption"].to_numpy()
    params = dict(**size, batch_size=args.batch_size, max_epochs=epochs + 1, learning_rate=5e-4, device=device,
                  random_state=0)  # fmt: skip
    print(f"device {device}, threads {args.threads}, network {size}, batch {args.batch_size}, {pairs} pairs, "
          f"{epochs} timed epoch(s) a round, {rounds} rounds")  # fmt: skip

    peers = {"ours": CLIPModel, "reference": TorchCLIPModel}
    speeds = {name: [] for name in peers}
    for round_ in range(rounds):
        for name in list(peers)[:: 1 if round_ % 2 == 0 else -1]:
            speeds[name].append(training_round(peers[name], params, X, y, epochs))
    clocks = (("wall", 0),) if device == "cuda" else (("wall", 0), ("CPU", 1))
    for clock, column in clocks:
        median = {name: statistics.median(v[column] for v in values) for name, values in speeds.items()}
        for name, values in speeds.items():
            rounds_text = ", ".join(f"{v[column]:.0f}" for v in values)
            print(f"training {name:9s} {median[name]:8.1f} samples per {clock} second  (rounds: {rounds_text})")
        print(f"training ratio ours/reference ({clock}): {median['ours'] / median['reference']:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
