"""Whisper-mini benchmark: training speed of ours and of the CTC ablation, and decoding speed against pocketsphinx.

    .venv/bin/python benchmarks/bench_whisper_mini.py [--quick] [--device cpu|cuda] [--threads N] [--rounds R]

Data: the catalog's spoken commands (data.speech(), synthesized by espeak-ng), the training voices' rows.

Training: ours (the hybrid CTC/attention encoder-decoder, head="seq2seq") and the ablation (head="ctc", the
encoder alone) are fitted on the same utterances, batch, epochs, device and seed, in interleaved rounds (the
order alternates); prints the median training samples/s (utterances x epochs per second of fit) of each and
the ratio. pocketsphinx does not train (its fit builds a language model of the transcripts), so it has no
training figure.

Decoding: ours (greedy, KV-cached, batches of 64), ours by beam search (8 beams, the training transcripts'
character 6-gram fused with weight 0.3: pocketsphinx's trigram of the same transcripts is its match), the CTC
ablation and pocketsphinx (one utterance at a time, as it decodes) transcribe the same held-out-voice
utterances, interleaved; prints utterances/s, the real-time
factor (seconds of compute per second of audio) and each ratio to pocketsphinx, with the WER of each.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZE = dict(n_layer=2, n_head=4, n_embd=64, n_mels=80, batch_size=8, learning_rate=2e-3, warmup_epochs=2)


def training_round(params: dict, X, y) -> float:
    from models.phase3.whisper_mini.model import WhisperMini

    started = time.perf_counter()
    model = WhisperMini(**params).fit(X, y)
    return int(model._trained_rows(X).sum()) * params["max_epochs"] / (time.perf_counter() - started), model


def decoding_round(model, X) -> float:
    started = time.perf_counter()
    model.predict(X)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 epochs, 2 rounds, 40 test utterances")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    import numpy as np
    import torch

    from models.phase3.whisper_mini import data
    from models.phase3.whisper_mini.metrics import error_rate
    from models.phase3.whisper_mini.model import utterances
    from models.phase3.whisper_mini.reference import PocketsphinxRecognizer

    torch.set_num_threads(args.threads)
    epochs, rounds = (2, 2) if args.quick else (args.epochs, args.rounds)
    frame = data.speech()
    X = utterances(list(frame["audio"]), frame["length"], frame["voice"])
    y = frame["transcript"].to_numpy(object)
    held = np.flatnonzero(np.isin(X["voice"], data.HELD_OUT_VOICES))[: 40 if args.quick else 192]
    trained = int((~np.isin(X["voice"], data.HELD_OUT_VOICES)).sum())
    print(f"{len(X)} utterances, {trained} to train on, {len(held)} of held-out voices to decode; "
          f"{epochs} epochs, batch {SIZE['batch_size']}, device {args.device}, {args.threads} threads")  # fmt: skip

    speeds: dict[str, list[float]] = {"seq2seq": [], "ctc": []}
    models = {}
    for round_ in range(rounds):
        for head in ("seq2seq", "ctc") if round_ % 2 == 0 else ("ctc", "seq2seq"):
            params = {**SIZE, "head": head, "max_epochs": epochs, "device": args.device, "random_state": 0}
            speed, models[head] = training_round(params, X, y)
            speeds[head].append(speed)
    ours, ctc = (statistics.median(speeds[h]) for h in ("seq2seq", "ctc"))
    print(f"training samples/s  ours (seq2seq) {ours:.1f}  ctc ablation {ctc:.1f}  ratio ours/ctc {ours / ctc:.2f}")

    models["ours beam 8+LM"] = copy.deepcopy(models["seq2seq"]).set_params(num_beams=8, lm_weight=0.3)
    models["pocketsphinx"] = PocketsphinxRecognizer().fit(X, y)
    models["pocketsphinx"].predict(X[held[:1]])  # its decoder is built once (the dictionary): not timed
    audio_seconds = float(X["length"][held].sum()) / data.SAMPLE_RATE
    seconds: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            seconds[name].append(decoding_round(models[name], X[held]))
    reference = statistics.median(seconds["pocketsphinx"])
    for name, model in models.items():
        median = statistics.median(seconds[name])
        wer = error_rate(list(y[held]), list(model.predict(X[held])))
        rtf, ratio = median / audio_seconds, reference / median
        print(f"decoding  {name:14s} {len(held) / median:7.1f} utterances/s  real-time factor {rtf:.4f}  "
              f"speed vs pocketsphinx {ratio:.2f}x  held-out WER {wer:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
