"""The ``tree_structures`` deliverable: the B-tree, the heap and beam search against sortedcontainers and heapq."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


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
