"""Documents, queries and relevance labels for hybrid search, all read off WordNet 3.0's nouns.

A document is one noun synset: its title is the synset's lemma names ("dog, domestic dog, Canis
familiaris"), its text the synset's gloss (the definition and its example sentences). A synset whose
gloss has example sentences gives one query: its last example sentence, *held out* of the document
(the document keeps the definition and the other examples). The labels are WordNet's own structure:

    grade 2  the synset the sentence was written for (WordNet's editors put it in that gloss),
    grade 1  that synset's direct hypernyms (``@`` and instance ``@i`` pointers), a broader but
             correct answer ("the dog barked all night" is also about a canine).

Why the labels cannot favour any retriever: they are fixed by which gloss a lexicographer wrote the
sentence under and by the hypernym pointers, both decided in 2006, before and apart from any
retriever here. Nothing ranked, scored or embedded takes part in building them, and the same table
is handed to BM25, the dense retriever and both fusions. The builder only *drops* candidate queries,
by rules that read the text and no score: a sentence shorter than three words, and a sentence that
still occurs verbatim in some document (in another gloss, or repeated in its own), because an exact
copy would make that other document a correct answer the labels do not name, and a query that is a
substring of its own relevant document would test string matching rather than retrieval.

``build_subset`` reads the Debian package ``wordnet-base`` (``/usr/share/wordnet/data.noun``) once
and writes the small committed file ``data/wordnet_nouns.jsonl.gz`` (every noun synset with example
sentences, their hypernyms, and other noun synsets as distractors, in a seeded random order);
``documents`` and ``queries`` read that file, so nothing is downloaded at run time.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

SUBSET = Path(__file__).parent / "data" / "wordnet_nouns.jsonl.gz"
WORDNET_DIR = Path("/usr/share/wordnet")
HYPERNYM_POINTERS = ("@", "@i")
QUOTED = re.compile(r'"([^"]*)"')
WORD = re.compile(r"[A-Za-z0-9]+")
MIN_QUERY_WORDS = 3


@dataclass
class Synset:
    """One noun synset of WordNet: id ``n<offset>``, lemma names, definition, examples, hypernym ids."""

    synset_id: str
    lemmas: list[str]
    definition: str
    examples: list[str]
    hypernyms: list[str] = field(default_factory=list)
    held_out: str | None = None  # the example sentence kept out of the document
    is_query: bool = False  # whether ``held_out`` is a query (see the rules in the module docstring)


def parse_data_line(line: str) -> Synset:
    """One line of WordNet's ``data.noun`` (format: wndb(5WN)) as a Synset."""
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    offset, n_words = fields[0], int(fields[3], 16)
    lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
    lemmas = [re.sub(r"\([a-z]+\)$", "", lemma) for lemma in lemmas]  # adjective markers, e.g. (p)
    position = 4 + 2 * n_words
    n_pointers = int(fields[position])
    pointers = [fields[position + 1 + 4 * i : position + 5 + 4 * i] for i in range(n_pointers)]
    hypernyms = [f"n{target}" for symbol, target, pos, _ in pointers if symbol in HYPERNYM_POINTERS and pos == "n"]
    gloss = gloss.strip()
    first_quote = gloss.find('"')
    definition = (gloss if first_quote < 0 else gloss[:first_quote]).strip().rstrip(";").strip()
    examples = [example.strip() for example in QUOTED.findall(gloss) if example.strip()]
    return Synset(f"n{offset}", lemmas, definition, examples, hypernyms)


def read_nouns(wordnet_dir: Path = WORDNET_DIR) -> Iterator[Synset]:
    """Every noun synset of ``data.noun`` (the license header, lines starting with spaces, skipped)."""
    with open(wordnet_dir / "data.noun", encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith("  "):
                yield parse_data_line(line)


def document_text(synset: Synset) -> str:
    """The gloss as the document holds it: the definition and the examples that were not held out."""
    kept = [f'"{example}"' for example in synset.examples if example != synset.held_out]
    return "; ".join([synset.definition, *kept])


def build_subset(
    wordnet_dir: Path = WORDNET_DIR, out: Path = SUBSET, n_documents: int = 24_000, seed: int = 0
) -> dict[str, int]:
    """Write the committed subset: synsets with examples, their hypernyms, then seeded distractors.

    Returns counts (documents, queries) so the caller can report them.
    """
    nouns = {synset.synset_id: synset for synset in read_nouns(wordnet_dir)}
    with_examples = [s for s in nouns.values() if s.examples]
    chosen = {s.synset_id for s in with_examples}
    chosen |= {h for s in with_examples for h in s.hypernyms if h in nouns}
    rng = np.random.default_rng(seed)
    others = sorted(set(nouns) - chosen)
    n_extra = max(0, n_documents - len(chosen))
    chosen |= set(rng.choice(others, size=min(n_extra, len(others)), replace=False).tolist())
    order = sorted(chosen)
    rng.shuffle(order)
    for synset in with_examples:
        synset.held_out = synset.examples[-1]
        synset.is_query = len(WORD.findall(synset.held_out)) >= MIN_QUERY_WORDS
    corpus = "\n".join(
        (", ".join(nouns[i].lemmas) + " " + document_text(nouns[i])).lower() for i in order
    )  # one string: a query found in it occurs verbatim in some document
    for synset in with_examples:
        if synset.is_query and synset.held_out.lower() in corpus:
            synset.is_query = False
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as file:
        for synset_id in order:
            s = nouns[synset_id]
            hypernyms = [h for h in s.hypernyms if h in chosen]
            record = {"id": s.synset_id, "lemmas": s.lemmas, "definition": s.definition}
            record |= {"examples": s.examples, "hypernyms": hypernyms, "held_out": s.held_out, "is_query": s.is_query}
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {"documents": len(order), "queries": sum(nouns[i].is_query for i in order)}


@lru_cache(maxsize=4)
def synsets(path: Path = SUBSET) -> tuple[Synset, ...]:
    """The committed subset, in its stored (seeded random) order."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; build it with build_subset() from the wordnet-base package")
    with gzip.open(path, "rt", encoding="utf-8") as file:
        records = [json.loads(line) for line in file]
    return tuple(
        Synset(r["id"], r["lemmas"], r["definition"], r["examples"], r["hypernyms"], r["held_out"], r["is_query"])
        for r in records
    )


def _first(n_documents: int | None, path: Path) -> tuple[Synset, ...]:
    everything = synsets(path)
    if n_documents is not None and not 1 <= n_documents <= len(everything):
        raise ValueError(f"n_documents must be between 1 and {len(everything)}, got {n_documents}")
    return everything if n_documents is None else everything[:n_documents]


def documents(n_documents: int | None = None, path: Path = SUBSET) -> pd.DataFrame:
    """The first ``n_documents`` documents (all when None): columns doc_id, title, text."""
    chosen = _first(n_documents, path)
    return pd.DataFrame(
        {
            "doc_id": [s.synset_id for s in chosen],
            "title": [", ".join(s.lemmas) for s in chosen],
            "text": [document_text(s) for s in chosen],
        }
    )


def queries(n_documents: int | None = None, path: Path = SUBSET) -> pd.DataFrame:
    """The queries whose synset is among the first ``n_documents`` documents: columns query_id, text,
    relevant (a dict doc_id -> grade: 2 for the synset, 1 for each of its hypernyms in the set)."""
    chosen = _first(n_documents, path)
    present = {s.synset_id for s in chosen}
    rows = [
        {
            "query_id": f"q{s.synset_id}",
            "text": s.held_out,
            "relevant": {s.synset_id: 2} | {h: 1 for h in s.hypernyms if h in present},
        }
        for s in chosen
        if s.is_query
    ]
    return pd.DataFrame(rows, columns=["query_id", "text", "relevant"])
