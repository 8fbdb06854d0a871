"""The metrics of `ddpm`: the project's FID-like score (models/phase2/fid.py, as `gan` scores) of the
images ``predict`` draws (DDPM's ancestral sampling by default) and of DDIM's, with the number of images
scored; the share the same classifier reads as the class asked for; and the seconds each sampler takes
per 1,000 images (timed on up to 250 of the held-out classes, on the CPU the model serves from)."""

from __future__ import annotations

import time

import numpy as np

from models.phase2.fid import class_accuracy, fid

TIMED_ROWS = 250


def fid_samples(y_true, y_pred, X=None, model=None) -> float:
    """How many generated images the FID-like score compares with as many real ones."""
    return float(len(y_pred))


def fid_ddim(y_true, y_pred, X=None, model=None) -> float:
    """The FID-like score of DDIM's images (``ddim_steps`` steps, eta as the model's) for the same classes."""
    return fid(y_true, model.sample(X, sampler="ddim"), X)


def _seconds_per_1000(model, X, sampler: str) -> float:
    rows = np.asarray(X)[:TIMED_ROWS]
    started = time.perf_counter()
    model.sample(rows, sampler=sampler)
    return (time.perf_counter() - started) / len(rows) * 1000


def ddpm_seconds_per_1000(y_true, y_pred, X=None, model=None) -> float:
    return _seconds_per_1000(model, X, "ddpm")


def ddim_seconds_per_1000(y_true, y_pred, X=None, model=None) -> float:
    return _seconds_per_1000(model, X, "ddim")


METRICS = {
    "fid": (fid, False),
    "fid_samples": (fid_samples, True),
    "class_accuracy": (class_accuracy, True),
    "fid_ddim": (fid_ddim, False),
    "ddpm_seconds_per_1000": (ddpm_seconds_per_1000, False),
    "ddim_seconds_per_1000": (ddim_seconds_per_1000, False),
}
