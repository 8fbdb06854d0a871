"""Spoken commands synthesized offline with the Debian ``espeak-ng`` CLI, as a table of audio.

Each utterance is a short command from a small grammar (about 40 words: digits, devices, rooms,
verbs), spoken by one of several espeak-ng voices (an accent and a variant) at one of several
speeds, resampled from espeak's 22,050 Hz to 16 kHz, scaled to a random level, mixed with white
noise at a random signal-to-noise ratio and zero-padded to ``MAX_SECONDS``. Nothing is cached: the
loader runs espeak-ng once per voice and speed (``synthesize_many``) through a pipe, no file is written.

Voices in ``HELD_OUT_VOICES`` (their accents and variants appear in no training voice) are the
evaluation's unseen speakers, and held out means the test split is exactly their rows: each row's
``speakers`` says which set its voice is in (``TRAINING`` or ``HELD_OUT``), the declaration splits by it
(etl's grouped split: the set of a fifth of the rows goes to test, whole) and ``wer`` / ``cer``
are measured on them (metrics.py); no model trains on them. A row also carries what validation judges
the audio by: its true ``length``, ``sample_rate``, ``rms`` level (silence below ``MIN_RMS``) and
``clipping`` (the share of samples at full scale: clipped audio above ``MAX_CLIPPING``), computed from
the samples by ``audio_columns``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd

SAMPLE_RATE = 16_000
MAX_SECONDS = 2.5
MAX_SAMPLES = int(SAMPLE_RATE * MAX_SECONDS)
ESPEAK = "espeak-ng"
ESPEAK_RATE = 22_050  # what espeak-ng writes
MIN_RMS = 0.003  # below: silence (about -50 dBFS)
FULL_SCALE = 0.999  # a sample this close to +-1 is at full scale
MAX_CLIPPING = 0.001  # above this share of samples at full scale: clipped audio

#: (voice, words per minute) pairs that train; an accent and a variant (+m / +f) per voice.
TRAINING_VOICES = (
    "en-us+m1",
    "en-us+f2",
    "en-gb+m3",
    "en-gb+f1",
    "en-gb-x-rp+m2",
    "en-gb-x-rp+f3",
    "en-gb-x-gbclan+m4",
    "en-029+f4",
)
#: Accents and variants no training voice has: the held-out speakers of the test split.
HELD_OUT_VOICES = ("en-gb-scotland+m5", "en-us-nyc+f5")
VOICES = TRAINING_VOICES + HELD_OUT_VOICES
SPEEDS = (130, 155, 180)  # words per minute
TRAINING, HELD_OUT = "training", "held-out"  # the ``speakers`` column: the set a row's voice is in
PER_VOICE = 96  # utterances per voice, training and held-out alike: the held-out fifth is the test split

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DEVICES = ("lights", "radio", "heater", "fan", "music", "alarm", "door", "oven")
ROOMS = ("kitchen", "bedroom", "garage", "office", "hall")
TEMPLATES = (
    "turn on the {room} {device}",
    "turn off the {room} {device}",
    "switch the {device} off",
    "open the {room} door",
    "set the alarm to {d1} {d2}",
    "call {d1} {d2} {d3} {d4}",
    "dial {d1} {d2} {d3}",
    "play the radio in the {room}",
    "stop the {device}",
    "set the heater to {d1}",
    "volume {d1}",
    "{d1} {d2} {d3}",
)


class SynthesisError(RuntimeError):
    """espeak-ng is missing or failed on an utterance."""


def sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` commands drawn from the grammar (templates filled with random words)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        digits = rng.choice(DIGITS, 4)
        out.append(
            template.format(
                room=ROOMS[rng.integers(len(ROOMS))],
                device=DEVICES[rng.integers(len(DEVICES))],
                d1=digits[0],
                d2=digits[1],
                d3=digits[2],
                d4=digits[3],
            )
        )
    return out


def vocabulary() -> list[str]:
    """Every word the grammar can say, sorted."""
    words = set(DIGITS) | set(DEVICES) | set(ROOMS)
    for template in TEMPLATES:
        words |= {word for word in template.split() if not word.startswith("{")}
    return sorted(words)


def _wav_samples(data: bytes) -> np.ndarray:
    """The 16-bit PCM samples of a RIFF/WAVE byte string, as float32 in [-1, 1]. espeak-ng's --stdout
    header leaves the data size unset, so the samples are whatever follows the ``data`` chunk's header."""
    start = data.find(b"data")
    if not data.startswith(b"RIFF") or start < 0:
        raise SynthesisError("espeak-ng wrote no RIFF/WAVE data")
    pcm = data[start + 8 :]
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0


@functools.cache
def espeak_languages() -> frozenset[str]:
    """The language names espeak-ng has voices for (``espeak-ng --voices``' second column)."""
    if shutil.which(ESPEAK) is None:
        raise SynthesisError("espeak-ng is not installed: `apt-get install espeak-ng` (make install does it)")
    listing = subprocess.run([ESPEAK, "--voices"], capture_output=True, text=True, timeout=30).stdout
    return frozenset(line.split()[1] for line in listing.splitlines()[1:] if len(line.split()) > 1)


def _espeak(voice: str, speed: int, text: str, ssml: bool = False) -> np.ndarray:
    """espeak-ng's samples (22,050 Hz, float32) for ``text``, through a pipe. espeak-ng itself falls back to
    its default voice for a name it does not know: an unknown language is refused here instead."""
    if voice.partition("+")[0] not in espeak_languages():
        raise SynthesisError(f"espeak-ng has no voice {voice!r} (its languages: `espeak-ng --voices`)")
    command = [ESPEAK, "-v", voice, "-s", str(speed), *(["-m"] if ssml else []), "--stdout", text]
    done = subprocess.run(command, capture_output=True, timeout=120)
    if done.returncode != 0:
        raise SynthesisError(f"espeak-ng failed on voice {voice!r}: {done.stderr.decode(errors='replace')[:200]}")
    return _wav_samples(done.stdout)


def _trimmed(samples: np.ndarray, text: str, voice: str) -> np.ndarray:
    """espeak's samples resampled to 16 kHz, the silence before and after the speech cut to 50 ms."""
    from scipy.signal import resample_poly

    samples = resample_poly(samples, 320, 441).astype(np.float32)  # 22,050 -> 16,000 Hz
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    if loud.size == 0:
        raise SynthesisError(f"espeak-ng's voice {voice!r} produced silence for {text!r}")
    margin = SAMPLE_RATE // 20
    return samples[max(loud[0] - margin, 0) : loud[-1] + margin]


def synthesize(text: str, voice: str, speed: int = 160) -> np.ndarray:
    """``text`` spoken by espeak-ng's ``voice`` at ``speed`` words per minute: float32 samples at 16 kHz,
    leading and trailing silence trimmed to 50 ms."""
    return _trimmed(_espeak(voice, speed, text), text, voice)


def synthesize_many(texts: list[str], voice: str, speed: int = 160) -> list[np.ndarray]:
    """Each of ``texts`` in ``voice`` at ``speed`` (as ``synthesize`` says it, up to sentence prosody), from
    one espeak-ng call: the texts are read as SSML
    with a 700 ms break between them and the audio is cut at the breaks' runs of exact silence (no
    command holds a pause of even 100 ms). Falls back to one call per text if the cut does not find
    exactly one piece per text."""
    if not texts:
        return []
    document = '<break time="700ms"/>'.join(texts)
    samples = _espeak(voice, speed, f"<speak>{document}</speak>", ssml=True)
    silent = np.concatenate([[False], np.abs(samples) < 1e-4, [False]])
    edges = np.flatnonzero(np.diff(silent.astype(np.int8)))  # starts and ends of silent runs
    gaps = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a > 0.4 * ESPEAK_RATE]
    cuts = [0, *(point for gap in gaps for point in gap), len(samples)]
    pieces = [samples[a:b] for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
    pieces = [piece for piece in pieces if np.abs(piece).max(initial=0.0) > 0.01]
    if len(pieces) != len(texts):
        return [synthesize(text, voice, speed) for text in texts]
    return [_trimmed(piece, text, voice) for piece, text in zip(pieces, texts, strict=True)]


def add_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``samples`` plus white noise ``snr_db`` decibels below their power."""
    power = float(np.mean(samples.astype(np.float64) ** 2))
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), samples.shape)
    return (samples + noise).astype(np.float32)


def audio_columns(audio: np.ndarray, length: int) -> dict[str, float]:
    """What validation judges a waveform by: the RMS level and the share of samples at full scale,
    over its first ``length`` samples (the rest is padding)."""
    speech = np.asarray(audio, dtype=np.float64)[:length]
    if speech.size == 0:
        return {"rms": 0.0, "clipping": 0.0}
    return {"rms": float(np.sqrt(np.mean(speech**2))), "clipping": float(np.mean(np.abs(speech) >= FULL_SCALE))}


def pad(samples: np.ndarray, size: int = MAX_SAMPLES) -> np.ndarray:
    """``samples`` zero-padded (or refused when longer) to ``size``."""
    if len(samples) > size:
        raise ValueError(f"audio of {len(samples)} samples exceeds the {size} the model reads")
    return np.pad(np.asarray(samples, dtype=np.float32), (0, size - len(samples)))


def spoken_commands(per_voice: int = PER_VOICE, held_out_per_voice: int = PER_VOICE, seed: int = 0) -> pd.DataFrame:
    """The table: ``audio`` (float32, zero-padded to MAX_SAMPLES), ``length``, ``sample_rate``, ``rms``,
    ``clipping``, ``voice``, ``speakers`` (``TRAINING`` or ``HELD_OUT``: the split's groups) and the
    ``transcript``; ``per_voice`` utterances per training voice and ``held_out_per_voice`` per held-out voice."""
    rng = np.random.default_rng(seed)
    plan = [(voice, per_voice) for voice in TRAINING_VOICES] + [
        (voice, held_out_per_voice) for voice in HELD_OUT_VOICES
    ]
    texts = sentences(sum(count for _, count in plan), seed)
    rows, start = [], 0
    for voice, count in plan:
        said = texts[start : start + count]
        start += count
        speeds = rng.choice(SPEEDS, count)
        spoken: dict[int, np.ndarray] = {}
        for speed in SPEEDS:  # one espeak-ng call per voice and speed
            chosen = np.flatnonzero(speeds == speed)
            spoken.update(zip(chosen, synthesize_many([said[i] for i in chosen], voice, int(speed)), strict=True))
        for i, text in enumerate(said):
            speech = spoken[i]
            if len(speech) > MAX_SAMPLES:  # a long command said slowly: said at the fastest speed instead
                speech = synthesize(text, voice, max(SPEEDS))
            speech = speech * np.float32(rng.uniform(0.2, 0.6) / max(np.abs(speech).max(), 1e-6))
            speech = np.clip(add_noise(speech, rng.uniform(15.0, 35.0), rng), -1.0, 1.0)
            audio = pad(speech)
            rows.append(
                {"audio": audio, "length": len(speech), "sample_rate": SAMPLE_RATE,
                 **audio_columns(audio, len(speech)), "voice": voice,
                 "speakers": HELD_OUT if voice in HELD_OUT_VOICES else TRAINING, "transcript": text}
            )  # fmt: skip
    return pd.DataFrame(rows)


def speech() -> pd.DataFrame:
    """The catalog's source: 960 utterances by 10 voices, 768 by the 8 training voices and 192 by the 2
    held-out ones (a fifth: the test split), about 30 s to synthesize on one core."""
    return spoken_commands()


if __name__ == "__main__":
    frame = spoken_commands(int(sys.argv[1]) if len(sys.argv) > 1 else 4, 4)
    print(frame.drop(columns="audio").to_string())
