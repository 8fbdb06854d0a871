"""Run a DAG of steps: each step is submitted as soon as its upstreams have finished.

The engine that runs a step is pluggable: Prefect's task runner in flows (``task.submit``), or a
plain thread pool. A failed step marks its descendants skipped while independent branches run to
the end; the result reports every step's final state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any

from scheduler.dag import DAG

COMPLETED, FAILED, SKIPPED = "completed", "failed", "skipped"


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
    dag = DAG()
    for step in steps:
        dag.add_node(step.name, step=step)
    for step in steps:
        for upstream in step.upstreams():
            if upstream not in dag:
                raise KeyError(f"step {step.name!r} depends on unknown step {upstream!r}")
            dag.add_edge(upstream, step.name)
    dag.topological_order()  # raises CycleError before anything runs
    return dag


class ThreadEngine:
    """Runs callables on a thread pool; the same interface as PrefectEngine."""

    def __init__(self, max_workers: int = 4):
        self.pool = ThreadPoolExecutor(max_workers=max_workers)

    def submit(self, step: Step, kwargs: dict[str, Any]) -> Future:
        return self.pool.submit(step.run, **kwargs)

    def wait_any(self, futures: list[Future]) -> list[Future]:
        done, _ = wait_futures(futures, return_when=FIRST_COMPLETED)
        return list(done)

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


def execute(steps: list[Step], engine, on_finish: Callable[[Outcome], None] | None = None) -> dict[str, Outcome]:
    """Run ``steps`` in dependency order on ``engine``; returns every step's outcome, in step order."""
    dag = build_dag(steps)
    pending = {name: len(dag.predecessors(name)) for name in dag.nodes}
    outcomes: dict[str, Outcome] = {}
    running: dict[Any, tuple[str, float]] = {}

    def submit_ready() -> None:
        for name in [n for n, count in pending.items() if count == 0]:
            del pending[name]
            step: Step = dag.attrs(name)["step"]
            kwargs = {k: outcomes[v.name].result if isinstance(v, Ref) else v for k, v in step.kwargs.items()}
            running[engine.submit(step, kwargs)] = (name, time.perf_counter())

    def finish(outcome: Outcome) -> None:
        outcomes[outcome.name] = outcome
        if on_finish:
            on_finish(outcome)
        if outcome.state == COMPLETED:
            for successor in dag.successors(outcome.name):
                if successor in pending:
                    pending[successor] -= 1
            return
        for successor in dag.successors(outcome.name):  # skip the whole downstream cone
            if successor in pending:
                del pending[successor]
                finish(Outcome(successor, SKIPPED, reason=f"upstream {outcome.name} {outcome.state}"))

    try:
        submit_ready()
        while running:
            for future in engine.wait_any(list(running)):
                name, started = running.pop(future)
                ok, value = engine.outcome(future)
                seconds = time.perf_counter() - started
                finish(
                    Outcome(name, COMPLETED, result=value, seconds=seconds)
                    if ok
                    else Outcome(name, FAILED, error=value, seconds=seconds)
                )
            submit_ready()
    finally:
        engine.close()
    return {name: outcomes[name] for name in dag.nodes}
