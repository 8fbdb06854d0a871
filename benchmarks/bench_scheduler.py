"""Scheduler benchmark: ours against networkx and graphlib, measured in the same run.

    .venv/bin/python benchmarks/bench_scheduler.py [--quick | --million]

1. Build + topological generations on random DAGs (10k nodes / 100k edges, 100k / 1M):
   ours (DAG.from_edges on an int array + generations), networkx (DiGraph + topological_generations),
   graphlib (TopologicalSorter ready/done loop). All three must agree; prints times and ratios.
2. Executor overhead per node on a 10k-node DAG of no-op steps, both on the same plain thread pool:
   ours (scheduler.executor.execute) against a graphlib ready/done loop.
``--million`` runs both at 10^6 steps (2 * 10^6 edges): the capacity plan's figure (docs/capacity_plan.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from graphlib import TopologicalSorter
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler import DAG
from scheduler.executor import Step, ThreadEngine, execute


def random_dag(n: int, m: int, seed: int = 0) -> np.ndarray:
    """m distinct edges u -> v among n nodes, acyclic (u < v in a hidden random order)."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, size=(2, int(m * 1.1)))
    keep = a != b
    low, high = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    pairs = np.unique(low * n + high)[:m]
    rng.shuffle(pairs)
    label = rng.permutation(n)
    return np.stack([label[pairs // n], label[pairs % n]], axis=1)


def ours(edges: np.ndarray) -> list[list[int]]:
    return DAG.from_edges(edges).generations()


def with_networkx(edges: np.ndarray) -> list[list[int]]:
    graph = nx.DiGraph()
    graph.add_edges_from(edges.tolist())
    return [list(wave) for wave in nx.topological_generations(graph)]


def with_graphlib(edges: np.ndarray) -> list[list[int]]:
    sorter = TopologicalSorter()
    for u, v in edges.tolist():
        sorter.add(v, u)
    sorter.prepare()
    waves = []
    while sorter.is_active():
        wave = list(sorter.get_ready())
        waves.append(wave)
        sorter.done(*wave)
    return waves


def best_of(function, argument, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function(argument)
        times.append(time.perf_counter() - started)
    return min(times), result


def as_sets(waves) -> list[frozenset]:
    return [frozenset(wave) for wave in waves]


def bench_generations(n: int, m: int, repeats: int) -> None:
    edges = random_dag(n, m)
    t_ours, r_ours = best_of(ours, edges, repeats)
    t_nx, r_nx = best_of(with_networkx, edges, max(1, repeats // 2))
    t_gl, r_gl = best_of(with_graphlib, edges, max(1, repeats // 2))
    agree = as_sets(r_ours) == as_sets(r_nx) == as_sets(r_gl)
    print(
        f"{n:>7} nodes {m:>8} edges  {len(r_ours):>4} waves | ours {t_ours:7.3f} s | networkx {t_nx:7.3f} s "
        f"({t_nx / t_ours:5.1f}x) | graphlib {t_gl:7.3f} s ({t_gl / t_ours:5.1f}x) | agree: {agree}"
    )
    if not agree:
        raise SystemExit("the three implementations disagree")


def noop() -> None:
    return None


def bench_executor(n: int, m: int, workers: int) -> None:
    edges = random_dag(n, m, seed=1)
    upstreams: dict[int, list[int]] = {node: [] for node in range(n)}
    for u, v in edges.tolist():
        upstreams[v].append(u)
    steps = [Step(str(node), noop, after=tuple(str(u) for u in ups)) for node, ups in upstreams.items()]

    started = time.perf_counter()
    outcomes = execute(steps, ThreadEngine(max_workers=workers), max_concurrency=workers)
    t_ours = time.perf_counter() - started
    assert all(o.state == "completed" for o in outcomes.values())

    started = time.perf_counter()
    sorter = TopologicalSorter({node: ups for node, ups in upstreams.items()})
    sorter.prepare()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running = {}
        while sorter.is_active():
            for node in sorter.get_ready():
                running[pool.submit(noop)] = node
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
                sorter.done(running.pop(future))
    t_gl = time.perf_counter() - started
    print(
        f"executor, {n} no-op steps / {len(edges)} edges, {workers} threads: ours {t_ours / n * 1e6:6.1f} us/step, "
        f"graphlib loop {t_gl / n * 1e6:6.1f} us/step (ours / graphlib = {t_ours / t_gl:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="only the small graph (for CI smoke runs)")
    size.add_argument("--million", action="store_true", help="10^6 steps: graph and executor (capacity plan)")
    args = parser.parse_args()
    if args.million:
        bench_generations(1_000_000, 2_000_000, repeats=1)
        bench_executor(1_000_000, 2_000_000, workers=4)
        return
    bench_generations(10_000, 100_000, repeats=3)
    if not args.quick:
        bench_generations(100_000, 1_000_000, repeats=3)
    bench_executor(10_000, 20_000, workers=4)


if __name__ == "__main__":
    main()
