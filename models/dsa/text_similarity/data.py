"""The text-similarity deliverable's data: movie-review sentence pairs, near-duplicates planted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from s2p.sources import movie_reviews


def corrupt(text: str, rate: float, rng) -> str:
    """A near-duplicate: each character typed wrong with probability ``rate`` (dropped, doubled,
    replaced by a neighbour letter, or swapped with the next), as a copy-edited or re-scraped text."""
    out, i = [], 0
    letters = "abcdefghijklmnopqrstuvwxyz"
    while i < len(text):
        char = text[i]
        if rng.random() >= rate:
            out.append(char)
        else:
            kind = rng.integers(4)
            if kind == 1:
                out.append(char * 2)
            elif kind == 2:
                out.append(letters[rng.integers(26)])
            elif kind == 3 and i + 1 < len(text):
                out.append(text[i + 1] + char)
                i += 1
        i += 1
    return "".join(out) or text


def review_pairs(count: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Pairs of movie-review sentences: a sentence and a corrupted copy (duplicate, 1), or a sentence
    and another one (0), half of those the other sentence sharing the most words with it."""
    texts = movie_reviews()["text"].drop_duplicates().tolist()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(texts), size=min(2 * count, len(texts)), replace=False)
    anchors, pool = [texts[i] for i in chosen[:count]], [texts[i] for i in chosen[count:]]
    pool_words = [set(text.lower().split()) for text in pool]
    rows = []
    for index, text in enumerate(anchors):
        rows.append((text, corrupt(text, float(rng.uniform(0.05, 0.5)), rng), 1))
        if index % 2:
            words = set(text.lower().split())
            sample = rng.choice(len(pool), size=min(200, len(pool)), replace=False)
            other = pool[max(sample, key=lambda k: len(words & pool_words[k]))]  # a hard negative
        else:
            other = pool[int(rng.integers(len(pool)))]
        rows.append((text, other, 0))
    return pd.DataFrame(rows, columns=["text_a", "text_b", "is_duplicate"]).astype({"is_duplicate": "int64"})
