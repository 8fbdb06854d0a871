"""Tree structures from scratch: a B-tree of order m with disk-style pages, a binary heap for top-k
and priority queues, beam search on that heap, and a regressor that uses both.

``BTree``: every node is a page in a page table (an id, not an object reference), holding at most
``order - 1`` sorted keys and ``order`` children, and at least half that below the root; a page that
overflows splits around its median, which moves up (so the tree grows only at the root). Reads
count the pages they touch (``pages_read``): a lookup reads as many pages as the tree is high.
``MinHeap``: an array heap (sift up and down); ``top_k`` keeps a bounded heap of the k best.
``beam_search``: keeps the ``width`` best partial sequences at each step.
``BTreeNeighboursRegressor``: 1-D k-nearest-neighbour regression on one key column: the B-tree finds
the key's position, and the k nearest come from walking outwards, the nearer side first.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from models.base import require_fitted, validate_xy


@dataclass
class Page:
    keys: list = field(default_factory=list)
    values: list = field(default_factory=list)
    children: list[int] = field(default_factory=list)  # page ids; empty for a leaf

    @property
    def leaf(self) -> bool:
        return not self.children


class BTree:
    """A B-tree map of order ``order`` (at most order - 1 keys per page); keys unique, comparable."""

    def __init__(self, order: int = 32):
        if order < 3:
            raise ValueError(f"a B-tree needs order >= 3, got {order}")
        self.order = order
        self.pages: list[Page] = [Page()]
        self.root = 0
        self.size = 0
        self.pages_read = 0

    def _read(self, page_id: int) -> Page:
        self.pages_read += 1
        return self.pages[page_id]

    def _new(self, page: Page) -> int:
        self.pages.append(page)
        return len(self.pages) - 1

    def insert(self, key, value=None) -> None:
        """Set ``key`` to ``value`` (replacing an existing value)."""
        split = self._insert(self.root, key, value)
        if split is not None:  # the root overflowed: the tree grows at the top, never at the leaves
            median_key, median_value, right = split
            self.root = self._new(Page([median_key], [median_value], [self.root, right]))

    def _insert(self, page_id: int, key, value):
        """Insert below ``page_id``; returns (median key, median value, new right page) when the page
        overflowed (``order`` keys) and was split in two around its median, else None."""
        page = self.pages[page_id]
        index = bisect_left(page.keys, key)
        if index < len(page.keys) and page.keys[index] == key:
            page.values[index] = value
            return None
        if page.leaf:
            page.keys.insert(index, key)
            page.values.insert(index, value)
            self.size += 1
        else:
            split = self._insert(page.children[index], key, value)
            if split is None:
                return None
            median_key, median_value, right = split
            page.keys.insert(index, median_key)
            page.values.insert(index, median_value)
            page.children.insert(index + 1, right)
        if len(page.keys) < self.order:
            return None
        middle = self.order // 2
        right = Page(page.keys[middle + 1 :], page.values[middle + 1 :], page.children[middle + 1 :])
        median = (page.keys[middle], page.values[middle])
        page.keys, page.values, page.children = page.keys[:middle], page.values[:middle], page.children[: middle + 1]
        return (*median, self._new(right))

    def get(self, key, default=None):
        page = self._read(self.root)
        while True:
            index = bisect_left(page.keys, key)
            if index < len(page.keys) and page.keys[index] == key:
                return page.values[index]
            if page.leaf:
                return default
            page = self._read(page.children[index])

    def __contains__(self, key) -> bool:
        sentinel = object()
        return self.get(key, sentinel) is not sentinel

    def __len__(self) -> int:
        return self.size

    def items(self, low=None, high=None) -> Iterator[tuple[Any, Any]]:
        """(key, value) in key order, for low <= key < high (None: unbounded): a range scan."""
        yield from self._scan(self.root, low, high)

    def _scan(self, page_id: int, low, high):
        page = self._read(page_id)
        start = 0 if low is None else bisect_left(page.keys, low)
        for index in range(start, len(page.keys) + 1):
            if not page.leaf:
                yield from self._scan(page.children[index], low, high)
            if index == len(page.keys):
                return
            key = page.keys[index]
            if high is not None and key >= high:
                return
            yield key, page.values[index]

    def height(self) -> int:
        height, page = 1, self.pages[self.root]
        while not page.leaf:
            height, page = height + 1, self.pages[page.children[0]]
        return height

    def check(self) -> None:
        """Raise AssertionError unless every B-tree invariant holds."""
        depths = set()

        def visit(page_id, low, high, depth, is_root):
            page = self.pages[page_id]
            assert page.keys == sorted(page.keys) and len(set(page.keys)) == len(page.keys)
            assert len(page.keys) <= self.order - 1
            assert is_root or len(page.keys) >= (self.order + 1) // 2 - 1  # at least half full
            assert all((low is None or k > low) and (high is None or k < high) for k in page.keys)
            if page.leaf:
                depths.add(depth)
                return
            assert len(page.children) == len(page.keys) + 1
            bounds = [low, *page.keys, high]
            for i, child in enumerate(page.children):
                visit(child, bounds[i], bounds[i + 1], depth + 1, False)

        visit(self.root, None, None, 1, True)
        assert len(depths) == 1, f"leaves at different depths: {depths}"


class MinHeap:
    """A binary min-heap in an array: parent at i, children at 2i + 1 and 2i + 2."""

    def __init__(self, items: Iterable = ()):
        self.items = list(items)
        for index in reversed(range(len(self.items) // 2)):  # heapify: sift down from the last parent
            self._down(index)

    def __len__(self) -> int:
        return len(self.items)

    def _up(self, index: int) -> None:
        items = self.items
        while index > 0:
            parent = (index - 1) // 2
            if not items[index] < items[parent]:
                return
            items[index], items[parent] = items[parent], items[index]
            index = parent

    def _down(self, index: int) -> None:
        items, n = self.items, len(self.items)
        while True:
            smallest = index
            for child in (2 * index + 1, 2 * index + 2):
                if child < n and items[child] < items[smallest]:
                    smallest = child
            if smallest == index:
                return
            items[index], items[smallest] = items[smallest], items[index]
            index = smallest

    def push(self, item) -> None:
        self.items.append(item)
        self._up(len(self.items) - 1)

    def peek(self):
        return self.items[0]

    def pop(self):
        last = self.items.pop()
        if not self.items:
            return last
        top, self.items[0] = self.items[0], last
        self._down(0)
        return top

    def replace(self, item):
        """Pop the smallest and push ``item`` in one sift."""
        top, self.items[0] = self.items[0], item
        self._down(0)
        return top


def top_k(items: Iterable, k: int, key: Callable = lambda x: x) -> list:
    """The k largest items by ``key``, largest first: a heap of the k best so far (O(n log k))."""
    heap = MinHeap()
    for order, item in enumerate(items):
        entry = (key(item), -order, item)  # ties: the earlier item ranks higher
        if len(heap) < k:
            heap.push(entry)
        elif k and entry[:2] > heap.peek()[:2]:
            heap.replace(entry)
    return [item for *_, item in sorted(heap.items, key=lambda e: e[:2], reverse=True)]


def beam_search(start, expand: Callable, width: int, steps: int) -> list[tuple[float, list]]:
    """Sequences of ``steps`` moves from ``start``; ``expand(sequence)`` gives (move, score gain)
    pairs. Keeps the ``width`` best partial sequences each step; returns them, best first."""
    beam = [(0.0, [start])]
    for _ in range(steps):
        candidates = ((score + gain, [*sequence, move]) for score, sequence in beam for move, gain in expand(sequence))
        beam = top_k(candidates, width, key=lambda candidate: candidate[0])
    return beam


class BTreeNeighboursRegressor(RegressorMixin, BaseEstimator):
    """Predicts the mean target of the ``n_neighbors`` training rows nearest in column ``key`` (ties:
    the earlier training row, as scikit-learn's brute force). The B-tree maps each distinct key value
    to its rows; a query starts at the key's place and walks outwards, the nearer side first."""

    def __init__(self, key: int = 0, n_neighbors: int = 5, order: int = 32, random_state: int | None = None):
        self.key = key
        self.n_neighbors = n_neighbors
        self.order = order
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_xy(X, y)
        if not 0 <= self.key < X.shape[1]:
            raise ValueError(f"key must be a column index in [0, {X.shape[1]}), got {self.key}")
        if not 1 <= self.n_neighbors <= len(X):
            raise ValueError(f"n_neighbors must lie in [1, {len(X)}], got {self.n_neighbors}")
        self.tree_ = BTree(self.order)
        for row, (value, target) in enumerate(zip(X[:, self.key].tolist(), y.tolist(), strict=True)):
            rows = self.tree_.get(value)
            if rows is None:
                self.tree_.insert(value, [(row, target)])
            else:
                rows.append((row, target))
        self.keys_ = [key for key, _ in self.tree_.items()]  # the leaf level, in order, for the walk
        self.n_features_in_ = X.shape[1]
        return self

    def _neighbours(self, value: float) -> list[float]:
        """Walk outwards from the key's place, nearer side first, until k rows are held and the next
        key is farther than the last taken; then the k nearest by (distance, training row)."""
        keys, found = self.keys_, []
        right = bisect_right(keys, value)
        left, last = right - 1, None
        while left >= 0 or right < len(keys):
            take_left = right >= len(keys) or (left >= 0 and value - keys[left] <= keys[right] - value)
            index = left if take_left else right
            distance = abs(value - keys[index])
            if len(found) >= self.n_neighbors and distance > last:
                break
            found += [(distance, row, target) for row, target in self.tree_.get(keys[index])]
            last = distance
            left, right = (left - 1, right) if take_left else (left, right + 1)
        return [target for _, _, target in sorted(found)[: self.n_neighbors]]

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "tree_")
        X, _ = validate_xy(X)
        return np.array([np.mean(self._neighbours(value)) for value in X[:, self.key].tolist()])
