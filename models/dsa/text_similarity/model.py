"""Text similarity from scratch: edit distance and longest common subsequence, and a near-duplicate
detector built on them.

Two ways to the same numbers:

* dynamic programming with backtrace (``edit_script``, ``lcs``): the full table, filled one row at
  a time with NumPy (the insertion chain of a row is a running minimum, the LCS row a running
  maximum), then walked back from the corner to recover the edits or the subsequence;
* bit-parallel (``levenshtein``, ``lcs_length``): each DP column packed into one Python integer,
  Myers/Hyyro for edit distance and Allison-Dix/Hyyro for LCS, so a pair of sentences costs a few
  hundred integer operations. These are what the detector uses.

``similarity`` "lcs" is ``2 LCS / (|a| + |b|)`` (rapidfuzz's ``fuzz.ratio`` / 100, the indel
similarity); "edit" is ``1 - lev / max(|a|, |b|)``. ``DuplicateDetector`` learns the similarity
threshold that maximizes F1 on labeled pairs; ``find_near_duplicates`` scans a corpus, comparing
only pairs that share a rare character trigram.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from models.base import require_fitted

MEASURES = ("lcs", "edit")


# -- dynamic programming with backtrace -------------------------------------------------------------
def edit_table(a: str, b: str) -> np.ndarray:
    """D[i, j] = edit distance between a[:i] and b[:j] (insert, delete, substitute: cost 1)."""
    codes_b = np.array([ord(c) for c in b])
    D = np.empty((len(a) + 1, len(b) + 1), dtype=np.int64)
    D[0] = np.arange(len(b) + 1)
    positions = np.arange(len(b) + 1)
    for i, char in enumerate(a, start=1):
        row = np.empty(len(b) + 1, dtype=np.int64)
        row[0] = i
        row[1:] = np.minimum(D[i - 1, 1:] + 1, D[i - 1, :-1] + (codes_b != ord(char)))  # delete, substitute
        D[i] = np.minimum.accumulate(row - positions) + positions  # insertions: a running minimum
    return D


def edit_script(a: str, b: str) -> tuple[int, list[tuple[str, int, str]]]:
    """The distance and one optimal list of edits turning ``a`` into ``b``: (op, position in a, char)."""
    D = edit_table(a, b)
    i, j, script = len(a), len(b), []
    while i or j:
        if i and j and D[i, j] == D[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            if a[i - 1] != b[j - 1]:
                script.append(("substitute", i - 1, b[j - 1]))
            i, j = i - 1, j - 1
        elif i and D[i, j] == D[i - 1, j] + 1:
            script.append(("delete", i - 1, a[i - 1]))
            i -= 1
        else:
            script.append(("insert", i, b[j - 1]))
            j -= 1
    return int(D[-1, -1]), script[::-1]


def apply_script(a: str, script: list[tuple[str, int, str]]) -> str:
    """Replay an edit script (positions refer to ``a``) to check a backtrace."""
    out, cursor = [], 0
    for op, position, char in script:
        out.append(a[cursor:position])
        cursor = position
        if op == "insert":
            out.append(char)
        elif op == "substitute":
            out.append(char)
            cursor += 1
        else:
            cursor += 1
    out.append(a[cursor:])
    return "".join(out)


def lcs_table(a: str, b: str) -> np.ndarray:
    codes_b = np.array([ord(c) for c in b])
    L = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    for i, char in enumerate(a, start=1):
        candidates = np.maximum(L[i - 1, 1:], np.where(codes_b == ord(char), L[i - 1, :-1] + 1, 0))
        L[i, 1:] = np.maximum.accumulate(candidates)  # L[i, j-1] carried along: a running maximum
    return L


def lcs(a: str, b: str) -> str:
    """One longest common subsequence, by backtrace through the table."""
    L = lcs_table(a, b)
    i, j, out = len(a), len(b), []
    while i and j:
        if a[i - 1] == b[j - 1] and L[i, j] == L[i - 1, j - 1] + 1:
            out.append(a[i - 1])
            i, j = i - 1, j - 1
        elif L[i - 1, j] >= L[i, j - 1]:
            i -= 1
        else:
            j -= 1
    return "".join(reversed(out))


# -- bit-parallel ----------------------------------------------------------------------------------
def _masks(a: str) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, char in enumerate(a):
        masks[char] = masks.get(char, 0) | (1 << i)
    return masks


def lcs_length(a: str, b: str) -> int:
    """Allison-Dix / Hyyro: V's zero bits count the LCS; one addition per character of ``b``."""
    if not a or not b:
        return 0
    masks, full = _masks(a), (1 << len(a)) - 1
    V = full
    for char in b:
        U = V & masks.get(char, 0)
        V = ((V + U) | (V - U)) & full
    return len(a) - V.bit_count()


def levenshtein(a: str, b: str) -> int:
    """Myers / Hyyro: the vertical deltas of a DP column as two bit vectors (+1 and -1)."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    masks, full, high = _masks(a), (1 << len(a)) - 1, 1 << (len(a) - 1)
    plus, minus, score = full, 0, len(a)
    for char in b:
        eq = masks.get(char, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        h_plus = minus | (~(xh | plus) & full)
        h_minus = plus & xh
        if h_plus & high:
            score += 1
        elif h_minus & high:
            score -= 1
        h_plus = ((h_plus << 1) | 1) & full
        h_minus = (h_minus << 1) & full
        plus = h_minus | (~(xv | h_plus) & full)
        minus = h_plus & xv
    return score


def similarity(a: str, b: str, measure: str = "lcs") -> float:
    if not a and not b:
        return 1.0
    if measure == "lcs":
        return 2.0 * lcs_length(a, b) / (len(a) + len(b))
    return 1.0 - levenshtein(a, b) / max(len(a), len(b))


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold on ``scores`` (duplicate when score >= threshold) with the highest F1."""
    order = np.argsort(-scores)
    ranked, positives = labels[order] == 1, max(int((labels == 1).sum()), 1)
    true_positives = np.cumsum(ranked)
    f1 = 2 * true_positives / (np.arange(1, len(scores) + 1) + positives)
    cut = int(np.argmax(f1))
    below = scores[order[cut + 1]] if cut + 1 < len(scores) else scores[order[cut]] - 1e-9
    return float((scores[order[cut]] + below) / 2)


def pairs(X) -> list[tuple[str, str]]:
    X = np.asarray(X, dtype=object)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"a duplicate detector takes pairs of texts: 2 columns, got shape {X.shape}")
    return [(str(a), str(b)) for a, b in X]


class DuplicateDetector(ClassifierMixin, BaseEstimator):
    """Is the second text a near-duplicate of the first? ``similarity`` >= a threshold learned on
    labeled pairs (maximum F1), or the given ``threshold``. Texts are compared lower-cased."""

    def __init__(self, measure: str = "lcs", threshold: float | None = None, random_state: int | None = None):
        self.measure = measure
        self.threshold = threshold
        self.random_state = random_state

    def scores(self, X) -> np.ndarray:
        return np.array([similarity(a.lower(), b.lower(), self.measure) for a, b in pairs(X)])

    def fit(self, X, y):
        if self.measure not in MEASURES:
            raise ValueError(f"measure must be one of {MEASURES}, got {self.measure!r}")
        y = np.asarray(y).ravel()
        self.classes_ = np.array([0, 1])
        self.threshold_ = self.threshold if self.threshold is not None else best_threshold(self.scores(X), y)
        return self

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "threshold_")
        return (self.scores(X) >= self.threshold_).astype(np.int64)


def find_near_duplicates(texts: list[str], threshold: float, measure: str = "lcs", max_df: int = 10, n: int = 3):
    """Index pairs (i < j) of ``texts`` at least ``threshold`` similar. Only pairs sharing a character
    ``n``-gram that occurs in at most ``max_df`` texts are compared (blocking): a near-duplicate keeps
    many of its original's n-grams even where typos broke most of its words."""
    lowered = [text.lower() for text in texts]
    postings: dict[str, list[int]] = {}
    for index, text in enumerate(lowered):
        for gram in {text[k : k + n] for k in range(len(text) - n + 1)}:
            postings.setdefault(gram, []).append(index)
    candidates = set()
    for documents in postings.values():
        if 1 < len(documents) <= max_df:
            candidates.update(combinations(documents, 2))
    return sorted((i, j) for i, j in candidates if similarity(lowered[i], lowered[j], measure) >= threshold)
