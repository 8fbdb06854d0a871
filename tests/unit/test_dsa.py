"""DSA interlude: dynamic programming and bit-parallel string algorithms against rapidfuzz."""

import numpy as np
import pytest
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


# -- tokenizer ---------------------------------------------------------------------------------------
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


# -- nearest-neighbour search ------------------------------------------------------------------------
SEARCHES = [
    (m, a) for m in ("euclidean", "manhattan", "chebyshev", "cosine") for a in ("brute", "ball_tree", "external")
]


# cosine is no metric (no triangle inequality): the ball tree refuses it (tested below)
@pytest.mark.parametrize(("metric", "algorithm"), [s for s in SEARCHES if s != ("cosine", "ball_tree")])
def test_every_search_algorithm_finds_scikit_learns_neighbours(metric, algorithm):
    from sklearn.neighbors import NearestNeighbors

    from models.dsa.knn_search.model import NeighbourIndex

    rng = np.random.default_rng(1)
    points, queries = rng.normal(size=(700, 6)), rng.normal(size=(40, 6))
    distances, ids = NeighbourIndex(7, metric, algorithm, leaf_size=16, block_rows=100).fit(points).kneighbors(queries)
    expected = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(points).kneighbors(queries)
    np.testing.assert_array_equal(ids, expected[1])
    np.testing.assert_allclose(distances, expected[0], atol=1e-10)


def test_custom_metric_callable_and_refusals():
    from models.dsa.knn_search.model import BallTree, NeighbourIndex, brute_force

    rng = np.random.default_rng(2)
    points, queries = rng.normal(size=(200, 3)), rng.normal(size=(5, 3))
    weights = np.array([1.0, 10.0, 0.1])

    def weighted(A, B):
        return np.sqrt((((A[:, None, :] - B[None]) * weights) ** 2).sum(axis=2))

    _, ids = brute_force(points, queries, 4, weighted)
    _, expected = brute_force(points * weights, queries * weights, 4, "euclidean")
    np.testing.assert_array_equal(ids, expected)
    with pytest.raises(ValueError, match="true metric"):
        BallTree(points, "cosine")
    with pytest.raises(ValueError, match="k must lie"):
        NeighbourIndex(k=500).fit(points)


def test_external_search_reads_one_block_at_a_time(tmp_path, monkeypatch):
    from models.dsa.knn_search import model as knn_search

    rng = np.random.default_rng(3)
    points, queries = rng.normal(size=(1000, 4)), rng.normal(size=(10, 4))
    np.save(tmp_path / "points.npy", points)
    widest = []
    original = knn_search.pairwise

    def spy(A, B, metric):
        widest.append(len(B))
        return original(A, B, metric)

    monkeypatch.setattr(knn_search, "pairwise", spy)
    _, ids = knn_search.external(tmp_path / "points.npy", queries, 5, block_rows=128)
    assert max(widest) == 128  # never more than one block of points in memory
    monkeypatch.setattr(knn_search, "pairwise", original)
    np.testing.assert_array_equal(ids, knn_search.brute_force(points, queries, 5)[1])


def test_recall_counts_ties_and_faiss_agrees_on_exact_search():
    from sklearn import datasets

    from models.dsa.knn_search.model import NeighbourIndex
    from models.dsa.knn_search.reference import FaissIndex
    from s2p.metrics import compute

    X, _ = datasets.load_digits(return_X_y=True)
    points, queries = X[:1200], X[1200:1400]
    for index in (NeighbourIndex(10).fit(points), FaissIndex(10).fit(points)):
        assert compute(["recall_at_k"], None, index.transform(queries), queries, index)["recall_at_k"] == 1.0
    approximate = FaissIndex(10, index="hnsw", hnsw_neighbors=4).fit(points)
    recall = compute(["recall_at_k"], None, approximate.transform(queries), queries, approximate)["recall_at_k"]
    assert 0.5 < recall <= 1.0


# -- tree structures -------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.integers(3, 9),
    st.lists(st.tuples(st.integers(-500, 500), st.integers()), max_size=400),
    st.integers(-600, 600),
    st.integers(-600, 600),
)
def test_btree_behaves_like_a_sorted_dict_and_keeps_its_invariants(order, pairs, low, high):
    from sortedcontainers import SortedDict

    from models.dsa.tree_structures.model import BTree

    tree, reference = BTree(order), SortedDict()
    for key, value in pairs:
        tree.insert(key, value)
        reference[key] = value
    tree.check()
    assert len(tree) == len(reference) and list(tree.items()) == list(reference.items())
    expected = [(k, reference[k]) for k in reference.irange(low, high, inclusive=(True, False))]
    assert list(tree.items(low, high)) == expected
    assert all(tree.get(k) == v for k, v in reference.items()) and (low in tree) == (low in reference)


def test_btree_lookups_read_as_many_pages_as_the_tree_is_high():
    from models.dsa.tree_structures.model import BTree

    tree = BTree(16)
    for key in np.random.default_rng(0).permutation(5000).tolist():
        tree.insert(key)
    tree.pages_read = 0
    tree.get(1234)
    assert tree.pages_read <= tree.height() <= 1 + np.ceil(np.log(5000) / np.log(8))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False)), st.integers(0, 20))
def test_heap_and_top_k_match_heapq(values, k):
    import heapq

    from models.dsa.tree_structures.model import MinHeap, top_k

    heap = MinHeap(values[: len(values) // 2])
    for value in values[len(values) // 2 :]:
        heap.push(value)
    assert [heap.pop() for _ in range(len(values))] == sorted(values)
    assert top_k(values, k) == heapq.nlargest(k, values)


def test_beam_search_with_a_full_beam_is_exhaustive_and_a_narrow_one_is_greedy():
    from itertools import product

    from models.dsa.tree_structures.model import beam_search

    rng = np.random.default_rng(4)
    gains = rng.normal(size=(4, 3, 3))  # step, previous move, next move

    def expand(sequence):
        return [(move, float(gains[len(sequence) - 1, sequence[-1], move])) for move in range(3)]

    def total(moves):
        path = [0, *moves]
        return sum(gains[step, path[step], path[step + 1]] for step in range(4))

    best = max(product(range(3), repeat=4), key=total)
    full = beam_search(0, expand, width=3**4, steps=4)
    assert full[0][1][1:] == list(best) and full[0][0] == pytest.approx(total(best))
    greedy = beam_search(0, expand, width=1, steps=4)
    assert greedy[0][0] <= full[0][0]


def test_btree_neighbours_regressor_equals_scikit_learn_without_ties():
    from sklearn.neighbors import KNeighborsRegressor

    from models.dsa.tree_structures.model import BTreeNeighboursRegressor

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(500, 3)), rng.normal(size=500)
    ours = BTreeNeighboursRegressor(key=1, n_neighbors=7, order=4).fit(X[:400], y[:400])
    theirs = KNeighborsRegressor(7, algorithm="brute").fit(X[:400, [1]], y[:400])
    np.testing.assert_allclose(ours.predict(X[400:]), theirs.predict(X[400:, [1]]), atol=1e-12)
