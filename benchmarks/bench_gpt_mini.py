"""GPT-mini benchmark: training speed against the reference, and generation with the KV cache against without.

    .venv/bin/python benchmarks/bench_gpt_mini.py [--quick] [--device cpu|cuda] [--threads N]

Training: ours (models/phase3/gpt_mini/model.py) and the reference (the same configuration built from
torch.nn.TransformerEncoderLayer, reference.py) are fitted by the same loop on the same Shakespeare
windows, batch, device and seed, in interleaved rounds (the order alternates); prints the median
training samples/s of each and the ratio. Target: ours >= 0.95x the reference.

Generation: ours generates 256 new tokens after a 1-token prompt with its KV cache and without it
(recomputing the context at each token), interleaved; the reference (no cache) is timed beside them.
The block is 256 positions, so the sequence fits the block until its last token (past the block the
window slides and the cache has to be rebuilt at every token: printed too, at --slide-block). Target:
the cache >= 3x faster than without.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def training_round(cls, params: dict, train) -> tuple[float, float]:
    """One fit without validation: its training samples per wall second and per CPU second of this process
    (the second is steadier on a shared machine; on cuda only the first means anything)."""
    cpu_started = time.process_time()
    model = cls(**params).fit(train)
    samples = params["max_iters"] * params["batch_size"]
    return model.samples_per_second_, samples / (time.process_time() - cpu_started)


def generation_seconds(module, new_tokens: int, use_cache: bool) -> float:
    import torch

    from models.phase3.gpt_mini.model import generate_tokens

    prompt = torch.zeros(1, 1, dtype=torch.long)
    started = time.perf_counter()
    tokens = list(generate_tokens(module, prompt, new_tokens, temperature=1.0, seed=0, use_cache=use_cache))
    assert len(tokens) == new_tokens
    return time.perf_counter() - started


def networks(size: dict, block_size: int, device: str):
    import torch

    from models.phase3.gpt_mini.model import GPT, GPTConfig
    from models.phase3.gpt_mini.reference import TorchTransformerLM

    config = GPTConfig(vocab_size=78, block_size=block_size, **size)
    torch.manual_seed(0)
    ours = GPT(config).to(device).eval()
    torch.manual_seed(0)
    return ours, TorchTransformerLM(config).to(device).eval()


def main() -> None:
    import torch

    from models.phase2.trainer import best_device
    from models.phase3.gpt_mini.data import CharTokenizer, shakespeare, split_ids
    from models.phase3.gpt_mini.model import GPTLanguageModel
    from models.phase3.gpt_mini.reference import TorchTransformerLanguageModel

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller network, fewer iterations and rounds")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--slide-block", type=int, default=64, help="block of the sliding-window generation figure")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = best_device(args.device)

    if args.quick:
        size, batch, iters, rounds = dict(n_layer=2, n_head=2, n_embd=64), 12, 30, 3
    else:  # nanoGPT's baby GPT
        size, batch, iters, rounds = dict(n_layer=4, n_head=4, n_embd=128), 12, 60, 5
    text = shakespeare()
    tokenizer = CharTokenizer().fit(text)
    train, _ = split_ids(tokenizer.encode(text))
    params = dict(
        **size, block_size=64, batch_size=batch, max_iters=iters, warmup_iters=10,
        vocab_size=tokenizer.vocab_size, device=device, random_state=0,
    )  # fmt: skip
    print(f"device {device}, threads {args.threads}, network {size}, block 64, batch {batch}, {iters} iterations")

    peers = {"ours": GPTLanguageModel, "reference": TorchTransformerLanguageModel}
    for cls in peers.values():  # warm-up, not counted
        training_round(cls, {**params, "max_iters": 5}, train)
    speeds = {name: [] for name in peers}
    for round_ in range(rounds):
        for name in list(peers)[:: 1 if round_ % 2 == 0 else -1]:
            speeds[name].append(training_round(peers[name], params, train))
    for clock, column in (("wall", 0), ("CPU", 1)):
        median = {name: statistics.median(v[column] for v in values) for name, values in speeds.items()}
        for name, values in speeds.items():
            rounds_text = ", ".join(f"{v[column]:.0f}" for v in values)
            print(f"training {name:9s} {median[name]:8.1f} samples per {clock} second  (rounds: {rounds_text})")
        print(f"training ratio ours/reference ({clock}): {median['ours'] / median['reference']:.3f}  (target >= 0.95)")

    new = args.new_tokens
    for block_size, label in ((256, "fits the block"), (args.slide_block, "window slides")):
        ours, reference = networks(size, block_size, device)
        generation_seconds(ours, 8, True)  # warm-up
        times = {"cache": [], "no cache": [], "reference": []}
        for round_ in range(max(rounds // 2, 2)):
            runs = [("cache", ours, True), ("no cache", ours, False), ("reference", reference, False)]
            for name, module, use_cache in runs[:: 1 if round_ % 2 == 0 else -1]:
                times[name].append(generation_seconds(module, new, use_cache))
        best = {name: statistics.median(values) for name, values in times.items()}
        rates = ", ".join(f"{name} {new / seconds:7.1f} tokens/s" for name, seconds in best.items())
        print(f"generation, {new} new tokens, block {block_size} ({label}): {rates}")
        target = "  (target >= 3)" if block_size >= new else ""
        print(f"  KV cache speed-up: {best['no cache'] / best['cache']:.2f}x{target}")


if __name__ == "__main__":
    main()
