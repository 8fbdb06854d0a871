"""The ``tokenizer`` deliverable: byte-level BPE against Hugging Face's, and the completion trie."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def trained():
    from models.dsa.tokenizer.model import BPETokenizer
    from models.dsa.tokenizer.reference import HuggingFaceBPE
    from s2p.sources import movie_reviews

    texts = movie_reviews()["text"].to_numpy(object)[:, None]
    return texts[:3000], texts[3000:3500], BPETokenizer(600).fit(texts[:3000]), HuggingFaceBPE(600).fit(texts[:3000])


def gpt2_byte_alphabet() -> dict[str, int]:
    """Hugging Face's byte-level BPE writes byte b as a printable character; invert that mapping."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    characters, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            characters[chr(byte)] = byte
        else:
            characters[chr(256 + extra)] = byte
            extra += 1
    return characters


def test_bpe_learns_the_same_vocabulary_as_hugging_face(trained):
    _, test, ours, theirs = trained
    alphabet = gpt2_byte_alphabet()
    their_tokens = {bytes(alphabet[c] for c in token) for token in theirs.tokenizer_.get_vocab()}
    assert set(ours.vocab_.values()) == their_tokens
    ours_lengths = [len(ids) for ids in ours.transform(test)]
    their_lengths = [len(ids) for ids in theirs.transform(test)]
    assert ours_lengths == their_lengths  # the same segmentation of every test sentence


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_bpe_round_trips_any_text_exactly(text):
    from models.dsa.tokenizer.model import BPETokenizer

    model = BPETokenizer(300).fit(["the cat sat on the mat", "the dog ate the hat, twice"])
    assert model.decode(model.encode(text)) == text


def test_bpe_compresses_and_never_exceeds_the_vocabulary(trained):
    _, test, ours, _ = trained
    encoded = ours.transform(test)
    assert max(max(ids) for ids in encoded) < 600
    characters = sum(len(text) for text in test[:, 0])
    assert characters / sum(len(ids) for ids in encoded) > 2.0  # bytes alone would give 1.0


def test_trie_completions_are_the_most_frequent_words_with_the_prefix():
    from collections import Counter

    from models.dsa.tokenizer.model import Trie

    words = Counter(
        ["the", "then", "there", "these", "theme", "them", "tea", "team", "the", "then", "the", "a", "an", "and"]
    )
    trie = Trie()
    for word, count in words.items():
        trie.insert(word, count)
    expected = sorted(((w, c) for w, c in words.items() if w.startswith("the")), key=lambda wc: (-wc[1], wc[0]))
    assert trie.complete("the", 3) == expected[:3]
    assert trie.complete("zzz") == [] and trie.count("then") == 2
