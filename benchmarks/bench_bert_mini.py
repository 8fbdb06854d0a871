"""BERT-mini benchmark: training speed of ours against Hugging Face's BERT, pretraining and fine-tuning.

    .venv/bin/python benchmarks/bench_bert_mini.py [--quick] [--device cpu|cuda] [--threads N]

Ours (models/phase3/bert_mini/model.py) and the reference (BertForMaskedLM / BertForSequenceClassification
built from the same configuration, reference.py) are trained by the same loop (``MaskedLMClassifier``'s
``_pretrain`` and ``_finetune``) on the same movie-review tokens, batches, masks, device and seed, in
interleaved rounds (the order alternates); prints the median training sequences/s of each phase and the
ratio ours/reference (target >= 0.9). Our masked-LM head reads out only the masked positions (15%); Hugging
Face's reads out every position and ignores the others in its loss.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def phase_round(estimator, phase: str, data: dict, device: str) -> tuple[float, float]:
    """One pretraining or fine-tuning run from a fresh network: sequences per wall second and per CPU second."""
    import torch

    config = data["config"]
    torch.manual_seed(0)
    if phase == "pretrain":
        module = estimator._masked_lm(config).to(device)
        sequences = estimator.pretrain_iters * estimator.pretrain_batch_size
        run = lambda: estimator._pretrain(module, data["ids"], data["lengths"], config, None)  # noqa: E731
    else:
        module = estimator._classifier(config).to(device)
        sequences = estimator.finetune_epochs * len(data["ids"])
        run = lambda: estimator._finetune(module, data["ids"], data["lengths"], data["labels"], None)  # noqa: E731
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    if device == "cuda":
        torch.cuda.synchronize()
    return sequences / (time.perf_counter() - wall), sequences / (time.process_time() - cpu)


def main() -> None:
    import torch

    from models.phase2.trainer import best_device
    from models.phase3.bert_mini.data import BertTokenizer
    from models.phase3.bert_mini.model import BertMiniClassifier
    from models.phase3.bert_mini.reference import HuggingFaceBertClassifier
    from s2p.sources import movie_reviews

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer sentences, steps and rounds")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = best_device(args.device)

    rows, iters, rounds = (1000, 20, 3) if args.quick else (2000, 60, 5)
    size = dict(n_layer=2, n_head=2, n_embd=64, max_len=64, vocab_size=2000)  # params.yaml's default size
    frame = movie_reviews().sample(rows, random_state=0)
    texts, labels = frame["text"].tolist(), frame["sentiment"].to_numpy()
    tokenizer = BertTokenizer(size["vocab_size"]).fit(texts)
    ids, lengths = tokenizer.encode_batch(texts, size["max_len"])
    params = dict(**size, pretrain_iters=iters, pretrain_batch_size=64, finetune_epochs=1, batch_size=32,
                  device=device, random_state=0)  # fmt: skip
    peers = {"ours": BertMiniClassifier(**params), "reference": HuggingFaceBertClassifier(**params)}
    config = peers["ours"]._config(tokenizer.n_tokens, 2)
    data = {"config": config, "ids": ids, "lengths": lengths, "labels": labels}
    print(f"device {device}, threads {args.threads}, network {size}, {rows} sentences, {iters} pretraining steps "
          f"of 64, fine-tuning 1 epoch in batches of 32, {rounds} rounds")  # fmt: skip

    for phase in ("pretrain", "finetune"):
        for estimator in peers.values():  # warm-up, not counted
            phase_round(estimator.set_params(pretrain_iters=3), phase, {**data, "ids": ids[:64]}, device)
            estimator.set_params(pretrain_iters=iters)
        speeds = {name: [] for name in peers}
        for round_ in range(rounds):
            for name in list(peers)[:: 1 if round_ % 2 == 0 else -1]:
                speeds[name].append(phase_round(peers[name], phase, data, device))
        for clock, column in (("wall", 0), ("CPU", 1)):
            median = {name: statistics.median(v[column] for v in values) for name, values in speeds.items()}
            for name, values in speeds.items():
                text = ", ".join(f"{v[column]:.0f}" for v in values)
                print(f"{phase:8s} {name:9s} {median[name]:8.1f} sequences per {clock} second  (rounds: {text})")
            ratio = median["ours"] / median["reference"]
            print(f"{phase:8s} ratio ours/reference ({clock}): {ratio:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
