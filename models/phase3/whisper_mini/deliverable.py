"""The declaration of `whisper_mini`: speech recognition on spoken commands synthesized by espeak-ng."""

from __future__ import annotations

from models.phase3.whisper_mini.data import MAX_CLIPPING, MAX_SAMPLES, MIN_RMS, SAMPLE_RATE
from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="whisper_mini",
    order=6,
    phase="3",
    title="Whisper mini: an encoder-decoder transformer over log-mel frames (and a CTC ablation) against pocketsphinx",
    task="generation",
    kind="transcript",
    source="models.phase3.whisper_mini.data:speech",
    features=(
        Column("audio", "tensor", -1.0, 1.0, "16 kHz samples, zero-padded after the true length", shape=(MAX_SAMPLES,)),
        Column("length", "int", 1, MAX_SAMPLES, "the true length in samples"),
        Column(
            "sample_rate",
            "int",
            description="samples per second: the model's one rate",
            values=(SAMPLE_RATE,),
            varies=False,
        ),
        Column("rms", "float", MIN_RMS, 1.0, "RMS level of the true-length audio: below the minimum it is silence"),
        Column(
            "clipping",
            "float",
            0.0,
            MAX_CLIPPING,
            "share of samples at full scale: above the maximum, clipped",
            varies=False,
        ),
        Column("voice", "text", 1, 40, "the espeak-ng voice (accent + variant); held-out voices are scored"),
    ),
    target=Column("transcript", "text", 1, 100, "what was said, lower case"),
    model="models.phase3.whisper_mini.model:WhisperMini",
    reference="models.phase3.whisper_mini.reference:PocketsphinxRecognizer",
    metrics=("wer", "cer"),
    gate=Gate(metric="wer", greater_is_better=False),
    plots=("loss_curve", "errors_by_voice"),
    framework="torch",
    min_rows=50,
    split_by="speakers",  # the held-out voices' rows are the test split, whole (data.py)
    fit_time_budget=None,  # the reference is pretrained: its fit builds a language model, ours trains a network
)
