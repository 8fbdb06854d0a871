"""The attention deliverable's data: generated digit sequences and their copy, reversal or sorted order."""

from __future__ import annotations

import numpy as np
import pandas as pd


def toy_sequences(task: str, count: int = 5000, length: int = 8, vocabulary: int = 10, seed: int = 0) -> pd.DataFrame:
    """Random sequences of digits and their copy, reversal or sorted order (the attention task)."""
    answers = {"copy": lambda x: x, "reverse": lambda x: x[:, ::-1], "sort": lambda x: np.sort(x, axis=1)}
    if task not in answers:
        raise ValueError(f"task must be one of {sorted(answers)}, got {task!r}")
    sequences = np.random.default_rng(seed).integers(0, vocabulary, (count, length))
    target = answers[task](sequences)
    return pd.DataFrame({"sequence": list(sequences.astype(np.float64)), "answer": list(target.astype(np.float64))})


def sort_sequences() -> pd.DataFrame:
    """5000 sequences of 8 digits and the same digits sorted."""
    return toy_sequences("sort")


def reverse_sequences() -> pd.DataFrame:
    """5000 sequences of 8 digits and the same digits reversed."""
    return toy_sequences("reverse")


def copy_sequences() -> pd.DataFrame:
    """5000 sequences of 8 digits, each its own answer."""
    return toy_sequences("copy")
