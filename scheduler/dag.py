"""A directed acyclic graph of named nodes, and the graph algorithms a pipeline scheduler needs.

Nodes keep their insertion order; every algorithm breaks ties by it, so orders are deterministic.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Hashable, Iterable
from typing import Any


class CycleError(ValueError):
    """The graph has a cycle; ``cycle`` lists its nodes in order (the last one leads back to the first)."""

    def __init__(self, cycle: list):
        self.cycle = cycle
        super().__init__("cycle: " + " -> ".join(map(str, [*cycle, cycle[0]])))


class DAG:
    def __init__(self) -> None:
        self._index: dict[Hashable, int] = {}
        self._names: list[Hashable] = []
        self._attrs: list[dict[str, Any]] = []
        self._successors: list[list[int]] = []
        self._predecessors: list[list[int]] = []

    # -- building -------------------------------------------------------------------------
    def add_node(self, name: Hashable, **attrs: Any) -> None:
        if name in self._index:
            self._attrs[self._index[name]].update(attrs)
            return
        self._index[name] = len(self._names)
        self._names.append(name)
        self._attrs.append(dict(attrs))
        self._successors.append([])
        self._predecessors.append([])

    def add_edge(self, upstream: Hashable, downstream: Hashable) -> None:
        """``downstream`` runs after ``upstream`` (both are added if new)."""
        self.add_node(upstream)
        self.add_node(downstream)
        u, v = self._index[upstream], self._index[downstream]
        if v not in self._successors[u]:
            self._successors[u].append(v)
            self._predecessors[v].append(u)

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[Hashable, Hashable]]) -> DAG:
        dag = cls()
        for upstream, downstream in edges:
            dag.add_edge(upstream, downstream)
        return dag

    # -- reading --------------------------------------------------------------------------
    def __contains__(self, name: Hashable) -> bool:
        return name in self._index

    def __len__(self) -> int:
        return len(self._names)

    @property
    def nodes(self) -> list[Hashable]:
        return list(self._names)

    @property
    def edges(self) -> list[tuple[Hashable, Hashable]]:
        return [(self._names[u], self._names[v]) for u in range(len(self)) for v in self._successors[u]]

    def attrs(self, name: Hashable) -> dict[str, Any]:
        return self._attrs[self._position(name)]

    def predecessors(self, name: Hashable) -> list[Hashable]:
        return [self._names[u] for u in self._predecessors[self._position(name)]]

    def successors(self, name: Hashable) -> list[Hashable]:
        return [self._names[v] for v in self._successors[self._position(name)]]

    def _position(self, name: Hashable) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no node {name!r} in the graph") from None

    # -- algorithms -----------------------------------------------------------------------
    def topological_order(self) -> list[Hashable]:
        """Kahn's algorithm; among ready nodes the earliest added goes first. Raises CycleError."""
        indegree = [len(p) for p in self._predecessors]
        ready = [u for u, d in enumerate(indegree) if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            u = heapq.heappop(ready)
            order.append(u)
            for v in self._successors[u]:
                indegree[v] -= 1
                if indegree[v] == 0:
                    heapq.heappush(ready, v)
        if len(order) < len(self):
            raise CycleError(self._find_cycle(indegree))
        return [self._names[u] for u in order]

    def generations(self) -> list[list[Hashable]]:
        """Waves of nodes whose upstreams are all in earlier waves (networkx's topological_generations)."""
        indegree = [len(p) for p in self._predecessors]
        wave = [u for u, d in enumerate(indegree) if d == 0]
        waves, seen = [], 0
        while wave:
            waves.append([self._names[u] for u in wave])
            seen += len(wave)
            following = []
            for u in wave:
                for v in self._successors[u]:
                    indegree[v] -= 1
                    if indegree[v] == 0:
                        following.append(v)
            wave = sorted(following)
        if seen < len(self):
            raise CycleError(self._find_cycle(indegree))
        return waves

    def _find_cycle(self, indegree: list[int]) -> list[Hashable]:
        """A real cycle among the nodes Kahn could not free (each has a predecessor in that set)."""
        stuck = {u for u, d in enumerate(indegree) if d > 0}
        u = min(stuck)
        visited: dict[int, int] = {}
        path: list[int] = []
        while u not in visited:  # walk backwards: a stuck node always has a stuck predecessor
            visited[u] = len(path)
            path.append(u)
            u = next(p for p in self._predecessors[u] if p in stuck)
        cycle = path[visited[u] :]
        cycle.reverse()  # walking predecessors gave the cycle backwards
        return [self._names[v] for v in cycle]

    def ancestors(self, name: Hashable) -> set[Hashable]:
        return {self._names[u] for u in self._reach(self._position(name), self._predecessors)}

    def descendants(self, name: Hashable) -> set[Hashable]:
        return {self._names[u] for u in self._reach(self._position(name), self._successors)}

    def _reach(self, start: int, neighbours: list[list[int]]) -> set[int]:
        seen: set[int] = set()
        queue = deque([start])
        while queue:
            for v in neighbours[queue.popleft()]:
                if v not in seen:
                    seen.add(v)
                    queue.append(v)
        seen.discard(start)
        return seen

    def weakly_connected_components(self) -> list[set[Hashable]]:
        undirected = [s + p for s, p in zip(self._successors, self._predecessors, strict=True)]
        components, assigned = [], set()
        for u in range(len(self)):
            if u not in assigned:
                members = self._reach(u, undirected) | {u}
                assigned |= members
                components.append({self._names[v] for v in members})
        return components

    def to_mermaid(self) -> str:
        ids = {name: f"n{i}" for i, name in enumerate(self._names)}
        lines = ["graph TD"]
        lines += [f'    {ids[name]}["{name}"]' for name in self._names]
        lines += [f"    {ids[u]} --> {ids[v]}" for u, v in self.edges]
        return "\n".join(lines)
