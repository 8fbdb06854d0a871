"""The metrics of `gpt_mini`: validation loss (mean cross-entropy in nats per character over fixed,
seeded windows of the held-out text) and perplexity, exp of it."""

from __future__ import annotations

import math


def val_loss(y_true, y_pred, X=None, model=None) -> float:
    """``X``: the held-out token ids; ``model``: a TextGenerator."""
    return float(model.model.evaluate_loss(X))


def perplexity(y_true, y_pred, X=None, model=None) -> float:
    return math.exp(val_loss(y_true, y_pred, X, model))


METRICS = {"val_loss": (val_loss, False), "perplexity": (perplexity, False)}
