"""seq2seq benchmark: training speed against nn.Transformer, and decoding with the KV cache against without.

    .venv/bin/python benchmarks/bench_seq2seq.py [--quick] [--device cpu|cuda] [--threads N]

Training: ours (models/phase3/seq2seq/model.py) and the reference (the same sizes from torch.nn.Transformer,
reference.py) are fitted by the same loop on the same generated rows (all three tasks), batch, device and
seed, supervised epochs only, in interleaved rounds (the order alternates); prints the median training
samples/s of each (rows x epochs / fit seconds, wall and CPU of this process) and the ratio. Target: ours
>= 0.9x the reference.

Decoding: greedy decoding of the same held-out sources by ours with its KV cache, ours without it, and the
reference (no cache: it recomputes the prefix at each token), and ours with beam search (4 beams), interleaved;
prints sources decoded per second.

    .venv/bin/python benchmarks/bench_seq2seq.py --addition [--threads N]

Addition: the 3-digit addition target (exact match >= 99%) on a CPU. Ours and the reference, one after the
other, trained with params.yaml's `cpu` size (what `s2p run seq2seq --size cpu` trains) on the recipe's rows
and split (all 200,000 generated rows, duplicates dropped, seed 42, a fifth held out); prints each one's
minutes of training and exact match per task, greedy and with 4 beams, on every held-out row. About 16 min
of one thread to train a model; decoding the held-out rows takes minutes more (the reference has no KV cache).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def training_round(cls, params: dict, X, y) -> tuple[float, float]:
    """One fit: training samples per wall second and per CPU second of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    cls(**params).fit(X, y)
    samples = len(X) * params["max_epochs"]
    return samples / (time.perf_counter() - wall), samples / (time.process_time() - cpu)


def decoding_rate(model, X, num_beams: int = 1, use_cache: bool = True) -> float:
    started = time.perf_counter()
    model.decode(X, num_beams=num_beams, use_cache=use_cache)
    return len(X) / (time.perf_counter() - started)


def addition_target(device: str) -> None:
    """Ours and the reference at params.yaml's `cpu` size on the recipe's split: minutes, exact match per task."""
    import numpy as np

    from models.phase3.seq2seq.data import task_of, toy_tasks
    from models.phase3.seq2seq.model import Seq2SeqTransformer
    from models.phase3.seq2seq.reference import TorchTransformerSeq2Seq
    from pipeline.etl import build_dataset
    from s2p.config import params_for

    size = params_for(Path(__file__).resolve().parents[1] / "params.yaml", "seq2seq", "cpu")
    frame, _ = build_dataset(toy_tasks(), ["source", "target"], size.seed, size.test_size, size.size)
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    X, y = train[["source"]].to_numpy(dtype=object), train["target"].to_numpy(dtype=object)
    X_test, y_test = test[["source"]].to_numpy(dtype=object), test["target"].to_numpy(dtype=object)
    tasks = np.array([task_of(source) for source in X_test[:, 0]])
    print(f"device {device}, {len(X)} training rows, {len(X_test)} held out, {size.model}")
    for name, cls in {"ours": Seq2SeqTransformer, "reference": TorchTransformerSeq2Seq}.items():
        started = time.perf_counter()
        settings = (size.model if name == "ours" else size.reference) | {"device": device, "random_state": size.seed}
        model = cls(**settings).fit(X, y)
        minutes = (time.perf_counter() - started) / 60
        for beams in (1, 4):
            right = model.decode(X_test, num_beams=beams) == y_test
            scores = ", ".join(f"{task} {right[tasks == task].mean():.4f}" for task in ("addition", "date", "reverse"))
            print(f"addition target {name:9s} {minutes:5.1f} min training, {beams} beam(s): exact match {scores}")


def main() -> None:
    import torch

    from models.phase2.trainer import best_device
    from models.phase3.seq2seq.data import generate_tasks
    from models.phase3.seq2seq.model import Seq2SeqTransformer
    from models.phase3.seq2seq.reference import TorchTransformerSeq2Seq

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rows and rounds")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--addition", action="store_true", help="the addition target at the cpu size instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = best_device(args.device)
    if args.addition:
        addition_target(device)
        return

    rows, rounds = (2000, 3) if args.quick else (6000, 5)
    size = dict(encoder_layers=2, decoder_layers=2, n_head=4, n_embd=64)  # the default size of params.yaml
    if device == "cuda":
        rows, size = rows * 10, dict(encoder_layers=3, decoder_layers=3, n_head=8, n_embd=256)  # the full size
    frame = generate_tasks(rows + 500, seed=0)
    X, y = frame[["source"]].to_numpy(dtype=object), frame["target"].to_numpy(dtype=object)
    X_train, y_train, X_test = X[:rows], y[:rows], X[rows:]
    params = dict(**size, batch_size=64, max_epochs=1, pretrain_epochs=0, learning_rate=0.002, warmup_steps=50,
                  device=device, random_state=0)  # fmt: skip
    print(f"device {device}, threads {args.threads}, network {size}, batch 64, {rows} rows x 1 epoch a round")

    peers = {"ours": Seq2SeqTransformer, "reference": TorchTransformerSeq2Seq}
    for cls in peers.values():  # warm-up, not counted
        training_round(cls, params, X_train[:256], y_train[:256])
    speeds = {name: [] for name in peers}
    for round_ in range(rounds):
        for name in list(peers)[:: 1 if round_ % 2 == 0 else -1]:
            speeds[name].append(training_round(peers[name], params, X_train, y_train))
    for clock, column in (("wall", 0), ("CPU", 1)):
        median = {name: statistics.median(v[column] for v in values) for name, values in speeds.items()}
        for name, values in speeds.items():
            rounds_text = ", ".join(f"{v[column]:.0f}" for v in values)
            print(f"training {name:9s} {median[name]:8.1f} samples per {clock} second  (rounds: {rounds_text})")
        print(f"training ratio ours/reference ({clock}): {median['ours'] / median['reference']:.3f}  (target >= 0.9)")

    trained = {name: cls(**params).fit(X_train, y_train) for name, cls in peers.items()}
    cases = {
        "ours greedy, KV cache": (trained["ours"], 1, True),
        "ours greedy, no cache": (trained["ours"], 1, False),
        "reference greedy (no cache)": (trained["reference"], 1, True),
        "ours beam 4, KV cache": (trained["ours"], 4, True),
    }
    rates = {name: [] for name in cases}
    for round_ in range(max(rounds // 2, 2)):
        for name in list(cases)[:: 1 if round_ % 2 == 0 else -1]:
            rates[name].append(decoding_rate(cases[name][0], X_test, *cases[name][1:]))
    for name, values in rates.items():
        print(f"decoding {name:28s} {statistics.median(values):8.1f} sources per second ({len(X_test)} sources)")


if __name__ == "__main__":
    main()
