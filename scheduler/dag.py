"""A directed acyclic graph of named nodes, and the graph algorithms a pipeline scheduler needs.

Edges live in NumPy arrays and the algorithms work a whole wave of nodes at a time, so a graph
of a million edges is built and layered in a fraction of a second (benchmarks/bench_scheduler.py).
Nodes keep their insertion order (sorted ids for DAG.from_edges on an integer array), and every
algorithm breaks ties by it, so orders are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np

INDEX = np.int64


class CycleError(ValueError):
    """The graph has a cycle; ``cycle`` lists its nodes in order (the last one leads back to the first)."""

    def __init__(self, cycle: list):
        self.cycle = cycle
        super().__init__("cycle: " + " -> ".join(map(str, [*cycle, cycle[0]])))


class DAG:
    def __init__(self) -> None:
        self._names: list[Hashable] = []
        self._index: dict[Hashable, int] | None = {}  # built lazily after a bulk load
        self._attrs: dict[int, dict[str, Any]] = {}
        self._src: list[np.ndarray] = []  # edge chunks (bulk) ...
        self._dst: list[np.ndarray] = []
        self._pending: list[tuple[int, int]] = []  # ... and single edges not yet in a chunk
        self._pairs: set[tuple[int, int]] = set()  # de-duplicates single edges
        self._cache: dict[str, Any] = {}

    # -- building -------------------------------------------------------------------------
    def add_node(self, name: Hashable, **attrs: Any) -> None:
        index = self._lookup().get(name)
        if index is None:
            index = len(self._names)
            self._index[name] = index
            self._names.append(name)
            self._cache.clear()
        if attrs:
            self._attrs.setdefault(index, {}).update(attrs)

    def add_edge(self, upstream: Hashable, downstream: Hashable) -> None:
        """``downstream`` runs after ``upstream`` (both are added if new)."""
        self.add_node(upstream)
        self.add_node(downstream)
        pair = (self._index[upstream], self._index[downstream])
        if pair not in self._pairs:
            self._pairs.add(pair)
            self._pending.append(pair)
            self._cache.clear()

    @classmethod
    def from_edges(cls, edges: np.ndarray | Iterable[tuple[Hashable, Hashable]]) -> DAG:
        """Bulk construction: an (m, 2) integer array takes the vectorized path; nodes are the ids
        that appear, in increasing order. Other iterables of pairs are added one by one."""
        dag = cls()
        if isinstance(edges, np.ndarray) and edges.dtype.kind in "iu":
            if edges.ndim != 2 or edges.shape[1] != 2:
                raise ValueError(f"edges must have shape (m, 2), got {edges.shape}")
            dag._load_array(edges)
        else:
            for upstream, downstream in edges:
                dag.add_edge(upstream, downstream)
        return dag

    @classmethod
    def from_index_edges(cls, names: list[Hashable], src: np.ndarray, dst: np.ndarray) -> DAG:
        """Bulk construction from node names and edges given as positions in ``names``."""
        dag = cls()
        dag._names = list(names)
        dag._index = None
        if len(dag._names) != len(set(dag._names)):
            raise ValueError("node names must be unique")
        dag._src, dag._dst = [np.asarray(src, dtype=INDEX)], [np.asarray(dst, dtype=INDEX)]
        return dag

    def _load_array(self, edges: np.ndarray) -> None:
        flat = edges.reshape(-1)
        if flat.size == 0:
            return
        low, high = int(flat.min()), int(flat.max())
        if low >= 0 and high < 4 * flat.size + 1024:  # dense ids: a presence mask beats sorting
            present = np.zeros(high + 1, dtype=bool)
            present[flat] = True
            ids = np.flatnonzero(present)
            position = np.cumsum(present, dtype=INDEX) - 1
            src, dst = position[edges[:, 0]], position[edges[:, 1]]
        else:
            ids, inverse = np.unique(flat, return_inverse=True)
            inverse = inverse.astype(INDEX).reshape(-1, 2)
            src, dst = inverse[:, 0], inverse[:, 1]
        self._names = ids.tolist()
        self._index = None
        self._cache["name_array"] = ids
        self._src, self._dst = [src], [dst]

    # -- reading --------------------------------------------------------------------------
    def _lookup(self) -> dict[Hashable, int]:
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self._names)}
        return self._index

    def _position(self, name: Hashable) -> int:
        try:
            return self._lookup()[name]
        except KeyError:
            raise KeyError(f"no node {name!r} in the graph") from None

    def __contains__(self, name: Hashable) -> bool:
        return name in self._lookup()

    def __len__(self) -> int:
        return len(self._names)

    @property
    def nodes(self) -> list[Hashable]:
        return list(self._names)

    def _edge_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pending:
            pending = np.array(self._pending, dtype=INDEX).reshape(-1, 2)
            self._src.append(pending[:, 0])
            self._dst.append(pending[:, 1])
            self._pending = []
        if len(self._src) > 1:
            self._src, self._dst = [np.concatenate(self._src)], [np.concatenate(self._dst)]
        if not self._src:
            return np.empty(0, INDEX), np.empty(0, INDEX)
        return self._src[0], self._dst[0]

    @property
    def edges(self) -> list[tuple[Hashable, Hashable]]:
        src, dst = self._edge_arrays()
        names = self._name_array()
        return list(zip(names[src].tolist(), names[dst].tolist(), strict=True))

    def attrs(self, name: Hashable) -> dict[str, Any]:
        return self._attrs.setdefault(self._position(name), {})

    def predecessors(self, name: Hashable) -> list[Hashable]:
        ptr, adj = self._csr("pred")
        u = self._position(name)
        return [self._names[v] for v in adj[ptr[u] : ptr[u + 1]].tolist()]

    def successors(self, name: Hashable) -> list[Hashable]:
        ptr, adj = self._csr("succ")
        u = self._position(name)
        return [self._names[v] for v in adj[ptr[u] : ptr[u + 1]].tolist()]

    def _name_array(self) -> np.ndarray:
        if "name_array" not in self._cache:
            names = np.empty(len(self._names), dtype=object)
            names[:] = self._names
            self._cache["name_array"] = names
        return self._cache["name_array"]

    def _csr(self, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """Compressed adjacency: neighbours of u are adj[ptr[u]:ptr[u+1]], in edge insertion order."""
        if direction not in self._cache:
            src, dst = self._edge_arrays()
            key, other = (src, dst) if direction == "succ" else (dst, src)
            n = len(self._names)
            order = np.argsort(key, kind="stable")
            ptr = np.zeros(n + 1, dtype=INDEX)
            np.cumsum(np.bincount(key, minlength=n), out=ptr[1:])
            self._cache[direction] = (ptr, other[order])
        return self._cache[direction]

    # -- algorithms -----------------------------------------------------------------------
    def _waves(self, direction: str = "succ") -> list[np.ndarray]:
        """Kahn's algorithm a wave at a time: each wave holds the nodes whose in-neighbours (in
        ``direction``) are all in earlier waves, sorted by node index. Raises CycleError."""
        cache_key = f"waves_{direction}"
        if cache_key in self._cache:
            return self._cache[cache_key]
        ptr, adj = self._csr(direction)
        n = len(self._names)
        indegree = np.bincount(adj, minlength=n)
        wave = np.flatnonzero(indegree == 0)
        waves, done = [], 0
        while wave.size:
            waves.append(wave)
            done += wave.size
            targets = _gather(ptr, adj, wave)
            if targets.size * 16 > n:  # big wave: one pass over all nodes
                hits = np.bincount(targets, minlength=n)
                indegree -= hits
                wave = np.flatnonzero((hits > 0) & (indegree == 0))
            else:  # small wave: touch only the targets
                touched, hits = np.unique(targets, return_counts=True)
                indegree[touched] -= hits
                wave = touched[indegree[touched] == 0]
        if done < n:
            raise CycleError(self._find_cycle(indegree > 0))
        self._cache[cache_key] = waves
        return waves

    def generations(self) -> list[list[Hashable]]:
        """Waves of nodes whose upstreams are all in earlier waves (networkx's topological_generations)."""
        names = self._name_array()
        return [names[wave].tolist() for wave in self._waves()]

    def topological_order(self) -> list[Hashable]:
        """The generations one after another: a valid, deterministic order. Raises CycleError."""
        waves = self._waves()
        if not waves:
            return []
        return self._name_array()[np.concatenate(waves)].tolist()

    def _find_cycle(self, stuck: np.ndarray) -> list[Hashable]:
        """A real cycle among the nodes Kahn could not free: each has a stuck predecessor."""
        ptr, adj = self._csr("pred")
        u = int(np.flatnonzero(stuck)[0])
        seen: dict[int, int] = {}
        path: list[int] = []
        while u not in seen:
            seen[u] = len(path)
            path.append(u)
            predecessors = adj[ptr[u] : ptr[u + 1]]
            u = int(predecessors[stuck[predecessors]][0])
        cycle = path[seen[u] :][::-1]  # we walked the cycle backwards
        return [self._names[v] for v in cycle]

    def _reach(self, start: int, direction: str) -> np.ndarray:
        ptr, adj = self._csr(direction)
        seen = np.zeros(len(self._names), dtype=bool)
        frontier = np.array([start], dtype=INDEX)
        while frontier.size:
            targets = _gather(ptr, adj, frontier)
            targets = np.unique(targets[~seen[targets]])
            seen[targets] = True
            frontier = targets
        seen[start] = False
        return np.flatnonzero(seen)

    def ancestors(self, name: Hashable) -> set[Hashable]:
        return set(self._name_array()[self._reach(self._position(name), "pred")].tolist())

    def descendants(self, name: Hashable) -> set[Hashable]:
        return set(self._name_array()[self._reach(self._position(name), "succ")].tolist())

    def weakly_connected_components(self) -> list[set[Hashable]]:
        """Components ignoring edge direction, ordered by their first node."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = len(self._names)
        src, dst = self._edge_arrays()
        graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n, n))
        _, labels = connected_components(graph, directed=True, connection="weak")
        first = {}
        for index, label in enumerate(labels.tolist()):
            first.setdefault(label, []).append(index)
        names = self._name_array()
        return [set(names[members].tolist()) for members in first.values()]

    def node_weights(self, weight: str | Callable[[Hashable], float] | None) -> np.ndarray:
        """Weight of every node: 1 each, a node attribute (default 1), or a function of the name."""
        if weight is None:
            return np.ones(len(self._names))
        if callable(weight):
            return np.array([float(weight(name)) for name in self._names])
        return np.array([float(self._attrs.get(i, {}).get(weight, 1.0)) for i in range(len(self._names))])

    def _longest(self, weights: np.ndarray, direction: str) -> np.ndarray:
        """For every node, the heaviest path ending there (in ``direction``), its own weight included."""
        ptr, adj = self._csr(direction)
        best = np.zeros(len(self._names))
        for wave in self._waves(direction):
            best[wave] += weights[wave]
            counts = ptr[wave + 1] - ptr[wave]
            np.maximum.at(best, _gather(ptr, adj, wave), np.repeat(best[wave], counts))
        return best

    def critical_path(self, weight: str | Callable[[Hashable], float] | None = None) -> tuple[float, list[Hashable]]:
        """The heaviest source-to-sink path by node weight, and its total (the makespan bound)."""
        if not self._names:
            return 0.0, []
        weights = self.node_weights(weight)
        best = self._longest(weights, "succ")
        ptr, adj = self._csr("pred")
        v = int(np.argmax(best))
        path = [v]
        while ptr[v + 1] > ptr[v]:
            predecessors = adj[ptr[v] : ptr[v + 1]]
            chosen = predecessors[np.isclose(best[predecessors], best[v] - weights[v])]
            v = int(chosen.min())
            path.append(v)
        return float(best[path[0]]), [self._names[u] for u in reversed(path)]

    def remaining_path(self, weight: str | Callable[[Hashable], float] | None = None) -> dict[Hashable, float]:
        """For every node, the heaviest path from it to a sink: what a scheduler should start first."""
        best = self._longest(self.node_weights(weight), "pred")
        return dict(zip(self._names, best.tolist(), strict=True))

    def to_mermaid(self) -> str:
        lines = ["graph TD"]
        lines += [f'    n{i}["{name}"]' for i, name in enumerate(self._names)]
        src, dst = self._edge_arrays()
        lines += [f"    n{u} --> n{v}" for u, v in zip(src.tolist(), dst.tolist(), strict=True)]
        return "\n".join(lines)


def _gather(ptr: np.ndarray, adj: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The neighbours of all ``nodes`` concatenated, without a Python loop."""
    starts = ptr[nodes]
    counts = ptr[nodes + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=INDEX)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total, dtype=INDEX)
    return adj[offsets]
