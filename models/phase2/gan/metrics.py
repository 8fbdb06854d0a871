"""The metrics of `gan`: the FID-like score and class accuracy of its samples (models/phase2/fid.py)."""

from __future__ import annotations

from models.phase2.fid import class_accuracy, fid

METRICS = {"fid": (fid, False), "class_accuracy": (class_accuracy, True)}
