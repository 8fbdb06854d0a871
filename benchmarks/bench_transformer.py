"""Transformer benchmark: training speed of the sentence classifier, ours against the reference.

    .venv/bin/python benchmarks/bench_transformer.py [--quick] [--sentences N] [--rounds R] [--device cpu|cuda]

Three classifiers, the same network (models/phase3/transformer/), data (movie-review sentences), batch,
epochs and seed: ours in NumPy with its hand-written backward (the one the deliverable trains), ours in
torch ops, and the reference built from torch.nn.TransformerEncoderLayer. Each round fits each of them
for one epoch, in an order that rotates from round to round; prints the median training samples/s of
each (per wall second, and per CPU second of this process: steadier on a shared machine, meaningless on
cuda) and the ratios to the reference. The torch models run on ``--device``; NumPy on the CPU. Threads:
``--threads`` for torch and BLAS alike (1 by default, as make run gives each fit).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one_epoch(cls, params: dict, X, y) -> tuple[float, float]:
    """Training samples per wall second and per CPU second of one epoch's fit."""
    wall, cpu = time.perf_counter(), time.process_time()
    cls(**params).fit(X, y)
    return len(X) / (time.perf_counter() - wall), len(X) / (time.process_time() - cpu)


def main() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    from models.phase2.trainer import best_device
    from models.phase3.transformer.model import TorchTransformerClassifier, TransformerClassifier
    from models.phase3.transformer.reference import ReferenceTransformerClassifier
    from s2p.sources import movie_reviews

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 sentences, 3 rounds")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1)")
    args = parser.parse_args()
    sentences, rounds = (500, 3) if args.quick else (args.sentences, args.rounds)
    torch.set_num_threads(args.threads)
    device = best_device(args.device)

    frame = movie_reviews().sample(sentences, random_state=0)
    X, y = frame[["text"]].to_numpy(dtype=object), frame["sentiment"].to_numpy()
    # the default size's network (params.yaml deliverables.transformer), one epoch a fit
    network = {"max_len": 48, "d_model": 64, "n_head": 4, "d_ff": 128, "n_layer": 1, "batch_size": args.batch_size}
    common = network | {"learning_rate": 0.003, "max_epochs": 1, "random_state": 0}
    models = {
        "ours (NumPy)": (TransformerClassifier, common),
        "ours (torch ops)": (TorchTransformerClassifier, common | {"device": device}),
        "reference": (ReferenceTransformerClassifier, common | {"device": device}),
    }
    print(
        f"{sentences} sentences, batch {args.batch_size}, {rounds} rounds, torch on {device}, {args.threads} thread(s)"
    )
    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    with threadpool_limits(limits=args.threads):
        one_epoch(*models["reference"], X[:64], y[:64])  # warm torch up outside the timing
        for round_ in range(rounds):
            for name in names[round_ % 3 :] + names[: round_ % 3]:  # interleaved, the order rotating
                per_wall, per_cpu = one_epoch(*models[name], X, y)
                wall[name].append(per_wall)
                cpu[name].append(per_cpu)
    reference_wall, reference_cpu = statistics.median(wall["reference"]), statistics.median(cpu["reference"])
    print(f"{'training samples/s':<18} {'wall':>9} {'cpu':>9} {'ratio (wall)':>13} {'ratio (cpu)':>12}")
    for name in names:
        median_wall, median_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"{name:<18} {median_wall:>9.0f} {median_cpu:>9.0f} {median_wall / reference_wall:>12.2f}x "
            f"{median_cpu / reference_cpu:>11.2f}x"
        )


if __name__ == "__main__":
    main()
