"""The metrics of `whisper_mini`: word and character error rates, equal to jiwer's (its default
transforms: words split on whitespace; characters of the stripped text, spaces included), summed over
the corpus: total edits (substitutions + deletions + insertions) over total reference words or characters.

``wer`` and ``cer`` score the utterances by the held-out voices (data.HELD_OUT_VOICES: accents no model
trained on), which are the whole test split (etl's grouped split by ``speakers``); other rows are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.phase3.whisper_mini.data import HELD_OUT_VOICES


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions turning one into the other."""
    previous = list(range(len(hypothesis) + 1))
    for i, token in enumerate(reference, start=1):
        current = [i]
        for j, other in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (token != other)))
        previous = current
    return previous[-1]


def error_rate(references: Sequence[str], hypotheses: Sequence[str], unit: str = "word") -> float:
    """Total edits over total reference units (``word`` or ``char``), over all pairs."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references and {len(hypotheses)} hypotheses differ in number")

    def split(text: str) -> list[str]:
        return str(text).split() if unit == "word" else list(str(text).strip())

    edits = total = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        units = split(reference)
        if not units:
            raise ValueError(f"an empty reference transcript cannot be scored: {reference!r}")
        edits += edit_distance(units, split(hypothesis))
        total += len(units)
    if total == 0:
        raise ValueError("no reference transcripts to score")
    return edits / total


def held_out(X) -> np.ndarray:
    """Which rows are spoken by a held-out voice (X: the utterances record array)."""
    return np.isin(np.asarray(X["voice"]), list(HELD_OUT_VOICES))


def _rate(y_true, y_pred, rows: np.ndarray, unit: str) -> float:
    if not rows.any():
        raise ValueError("no test utterances of this group of voices to score")
    return error_rate(list(np.asarray(y_true, dtype=object)[rows]), list(np.asarray(y_pred, dtype=object)[rows]), unit)


def wer(y_true, y_pred, X=None, model=None) -> float:
    return _rate(y_true, y_pred, held_out(X), "word")


def cer(y_true, y_pred, X=None, model=None) -> float:
    return _rate(y_true, y_pred, held_out(X), "char")


METRICS = {"wer": (wer, False), "cer": (cer, False)}
