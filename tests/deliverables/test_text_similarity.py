"""The ``text_similarity`` deliverable: dynamic programming and bit-parallel string algorithms against rapidfuzz."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from models.dsa.text_similarity import model as ts
from models.dsa.text_similarity.data import corrupt

texts = st.text(alphabet="abcde ", max_size=70)

unicode_texts = st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(texts, texts)
def test_edit_distance_dp_bit_parallel_and_rapidfuzz_agree(a, b):
    distance, script = ts.edit_script(a, b)
    assert distance == ts.levenshtein(a, b) == Levenshtein.distance(a, b)
    assert ts.apply_script(a, script) == b  # the backtrace is a real edit sequence of that length
    assert len(script) == distance


@settings(max_examples=300, deadline=None)
@given(unicode_texts, unicode_texts)
def test_lcs_backtrace_and_bit_parallel_length_agree_and_match_rapidfuzz_ratio(a, b):
    common = ts.lcs(a, b)
    assert len(common) == ts.lcs_length(a, b) == ts.lcs_table(a, b)[-1, -1]
    iterator = iter(b)
    assert all(char in iterator for char in common)  # a subsequence of b
    iterator = iter(a)
    assert all(char in iterator for char in common)  # and of a
    assert abs(ts.similarity(a, b) - fuzz.ratio(a, b) / 100) < 1e-9


def test_learned_threshold_maximizes_f1():
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.4, 0.3])
    labels = np.array([1, 1, 1, 0, 1, 0])
    threshold = ts.best_threshold(scores, labels)
    assert 0.7 < threshold < 0.8 or 0.3 < threshold < 0.4  # both give F1 = 6/7
    predicted = (scores >= threshold).astype(int)
    assert 2 * (predicted & labels).sum() / (predicted.sum() + labels.sum()) == max(
        2 * ((scores >= t) & (labels == 1)).sum() / ((scores >= t).sum() + labels.sum()) for t in scores
    )


def test_corpus_detector_finds_planted_near_duplicates():
    rng = np.random.default_rng(0)
    words = ["film", "story", "actor", "moving", "dull", "script", "scene", "music", "plot", "end"]
    corpus = [" ".join(rng.choice(words, 12)) + f" number {i}" for i in range(60)]
    planted = {(i, len(corpus) + k) for k, i in enumerate(range(0, 60, 6))}
    corpus += [corrupt(corpus[i], 0.05, rng) for i in range(0, 60, 6)]
    found = set(ts.find_near_duplicates(corpus, threshold=0.9, max_df=20))
    assert planted <= found
