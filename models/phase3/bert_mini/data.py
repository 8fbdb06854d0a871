"""The text of BERT-mini: its tokenizer (the project's byte-level BPE with BERT's special tokens) and the
unlabeled text it is pretrained on besides the training sentences.

Pretraining reads the training split's movie-review sentences without their labels, and the extra texts
named in ``extra_text``: ``neutral_reviews`` (the 562 snippets of the same file whose raters did not agree
on a direction: never in the sentiment task, so never in its test split), ``shakespeare`` (the
public-domain corpus committed for gpt_mini, one line a text). gensim's bundled text8 head and lee corpus
(DATA.md) would be the general English text, but gensim is not installed in this project's environment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.dsa.tokenizer.model import BPETokenizer, Trie
from models.text import documents

REVIEWS = Path(__file__).resolve().parents[3] / "datasets" / "movie_reviews.tsv.gz"
#: BERT's special tokens, ids 0-3; the BPE tokens follow them.
SPECIALS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]")
PAD, CLS, SEP, MASK = range(len(SPECIALS))
EXTRA_TEXTS = ("neutral_reviews", "shakespeare")


class EmptyTextError(ValueError):
    """A text that holds no characters but white space: nothing to classify or to learn from."""


def neutral_reviews() -> list[str]:
    """The movie-review snippets with a mean rating within [-0.5, 0.5] (s2p.sources.movie_reviews leaves
    them out of the sentiment task): unlabeled in-domain text."""
    import pandas as pd

    frame = pd.read_csv(REVIEWS, sep="\t", dtype={"id": "int64", "score": "float64", "text": "string"})
    return frame.loc[frame["score"].abs() <= 0.5, "text"].astype(str).tolist()


def shakespeare_lines() -> list[str]:
    """The non-blank lines of gpt_mini's Shakespeare corpus."""
    from models.phase3.gpt_mini.data import shakespeare

    return [line.strip() for line in shakespeare().split("\n") if line.strip()]


def extra_texts(names: Sequence[str]) -> list[str]:
    """The unlabeled texts named (``EXTRA_TEXTS``), in the order named."""
    loaders = {"neutral_reviews": neutral_reviews, "shakespeare": shakespeare_lines}
    unknown = [name for name in names if name not in loaders]
    if unknown:
        raise ValueError(f"unknown extra_text {unknown}; known: {list(EXTRA_TEXTS)}")
    return [text for name in names for text in loaders[name]()]


def sentences(X) -> list[str]:
    """The texts of X (a column of strings or a 1-D sequence), refused by name when one is blank."""
    texts = documents(X)
    if not texts:
        raise ValueError("no texts given")
    blank = [i for i, text in enumerate(texts) if not text.strip()]
    if blank:
        raise EmptyTextError(f"{len(blank)} empty sentence(s) (only white space), first at row {blank[0]}")
    return texts


class BertTokenizer(BaseEstimator):
    """Byte-level BPE (models/dsa/tokenizer) under BERT's specials: ids 0-3 are [PAD] [CLS] [SEP] [MASK],
    BPE token ``t`` is id ``t + 4``. Texts are lower-cased first when ``lowercase`` (an uncased BERT).

    Fitted: ``bpe_`` (the BPE tokenizer). ``encode_batch`` gives [CLS] tokens [SEP], cut to ``max_len``.
    """

    n_special = len(SPECIALS)

    def __init__(self, vocab_size: int = 2000, lowercase: bool = True):
        self.vocab_size = vocab_size
        self.lowercase = lowercase

    def fit(self, texts: Sequence[str]) -> BertTokenizer:
        self.bpe_ = BPETokenizer(vocab_size=self.vocab_size).fit(self._cased(list(texts)))
        return self

    @property
    def n_tokens(self) -> int:
        """The network's vocabulary: the specials and the BPE tokens learned."""
        require_fitted(self, "bpe_")
        return self.n_special + len(self.bpe_.vocab_)

    def _cased(self, texts: list[str]) -> list[str]:
        return [text.lower() for text in texts] if self.lowercase else texts

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``'s tokens, no specials."""
        require_fitted(self, "bpe_")
        return [token + self.n_special for token in self.bpe_.encode(self._cased([text])[0])]

    def encode_batch(self, texts: Sequence[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, max_len) int64 ids of [CLS] tokens [SEP] (tokens cut to fit), [PAD] after; and the lengths."""
        if max_len < 3:
            raise ValueError(f"max_len must leave room for [CLS], a token and [SEP] (>= 3), got {max_len}")
        ids = np.full((len(texts), max_len), PAD, dtype=np.int64)
        lengths = np.empty(len(texts), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = [CLS, *self.encode(text)[: max_len - 2], SEP]
            ids[row, : len(tokens)] = tokens
            lengths[row] = len(tokens)
        return ids, lengths

    def decode(self, ids) -> str:
        """Text of the BPE ids among ``ids``; specials are written by name."""
        require_fitted(self, "bpe_")
        parts, run = [], []
        for i in (int(i) for i in ids):
            if i < self.n_special:
                parts.append(self.bpe_.decode(run))
                parts.append(SPECIALS[i])
                run = []
            else:
                run.append(i - self.n_special)
        return "".join([*parts, self.bpe_.decode(run)])

    def to_json(self) -> str:
        require_fitted(self, "bpe_")
        merges = [[a, b, new] for (a, b), new in self.bpe_.merges_.items()]
        return json.dumps({"kind": "bert_bpe", "vocab_size": self.vocab_size, "lowercase": self.lowercase,
                           "merges": merges})  # fmt: skip

    @classmethod
    def from_json(cls, document: str) -> BertTokenizer:
        state = json.loads(document)
        if state.get("kind") != "bert_bpe" or not isinstance(state.get("merges"), list):
            raise ValueError("not a BertTokenizer document (needs kind 'bert_bpe' and its merges)")
        tokenizer = cls(state["vocab_size"], state["lowercase"])
        bpe = BPETokenizer(vocab_size=state["vocab_size"])
        bpe.vocab_ = {i: bytes([i]) for i in range(256)}
        bpe.merges_ = {}
        for a, b, new in state["merges"]:  # in learning order: each merge's parts exist before it
            bpe.merges_[(a, b)] = new
            bpe.vocab_[new] = bpe.vocab_[a] + bpe.vocab_[b]
        bpe.trie_ = Trie()  # autocomplete's word counts are not part of a tokenizer for a network
        bpe.__setstate__({})
        tokenizer.bpe_ = bpe
        return tokenizer
