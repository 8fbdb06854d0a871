"""Sentences to token ids for the transformer classifier: the project's tokenizer (models/text.py) and a
word vocabulary of the training sentences, with three reserved ids.

The data itself is the shared movie-review sentences (s2p.sources:movie_reviews, declared in
deliverable.py). A sentence becomes ``[CLS] w1 w2 ... wn`` (at most ``max_len`` ids, [CLS] included),
unknown words ``[UNK]``, padded with ``[PAD]`` to the longest sentence of the batch. [CLS] is always
there, so a sentence whose words are all unknown, or that has none the tokenizer keeps ("?!"), still
has a position every query can attend to.
"""

from __future__ import annotations

import numpy as np

from models.text import Counts, documents, tokenize

PAD, UNK, CLS = 0, 1, 2
SPECIAL = ("[PAD]", "[UNK]", "[CLS]")


class EmptySentenceError(ValueError):
    """A sentence with nothing in it (empty or only whitespace)."""


def sentences(X) -> list[str]:
    """The texts of X (one text column, or a 1-D sequence of strings), refusing empty ones by row."""
    texts = documents(X)
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        raise EmptySentenceError(f"{len(empty)} empty sentence(s) (only whitespace or nothing), row(s) {empty[:5]}")
    return texts


class WordVocabulary:
    """The words of the training sentences seen in at least ``min_df`` of them, after the reserved ids."""

    def __init__(self, texts: list[str], min_df: int = 2):
        words = Counts(texts, min_df).vocabulary  # sorted word -> index
        self.index = {word: i + len(SPECIAL) for word, i in words.items()}
        self.words = [*SPECIAL, *sorted(words, key=words.get)]

    def __len__(self) -> int:
        return len(self.words)

    def tokens(self, text: str, max_len: int) -> list[str]:
        """What the model reads of ``text``: [CLS] and its first ``max_len - 1`` words (unknown ones kept as words)."""
        return [SPECIAL[CLS], *tokenize(text)[: max_len - 1]]

    def encode(self, texts: list[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids (n, longest) padded with PAD, and each sentence's length in ids."""
        rows = [[CLS, *(self.index.get(word, UNK) for word in tokenize(text)[: max_len - 1])] for text in texts]
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        ids = np.full((len(rows), int(lengths.max(initial=1))), PAD, dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return ids, lengths
