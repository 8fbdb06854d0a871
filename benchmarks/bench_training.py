"""Training-loop benchmark: the project's torch loop against a plain PyTorch loop, same run.

    .venv/bin/python benchmarks/bench_training.py [--quick] [--device cpu|cuda|mps]

Both loops train the same network from the same initial weights on the same data (Fashion-MNIST
images), batch for batch: the plain loop is the textbook one (randperm, index, forward, loss,
zero_grad, backward, step, loss.item() per batch). Ours is models.phase2.trainer.TorchEstimator
as the pipeline runs it (device placement, autocast and gradient scaler, the loss summed on the
device). Prints samples/s of each and the ratio; target: ours at least 0.95x plain. On cuda both
also run in mixed precision (autocast), so the figure covers what the pipeline uses there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.phase2.cnn.model import TorchCNNClassifier
from models.phase2.mlp.model import TorchMLPClassifier
from s2p.sources import fashion_mnist


def plain_loop(estimator, X, y, epochs: int, device: str, amp_dtype) -> float:
    """The textbook loop on the same network and initial weights; returns seconds."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(estimator.random_state)
    module = estimator._module(X, y).to(device)
    optimizer = estimator._optimizer(module.parameters())
    inputs, targets = (t.to(device) for t in estimator._tensors(X, y))
    _sync(device)
    started = time.perf_counter()
    for _ in range(epochs):
        module.train()
        for batch in torch.randperm(len(inputs), device=device).split(estimator.batch_size):
            with torch.autocast(device, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = F.cross_entropy(module(inputs[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
    _sync(device)
    return time.perf_counter() - started


def our_loop(estimator, X, y, epochs: int, device: str) -> float:
    rng = np.random.default_rng(estimator.random_state)
    estimator._init_state(X, y)
    estimator._device_data(X, y)
    _sync(device)
    started = time.perf_counter()
    for _ in range(epochs):
        estimator._epoch(X, y, rng)
    _sync(device)
    return time.perf_counter() - started


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    import torch

    from models.phase2.trainer import autocast_dtype, best_device

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--samples", type=int, default=None)
    args = parser.parse_args()
    device = best_device(args.device)
    samples = args.samples or (2000 if args.quick else (60000 if device == "cuda" else 8000))
    repeats = 3 if args.quick else 5
    frame = fashion_mnist().iloc[:samples]
    X = np.stack(frame["image"].to_numpy()).reshape(-1, 28, 28).astype(np.float64)
    y = frame["label"].to_numpy()
    print(f"device {device} ({torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}), "
          f"{samples} Fashion-MNIST images, torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip
    print(f"{'model':<6} {'batch':>5} {'ours samples/s':>15} {'plain samples/s':>16} {'ratio':>6}")
    for name, estimator in (
        ("mlp", TorchMLPClassifier(batch_size=64, device=device, random_state=0)),
        ("cnn", TorchCNNClassifier(batch_size=64, device=device, random_state=0)),
        ("cnn", TorchCNNClassifier(batch_size=256, device=device, random_state=0)),
    ):
        amp = autocast_dtype(device, estimator.precision)
        ours, plain = [], []
        for _ in range(repeats):  # interleaved, so drift in machine load hits both alike
            plain.append(plain_loop(estimator, X, y, 1, device, amp))
            ours.append(our_loop(estimator, X, y, 1, device))
        ours_rate, plain_rate = samples / statistics.median(ours), samples / statistics.median(plain)
        ratio = ours_rate / plain_rate
        print(f"{name:<6} {estimator.batch_size:>5} {ours_rate:>15,.0f} {plain_rate:>16,.0f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
