"""The metrics of `seq2seq`: exact match (the whole answer right, character for character) over all the
held-out rows and over each task's rows (the task is the source's prefix)."""

from __future__ import annotations

import math

import numpy as np

from models.phase3.seq2seq.data import TASKS, task_of
from models.text import documents


def exact_match(y_true, y_pred, X=None, model=None) -> float:
    """Share of rows whose answer equals the target exactly."""
    truth, answers = documents(y_true), documents(y_pred)
    return float(np.mean([a == b for a, b in zip(answers, truth, strict=True)])) if truth else math.nan


def task_exact_match(task: str):
    """Exact match over the rows whose source's prefix names ``task`` (NaN where there are none)."""

    def metric(y_true, y_pred, X=None, model=None) -> float:
        rows = [i for i, source in enumerate(documents(X)) if task_of(source) == task]
        truth, answers = documents(y_true), documents(y_pred)
        return exact_match([truth[i] for i in rows], [answers[i] for i in rows])

    metric.__name__ = f"exact_match_{task}"
    return metric


METRICS = {"exact_match": (exact_match, True)} | {
    f"exact_match_{task}": (task_exact_match(task), True) for task in TASKS
}
