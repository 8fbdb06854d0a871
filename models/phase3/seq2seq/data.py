"""The toy tasks of `seq2seq`, its character tokenizer and the denoising corruption of its pretraining.

Three tasks, generated (seeded) and mixed behind T5-style prefixes, one row per example, in a table with
a ``source`` and a ``target`` text column:

    add: 123+456          ->  579             (operands uniform in 0..999: up to 3 digits each)
    date: 2024-03-07      ->  7 March 2024    (ISO dates of 1900-2099)
    reverse: abcde        ->  edcba           (3 to 12 lower-case letters)

The tokenizer is gpt_mini's ``CharTokenizer`` (one id per character, fitted on the training texts)
behind four special ids: padding, the decoder's start, the end of a text and the mask of denoising.
``corrupt`` is BART's noise on one text's ids (word permutation, then span masking: text infilling).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from models.phase3.gpt_mini.data import CharTokenizer, UnknownCharacterError  # noqa: F401 (re-exported)

TASKS = ("addition", "date", "reverse")
PREFIXES = {"addition": "add: ", "date": "date: ", "reverse": "reverse: "}
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
REVERSE_LENGTHS = (3, 12)  # the shortest and longest reversed word, letters
FIRST_DAY, LAST_DAY = np.datetime64("1900-01-01"), np.datetime64("2099-12-31")
#: The longest source a model reads, in characters: the declared column bound and the default context.
CONTEXT = 32
#: Rows the loader generates; a run samples ``size`` of them (params.yaml).
ROWS = 200_000
SEED = 0

#: Special ids before the characters: padding, the decoder's first input, a text's end, a masked span.
PAD, BOS, EOS, MASK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<s>", "</s>", "<mask>")


class EmptySourceError(ValueError):
    """A source with no characters, or only spaces."""


class ContextLengthError(ValueError):
    """A text longer than the model's context."""


class SourceTooLongError(ContextLengthError):
    """A source longer than the encoder's context (``block_size`` characters)."""


class TargetTooLongError(ContextLengthError):
    """A target whose characters and end token do not fit the decoder's ``block_size`` positions."""


# -- the tasks -----------------------------------------------------------------------------------------
def addition_rows(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    a, b = rng.integers(0, 1000, size=(2, n))
    return [f"add: {x}+{y}" for x, y in zip(a, b, strict=True)], [str(x + y) for x, y in zip(a, b, strict=True)]


def date_rows(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    span = int((LAST_DAY - FIRST_DAY).astype(int)) + 1
    days = FIRST_DAY + rng.integers(0, span, size=n).astype("timedelta64[D]")
    sources, targets = [], []
    for day in days.astype(str):  # 'YYYY-MM-DD'
        year, month, dom = day.split("-")
        sources.append(f"date: {day}")
        targets.append(f"{int(dom)} {MONTHS[int(month) - 1]} {year}")
    return sources, targets


def reverse_rows(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    low, high = REVERSE_LENGTHS
    lengths = rng.integers(low, high + 1, size=n)
    words = ["".join(rng.choice(LETTERS, size=length)) for length in lengths]
    return [f"reverse: {word}" for word in words], [word[::-1] for word in words]


GENERATORS = {"addition": addition_rows, "date": date_rows, "reverse": reverse_rows}


def generate_tasks(n_rows: int, seed: int = SEED, tasks: Sequence[str] = TASKS) -> pd.DataFrame:
    """``n_rows`` examples, each task drawn uniformly per row, in a seeded order: columns source, target."""
    unknown = [task for task in tasks if task not in GENERATORS]
    if unknown or not tasks:
        raise ValueError(f"unknown task(s) {unknown}; known: {list(TASKS)}")
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(tasks), size=n_rows)
    sources = np.empty(n_rows, dtype=object)
    targets = np.empty(n_rows, dtype=object)
    for index, task in enumerate(tasks):
        rows = np.flatnonzero(which == index)
        sources[rows], targets[rows] = GENERATORS[task](rng, len(rows))
    return pd.DataFrame({"source": sources, "target": targets})


def toy_tasks() -> pd.DataFrame:
    """The deliverable's source: ``ROWS`` seeded examples of the three tasks (a run samples ``size``)."""
    return generate_tasks(ROWS, SEED)


def task_of(source: str) -> str | None:
    """The task a source's prefix names, or None."""
    for task, prefix in PREFIXES.items():
        if source.startswith(prefix):
            return task
    return None


# -- tokens ------------------------------------------------------------------------------------------
class Seq2SeqTokenizer:
    """gpt_mini's CharTokenizer behind the four special ids (``SPECIALS``): character ids start at 4.

    Fitted: ``chars_`` (the CharTokenizer). Unknown characters raise UnknownCharacterError.
    """

    def fit(self, texts: Iterable[str]) -> Seq2SeqTokenizer:
        self.chars_ = CharTokenizer().fit("".join(texts))
        return self

    @property
    def vocab_size(self) -> int:
        return len(SPECIALS) + self.chars_.vocab_size

    @property
    def alphabet(self) -> str:
        return self.chars_.alphabet_

    def encode(self, text: str) -> np.ndarray:
        return self.chars_.encode(text) + len(SPECIALS)

    def decode(self, ids: Iterable[int]) -> str:
        """The characters of ``ids`` up to the first end token; padding and start dropped, a mask as '_'."""
        out = []
        for i in (int(i) for i in ids):
            if i == EOS:
                break
            if i == MASK:
                out.append("_")
            elif i >= len(SPECIALS):
                out.append(self.chars_.decode([i - len(SPECIALS)]))
        return "".join(out)

    def to_json(self) -> str:
        return self.chars_.to_json()

    @classmethod
    def from_json(cls, document: str) -> Seq2SeqTokenizer:
        tokenizer = cls()
        tokenizer.chars_ = CharTokenizer.from_json(document)
        return tokenizer


def pad_rows(rows: Sequence[np.ndarray], length: int, start: bool = False, end: bool = False) -> np.ndarray:
    """The id rows (``BOS`` before and ``EOS`` after each when asked) right-padded with ``PAD``: (n, length)."""
    out = np.full((len(rows), length), PAD, dtype=np.int64)
    for index, row in enumerate(rows):
        ids = np.concatenate([[BOS] if start else [], row, [EOS] if end else []]).astype(np.int64)
        out[index, : len(ids)] = ids
    return out


# -- denoising -----------------------------------------------------------------------------------------
def corrupt(
    ids: np.ndarray,
    rng: np.random.Generator,
    space_id: int | None,
    mask_ratio: float = 0.3,
    mean_span: float = 3.0,
    shuffle_prob: float = 0.5,
) -> np.ndarray:
    """BART's noise on one text's ids: its words (split at ``space_id``) permuted with ``shuffle_prob``,
    then text infilling: spans of Poisson(``mean_span``) length (at least 1) replaced each by one ``MASK``
    until ``mask_ratio`` of the ids are masked. The denoiser reads this and writes the original ids."""
    ids = np.asarray(ids, dtype=np.int64)
    if space_id is not None and rng.random() < shuffle_prob:
        cuts = np.flatnonzero(ids == space_id)
        words = np.split(ids, cuts + 1)  # each word keeps its trailing space but the last
        words = [w[w != space_id] for w in words]
        if len(words) > 1:
            order = rng.permutation(len(words))
            joined = [np.append(words[i], space_id) for i in order]
            ids = np.concatenate(joined)[:-1]
    budget = round(mask_ratio * len(ids))
    masked = np.zeros(len(ids), dtype=bool)
    while masked.sum() < budget:
        span = max(1, min(int(rng.poisson(mean_span)), budget - int(masked.sum())))
        start = int(rng.integers(0, max(1, len(ids) - span + 1)))
        masked[start : start + span] = True
    if not masked.any():
        return ids
    starts = masked & ~np.concatenate([[False], masked[:-1]])  # the first id of each masked run
    keep = ~masked | starts
    return np.where(starts, MASK, ids)[keep]
