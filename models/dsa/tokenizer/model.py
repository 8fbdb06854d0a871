"""A byte-pair-encoding tokenizer and a trie for autocomplete, from scratch.

BPE (byte level, as GPT-2): text is split into pre-tokens by GPT-2's pattern (a word with its
leading space, a number, a run of punctuation, whitespace), each pre-token is its UTF-8 bytes
(256 base tokens, so any text round-trips exactly), and training merges the most frequent
adjacent pair again and again until ``vocab_size`` tokens exist. Pair counts are kept
incrementally: a merge only revisits the word types that contain the merged pair, found through
an index from pair to words. Encoding applies the learned merges in the order they were learned
(lowest rank first), with a cache per pre-token.

``Trie``: prefix tree of the training words with their counts; ``complete`` returns the most
frequent completions of a prefix (a heap over the prefix's subtree).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter

import numpy as np
import regex
from sklearn.base import BaseEstimator, TransformerMixin

from models.base import require_fitted
from models.text import documents

#: GPT-2's pre-tokenizer (also the one of Hugging Face's ByteLevel pre-tokenizer).
PRETOKEN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


class Trie:
    def __init__(self):
        self.root: dict = {}

    def insert(self, word: str, count: int = 1) -> None:
        node = self.root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = node.get("", 0) + count  # "" marks the end of a word and holds its count

    def count(self, word: str) -> int:
        node = self._find(word)
        return 0 if node is None else node.get("", 0)

    def _find(self, prefix: str):
        node = self.root
        for char in prefix:
            node = node.get(char)
            if node is None:
                return None
        return node

    def complete(self, prefix: str, k: int = 5) -> list[tuple[str, int]]:
        """The ``k`` most frequent words starting with ``prefix`` (ties: alphabetical)."""
        node = self._find(prefix)
        if node is None:
            return []
        found, stack = [], [(prefix, node)]
        while stack:
            word, current = stack.pop()
            for char, child in current.items():
                if char == "":
                    found.append((-child, word))
                else:
                    stack.append((word + char, child))
        return [(word, -negative) for negative, word in heapq.nsmallest(k, found)]


def _merge(word: tuple[int, ...], pair: tuple[int, int], new: int) -> tuple[int, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


class BPETokenizer(TransformerMixin, BaseEstimator):
    """Fitted: ``merges_`` (pair -> new token id, in learning order), ``vocab_`` (id -> bytes),
    ``trie_`` (the training words). ``transform`` gives token ids per text, ``decode`` the text."""

    def __init__(self, vocab_size: int = 1000, random_state: int | None = None):
        self.vocab_size = vocab_size
        self.random_state = random_state

    def fit(self, X, y=None):
        if self.vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), got {self.vocab_size}")
        texts = documents(X)
        pretokens = Counter(piece for text in texts for piece in PRETOKEN.findall(text))
        self.trie_ = Trie()
        for piece, count in pretokens.items():
            if piece.strip():
                self.trie_.insert(piece.strip().lower(), count)
        words = [tuple(piece.encode("utf-8")) for piece in pretokens]
        counts = list(pretokens.values())
        pairs: Counter = Counter()
        where: dict[tuple[int, int], set[int]] = {}
        for index, word in enumerate(words):
            for pair in itertools.pairwise(word):
                pairs[pair] += counts[index]
                where.setdefault(pair, set()).add(index)
        self.vocab_ = {i: bytes([i]) for i in range(256)}
        self.merges_: dict[tuple[int, int], int] = {}
        # A max-heap of (count, pair) with lazy deletion: a changed count pushes a fresh entry, and a
        # popped entry whose count is no longer current is dropped. Ties go to the smallest pair.
        heap = [(-count, pair) for pair, count in pairs.items()]
        heapq.heapify(heap)
        while len(self.vocab_) < self.vocab_size and heap:
            negative, best = heapq.heappop(heap)
            if pairs.get(best) != -negative:
                continue  # stale
            if -negative < 2:
                break  # a pair seen once compresses nothing it has not seen
            new = len(self.vocab_)
            self.merges_[best] = new
            self.vocab_[new] = self.vocab_[best[0]] + self.vocab_[best[1]]
            changed = set()
            for index in where.pop(best, set()):
                old, count = words[index], counts[index]
                for pair in itertools.pairwise(old):
                    pairs[pair] -= count
                    changed.add(pair)
                merged = _merge(old, best, new)
                words[index] = merged
                for pair in itertools.pairwise(merged):
                    pairs[pair] += count
                    where.setdefault(pair, set()).add(index)
                    changed.add(pair)
            for pair in changed:
                if pairs[pair] > 0:
                    heapq.heappush(heap, (-pairs[pair], pair))
                else:
                    del pairs[pair]
        self._cache: dict[str, list[int]] = {}
        return self

    def _encode_piece(self, piece: str) -> list[int]:
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        word = tuple(piece.encode("utf-8"))
        while len(word) > 1:
            ranked = [(self.merges_.get(pair, float("inf")), pair) for pair in itertools.pairwise(word)]
            rank, pair = min(ranked)
            if rank == float("inf"):
                break
            word = _merge(word, pair, self.merges_[pair])
        self._cache[piece] = list(word)
        return self._cache[piece]

    def encode(self, text: str) -> list[int]:
        require_fitted(self, "merges_")
        return [token for piece in PRETOKEN.findall(text) for token in self._encode_piece(piece)]

    def decode(self, ids) -> str:
        return b"".join(self.vocab_[int(i)] for i in ids).decode("utf-8", errors="replace")

    def transform(self, X) -> np.ndarray:
        encoded = np.empty(len(texts := documents(X)), dtype=object)
        encoded[:] = [self.encode(text) for text in texts]
        return encoded

    def inverse_transform(self, encoded) -> np.ndarray:
        return np.array([self.decode(ids) for ids in encoded], dtype=object)

    def complete(self, prefix: str, k: int = 5) -> list[tuple[str, int]]:
        return self.trie_.complete(prefix.lower(), k)

    def __getstate__(self):
        return {key: value for key, value in self.__dict__.items() if key != "_cache"}

    def __setstate__(self, state):
        self.__dict__.update(state, _cache={})
