"""Run a DAG of steps: each step is submitted as soon as its upstreams have finished.

- The engine is pluggable: Prefect's task runner in flows (``task.submit``) or a plain thread pool.
- Ready steps start longest-remaining-path first (the critical path), within a maximum
  concurrency and within resource capacities (``gpu=1`` keeps two GPU trainings apart, a memory
  budget is never exceeded).
- A failed step marks its descendants skipped while independent branches run to the end.
- With a cache, a step whose inputs are unchanged since its last success is not rerun: its
  recorded result is reused and its state says ``cached``.
"""

from __future__ import annotations

import heapq
import queue
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from scheduler.dag import DAG

COMPLETED, CACHED, FAILED, SKIPPED = "completed", "cached", "failed", "skipped"
SUCCEEDED = (COMPLETED, CACHED)


@dataclass(frozen=True)
class Ref:
    """Stands for the result of step ``name`` in another step's arguments (and makes an edge)."""

    name: str


@dataclass(frozen=True)
class Step:
    name: str
    run: Any  # a Prefect task, or any callable for the thread engine
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    resources: Mapping[str, float] = field(default_factory=dict)  # e.g. {"gpu": 1, "memory_gb": 4}
    weight: float = 1.0  # expected duration, for critical-path priorities
    group: str = ""  # what the step belongs to (a deliverable), for summaries
    # What the result depends on besides code and arguments, for content-hash skipping:
    deps: tuple = ()  # files read
    outs: tuple = ()  # files written
    params: Mapping[str, Any] = field(default_factory=dict)
    stage: str = ""  # the DVC stage it is part of, if any

    def upstreams(self) -> list[str]:
        refs = [value.name for value in self.kwargs.values() if isinstance(value, Ref)]
        return list(dict.fromkeys([*self.after, *refs]))


@dataclass
class Outcome:
    name: str
    state: str
    result: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCEEDED


class Cache(Protocol):
    """Remembers successful results; answers whether a step's inputs changed since."""

    def lookup(self, step: Step, kwargs: dict[str, Any]) -> tuple[bool, Any, str]:
        """(fresh, recorded result, reason): fresh means the step need not run."""

    def record(self, step: Step, kwargs: dict[str, Any], result: Any) -> None: ...


class StepsFailed(RuntimeError):
    def __init__(self, outcomes: dict[str, Outcome]):
        self.outcomes = outcomes
        failed = [o for o in outcomes.values() if o.state == FAILED]
        lines = [f"{o.name}: {o.error}" for o in failed]
        skipped = [o.name for o in outcomes.values() if o.state == SKIPPED]
        if skipped:
            lines.append(f"skipped (upstream failed): {', '.join(skipped)}")
        super().__init__("\n".join(lines))
        self.first_error = failed[0].error if failed else None


def build_dag(steps: list[Step]) -> DAG:
    position: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.name in position:
            raise ValueError(f"two steps are named {step.name!r}")
        position[step.name] = i
    src, dst = [], []
    for i, step in enumerate(steps):
        for upstream in step.upstreams():
            if upstream not in position:
                raise KeyError(f"step {step.name!r} depends on unknown step {upstream!r}")
            src.append(position[upstream])
            dst.append(i)
    dag = DAG.from_index_edges(
        [step.name for step in steps], np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)
    )
    dag.topological_order()  # raises CycleError before anything runs
    return dag


class ThreadEngine:
    """Runs callables on a thread pool; the same interface as PrefectEngine."""

    def __init__(self, max_workers: int = 4):
        self.pool = ThreadPoolExecutor(max_workers=max_workers)
        self.finished: queue.SimpleQueue[Future] = queue.SimpleQueue()

    def submit(self, step: Step, kwargs: dict[str, Any]) -> Future:
        future = self.pool.submit(step.run, **kwargs)
        future.add_done_callback(self.finished.put)
        return future

    def wait_any(self, futures: list[Future]) -> list[Future]:
        """The futures that finished since the last call (at least one); cheaper than futures.wait."""
        done = [self.finished.get()]
        while not self.finished.empty():
            done.append(self.finished.get_nowait())
        return done

    @staticmethod
    def outcome(future: Future) -> tuple[bool, Any]:
        error = future.exception()
        return (False, error) if error is not None else (True, future.result())

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class PrefectEngine:
    """Submits Prefect tasks to the flow's task runner."""

    def submit(self, step: Step, kwargs: dict[str, Any]):
        return step.run.submit(**kwargs)

    def wait_any(self, futures: list) -> list:
        from prefect.futures import as_completed

        return [next(iter(as_completed(futures)))]

    @staticmethod
    def outcome(future) -> tuple[bool, Any]:
        future.wait()
        if future.state.is_completed():
            return True, future.result()
        try:
            future.result(raise_on_failure=True)
        except BaseException as error:
            return False, error
        return False, RuntimeError(f"task ended in state {future.state.name}")

    def close(self) -> None:
        pass


class _Slots:
    """Concurrency and resource capacities; a step starts only when its demand fits."""

    def __init__(self, max_concurrency: int | None, capacity: Mapping[str, float]):
        self.free_workers = max_concurrency if max_concurrency is not None else float("inf")
        self.free = dict(capacity)

    def check(self, step: Step) -> None:
        for resource, amount in step.resources.items():
            if resource not in self.free:
                raise ValueError(f"step {step.name!r} needs {resource!r}, which the executor has no capacity for")
            if amount > self.free[resource]:
                raise ValueError(f"step {step.name!r} needs {amount} {resource}, more than the capacity {self.free}")

    def fits(self, step: Step) -> bool:
        return self.free_workers >= 1 and all(amount <= self.free[r] for r, amount in step.resources.items())

    def take(self, step: Step, sign: int = 1) -> None:
        self.free_workers -= sign
        for resource, amount in step.resources.items():
            self.free[resource] -= sign * amount


def execute(
    steps: list[Step],
    engine,
    *,
    max_concurrency: int | None = None,
    capacity: Mapping[str, float] | None = None,
    cache: Cache | None = None,
    on_finish: Callable[[Outcome], None] | None = None,
) -> dict[str, Outcome]:
    """Run ``steps`` in dependency order on ``engine``; returns every step's outcome, in step order."""
    dag = build_dag(steps)
    slots = _Slots(max_concurrency, capacity or {})
    by_name = {step.name: step for step in steps}
    for step in steps:
        slots.check(step)
    priority = dag.remaining_path(lambda name: by_name[name].weight)
    rank = {name: i for i, name in enumerate(dag.nodes)}
    waiting = {name: len(dag.predecessors(name)) for name in dag.nodes}
    ready: list[tuple[float, int, str]] = []
    outcomes: dict[str, Outcome] = {}
    running: dict[Any, tuple[str, float, dict]] = {}

    def make_ready(name: str) -> None:
        heapq.heappush(ready, (-priority[name], rank[name], name))

    def finish(outcome: Outcome) -> None:
        pending = [outcome]
        while pending:  # a loop, not recursion: a failure may skip a long chain
            current = pending.pop()
            outcomes[current.name] = current
            if on_finish:
                on_finish(current)
            for successor in dag.successors(current.name):
                if successor in outcomes:
                    continue
                if not current.succeeded:  # skip the whole downstream cone
                    reason = f"upstream {current.name} {current.state}"
                    outcomes[successor] = Outcome(successor, SKIPPED, reason=reason)
                    pending.append(outcomes[successor])
                    continue
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    make_ready(successor)

    def start_ready() -> None:
        deferred = []
        while ready:
            entry = heapq.heappop(ready)
            step = by_name[entry[2]]
            if step.name in outcomes:
                continue
            kwargs = {k: outcomes[v.name].result if isinstance(v, Ref) else v for k, v in step.kwargs.items()}
            if cache is not None:
                fresh, result, reason = cache.lookup(step, kwargs)
                if fresh:
                    finish(Outcome(step.name, CACHED, result=result, reason=reason))
                    continue
            if not slots.fits(step):
                deferred.append(entry)
                if slots.free_workers < 1:
                    break
                continue
            slots.take(step)
            running[engine.submit(step, kwargs)] = (step.name, time.perf_counter(), kwargs)
        for entry in deferred:
            heapq.heappush(ready, entry)

    try:
        for name in dag.nodes:
            if waiting[name] == 0:
                make_ready(name)
        start_ready()
        while running:
            for future in engine.wait_any(list(running)):
                name, started, kwargs = running.pop(future)
                slots.take(by_name[name], sign=-1)
                ok, value = engine.outcome(future)
                seconds = time.perf_counter() - started
                if ok and cache is not None:
                    cache.record(by_name[name], kwargs, value)
                finish(
                    Outcome(name, COMPLETED, result=value, seconds=seconds)
                    if ok
                    else Outcome(name, FAILED, error=value, seconds=seconds)
                )
            start_ready()
    finally:
        engine.close()
    return {name: outcomes[name] for name in dag.nodes}
