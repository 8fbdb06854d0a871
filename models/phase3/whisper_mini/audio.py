"""The log-mel spectrogram in torch ops, equal to librosa's (tests/deliverables/test_whisper_mini.py, 1e-4).

    frames   the signal zero-padded by n_fft // 2 on each side (librosa's ``center=True``,
             ``pad_mode="constant"``), cut into windows of ``n_fft`` every ``hop_length`` samples
    power    |FFT(hann window * frame)|^2, the first n_fft // 2 + 1 bins
    mel      the power through ``n_mels`` triangular filters on the mel scale (Slaney's, or HTK's with
             ``htk=True``), each scaled to unit area (``norm="slaney"``): librosa.filters.mel
    log      natural log of max(mel, ``floor``)

``whisper_features`` then scales it as Whisper does: log10, at most 8 decades below the utterance's
loudest bin, (x + 4) / 4.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def hz_to_mel(frequencies: np.ndarray, htk: bool = False) -> np.ndarray:
    """HTK's 2595 log10(1 + f / 700), or Slaney's: linear below 1 kHz, logarithmic above."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + frequencies / 700.0)
    linear = frequencies / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(frequencies, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(frequencies >= 1000.0, log_part, linear)


def mel_to_hz(mels: np.ndarray, htk: bool = False) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    return np.where(mels >= 15.0, 1000.0 * np.exp((math.log(6.4) / 27.0) * (mels - 15.0)), (200.0 / 3) * mels)


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, htk: bool = False) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters from 0 Hz to Nyquist, Slaney-normalized."""
    fft_frequencies = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0, htk), hz_to_mel(sample_rate / 2, htk), n_mels + 2), htk)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_frequencies[None, :]  # (n_mels + 2, bins)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]  # unit area per filter


def log_mel_spectrogram(
    audio: torch.Tensor,
    sample_rate: int = 16_000,
    n_fft: int = 400,
    hop_length: int = 160,
    n_mels: int = 40,
    htk: bool = False,
    floor: float = 1e-10,
) -> torch.Tensor:
    """audio (..., samples) -> natural-log mel power (..., n_mels, 1 + samples // hop_length), in the
    audio's dtype (librosa's to about 1e-7 in float64, 1e-5 in float32)."""
    if audio.dim() < 1 or audio.size(-1) == 0:
        raise ValueError(f"audio must hold at least one sample, got shape {tuple(audio.shape)}")
    if not audio.is_floating_point():
        raise ValueError(f"audio must be floating point, got {audio.dtype}")
    window = torch.hann_window(n_fft, periodic=True, dtype=audio.dtype, device=audio.device)
    padded = torch.nn.functional.pad(audio, (n_fft // 2, n_fft // 2))  # (..., samples + n_fft)
    frames = padded.unfold(-1, n_fft, hop_length)  # (..., n_frames, n_fft)
    power = torch.fft.rfft(frames * window).abs() ** 2  # (..., n_frames, n_fft // 2 + 1)
    filters = torch.from_numpy(mel_filters(sample_rate, n_fft, n_mels, htk)).to(audio.device, audio.dtype)
    mel = power @ filters.T  # (..., n_frames, n_mels)
    return torch.log(torch.clamp(mel, min=floor)).transpose(-1, -2)  # (..., n_mels, n_frames)


def whisper_features(log_mel: torch.Tensor) -> torch.Tensor:
    """Whisper's scaling of a natural-log mel spectrogram (..., n_mels, frames): log10, clamped to 8 decades
    below each utterance's maximum, then (x + 4) / 4 (about [-1, 1])."""
    log10 = log_mel / math.log(10.0)
    peak = log10.amax(dim=(-2, -1), keepdim=True)
    return (torch.maximum(log10, peak - 8.0) + 4.0) / 4.0
