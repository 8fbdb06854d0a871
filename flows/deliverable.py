"""Flows: one deliverable, or many at once (the syllabus flow), as DAGs run by the project's scheduler."""

from __future__ import annotations

import contextlib
import json
import os
import time

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.context import RunContext, load_context
from pipeline.dvc_cache import DvcStageCache, why_not_cached
from pipeline.recipes import FIT_STEPS, recipe_of
from pipeline.stages import stage_address, step_edges, step_name
from pipeline.summary import run_summary
from s2p import catalog, telemetry
from s2p.backends import retry_options
from s2p.files import write_json
from scheduler.dag import DAG
from scheduler.executor import Outcome, PrefectEngine, Step, StepsFailed, build_dag, execute
from tasks import steps
from tasks.report import publish_run_report

MAX_CONCURRENCY = 4
FITS_AT_ONCE = 2  # ours and the reference: the cores are shared between two fits
STEP_WORKERS = 3  # the syllabus flow's worker processes: two fits and one lighter step at a time


def flow_steps(contexts: list[RunContext], qualified: bool) -> list[Step]:
    """Every step of every context's deliverable, wired by pipeline.stages (cross-deliverable edges included)."""
    upstreams: dict[str, list[str]] = {}
    for upstream, downstream in step_edges([ctx.deliverable for ctx in contexts], qualified):
        upstreams.setdefault(downstream, []).append(upstream)
    built = []
    on_gpu = _has_gpu()
    for ctx in contexts:
        gpu = {"gpu": 1} if ctx.deliverable.framework == "torch" and on_gpu else {}
        retries = retry_options(ctx.params.retries.count, ctx.params.retries.delay_s)
        for step in recipe_of(ctx.deliverable).steps:
            name = step_name(ctx.deliverable.id, step.name, qualified)
            built.append(
                Step(
                    name,
                    steps.task_for(step).with_options(**retries),  # a backend lost for a moment: Prefect retries
                    {"ctx": ctx},
                    after=tuple(upstreams.get(name, ())),
                    # two GPU trainings never overlap; no more fits at once than FITS_AT_ONCE
                    resources={"fit": 1, **(gpu if step.name == "train" else {})} if step.name in FIT_STEPS else {},
                    stage=stage_address(ctx.run_key, step.stage),
                    group=ctx.run_key,
                    weight=expected_seconds(ctx, step.name),
                )
            )
    return built


def expected_seconds(ctx: RunContext, step: str) -> float:
    """How long a step is expected to take, for the scheduler's critical path: a fit as long as its
    last run's (its training report), a torch fit never run here 30 s, any other step 1 s."""
    reports = {"train": ctx.paths.training_report, "reference": ctx.paths.reference_report}
    if step not in reports:
        return 1.0
    try:
        return max(1.0, float(json.loads(reports[step].read_text())["fit_seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        return 30.0 if ctx.deliverable.framework == "torch" else 1.0


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


@contextlib.contextmanager
def compute_threads(threads: int):
    """BLAS and torch threads per fit while steps run side by side. Two fits that each start a
    thread per core oversubscribe the cores and both crawl: on 2 cores the character LM and its
    torch twin took 534 s each side by side; with one thread each, 36 s and 25 s (alone: 15 s, 7 s)."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def _run(
    steps_to_run: list[Step],
    contexts: list[RunContext],
    skipping_off: str | None,
    in_processes: bool = False,
    concurrency: int = MAX_CONCURRENCY,
) -> tuple[dict[str, Outcome], DAG]:
    """Run the steps on the scheduler, at most ``concurrency`` at once, skipping those DVC holds up to
    date (unless ``skipping_off`` says why not); with ``in_processes`` every step runs in one of
    ``concurrency`` worker processes."""
    threads = max(1, (os.cpu_count() or 1) // FITS_AT_ONCE)
    workers = steps.steps_in_processes(concurrency, threads) if in_processes else contextlib.nullcontext()
    started = time.perf_counter()
    with compute_threads(threads), workers, _dvc_cache(steps_to_run, contexts, skipping_off) as cache:
        outcomes = execute(
            steps_to_run,
            PrefectEngine(),
            max_concurrency=concurrency,
            capacity={"gpu": 1, "fit": FITS_AT_ONCE},
            cache=cache,
        )
    telemetry.flow_finished(steps_to_run, outcomes, time.perf_counter() - started)  # with $S2P_PUSHGATEWAY
    logger = get_run_logger()
    for outcome in outcomes.values():
        if outcome.state == "cached":
            logger.info("%s: cached, not rerun (%s)", outcome.name, outcome.reason)
    return outcomes, build_dag(steps_to_run)


@contextlib.contextmanager
def _dvc_cache(steps_to_run: list[Step], contexts: list[RunContext], skipping_off: str | None):
    """DVC's content-hash skipping for the contexts it can decide for (None when it can for none)."""
    logger = get_run_logger()
    if skipping_off:
        logger.info("content-hash skipping off: %s", skipping_off)
        yield None
        return
    eligible = []
    for ctx in contexts:
        why = why_not_cached(ctx)
        if why:
            logger.info("%s: content-hash skipping off: %s", ctx.run_key, why)
        else:
            eligible.append(ctx)
    if not eligible:
        yield None
        return
    with DvcStageCache(eligible[0].stores.root, steps_to_run, [ctx.run_key for ctx in eligible], logger) as cache:
        yield cache


def _finish(ctx: RunContext, outcomes: dict[str, Outcome], prefix: str = "") -> dict:
    mine = {name.removeprefix(prefix): o for name, o in outcomes.items() if name.startswith(prefix)}
    summary = run_summary(
        ctx, {name: o.state for name, o in mine.items()}, {name: o.reason for name, o in mine.items() if o.reason}
    )
    ok = all(o.succeeded for o in mine.values())
    write_json(
        ctx.paths.run_summary if ok else ctx.paths.failed_run_summary, summary
    )  # a failure keeps the last good one
    return summary


@flow(
    name="deliverable", flow_run_name="{deliverable_id}", task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENCY)
)
def deliverable_flow(
    deliverable_id: str,
    data: str | None = None,
    target: str | None = None,
    size: int | str | None = None,
    force: bool = False,
) -> dict:
    """Data to a packaged champion for one deliverable (on its bundled data, or a CSV/parquet file).

    Steps whose inputs are unchanged since their last success (per DVC) are not rerun unless ``force``."""
    rows, named = (size, None) if isinstance(size, int) else (None, size)  # a row count, or smoke / full
    ctx = load_context(deliverable_id, data=data, target=target, overrides={"size": rows} if rows else None, size=named)
    off = "--force" if force else "parameters overridden on the command line" if size is not None else None
    return run_deliverable(ctx, skipping_off=off)


def run_deliverable(ctx: RunContext, skipping_off: str | None) -> dict:
    """The steps of one run context through the scheduler; the summary, or StepsFailed."""
    outcomes, dag = _run(flow_steps([ctx], qualified=False), [ctx], skipping_off)
    publish_run_report(ctx.run_key, outcomes, dag.to_mermaid())
    summary = _finish(ctx, outcomes)
    if not all(o.succeeded for o in outcomes.values()):
        raise StepsFailed(outcomes)
    return summary


def run_syllabus(
    selection: str = "all", force: bool = False, cluster: str | None = None, size: str | None = None
) -> dict:
    """The syllabus flow on this machine's worker processes, or across the Dask cluster whose
    scheduler is at ``cluster`` (default: $S2P_DASK_SCHEDULER): each step a Prefect task run by a
    Dask worker, in the order and within the resources the project's scheduler decides."""
    cluster = cluster or os.environ.get("S2P_DASK_SCHEDULER") or None
    if cluster is None:
        return syllabus_flow(selection=selection, force=force, size=size)
    from prefect_dask import DaskTaskRunner

    workers = cluster_threads(cluster)
    on_cluster = syllabus_flow.with_options(task_runner=DaskTaskRunner(address=cluster))
    return on_cluster(selection=selection, force=force, cluster=cluster, workers=workers, size=size)


def _refuse_fast(address: str) -> None:
    """A TCP address with nothing listening is refused at once (Dask's client retries it for its whole timeout)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        with socket.create_connection((parts.hostname, parts.port), timeout=5):
            pass


def cluster_threads(address: str) -> int:
    """How many steps the Dask cluster at ``address`` runs at once (its workers' threads), once it is
    known to be usable: a scheduler answers there, it has workers, and they report their task runs to
    the same Prefect server as this flow (a worker without one starts a private server of its own, to
    which the flow never sees its tasks finish)."""
    from distributed import Client
    from prefect.settings import PREFECT_API_URL

    from s2p.errors import BackendUnavailable

    api = PREFECT_API_URL.value()
    if not api:
        raise BackendUnavailable(
            "a Dask cluster's workers report their steps to a Prefect server: start one (`prefect server start`)"
            " and set PREFECT_API_URL here and in the workers' environment"
        )
    try:
        _refuse_fast(address)
        with Client(address, timeout="10s") as client:
            threads = sum(client.nthreads().values())
            reported_to = client.run(_prefect_api_url)
    except OSError as error:
        raise BackendUnavailable(f"no Dask scheduler answers at {address} ({error})") from None
    if threads == 0:
        raise BackendUnavailable(f"the Dask scheduler at {address} has no workers")
    elsewhere = {worker: url for worker, url in reported_to.items() if url != api}
    if elsewhere:
        worker, url = next(iter(elsewhere.items()))
        raise BackendUnavailable(
            f"Dask worker {worker} reports to {url or 'no Prefect server'}, not to {api}: "
            f"start the workers with PREFECT_API_URL={api}"
        )
    return threads


def _prefect_api_url() -> str | None:
    """Run on each Dask worker: the Prefect server it reports to."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@flow(
    name="syllabus", flow_run_name="syllabus-{selection}", task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENCY)
)
def syllabus_flow(
    selection: str = "all", force: bool = False, cluster: str | None = None, workers: int = 0, size: str | None = None
) -> dict:
    """Many deliverables in one flow (``selection``: "all" or a phase), each at ``size`` (smoke, default
    or full; default: default), honouring the catalog's cross-deliverable dependencies; a failing
    deliverable does not stop independent ones. Its steps run in STEP_WORKERS local worker processes,
    or on the ``workers`` threads of a Dask ``cluster`` (the flow's task runner then being Prefect's
    DaskTaskRunner: see run_syllabus)."""
    chosen = catalog.select(None if selection == "all" else selection)
    if not chosen:
        raise ValueError(f"no deliverables in phase {selection!r}")
    contexts = {d.id: load_context(d.id, size=size) for d in chosen}
    all_steps = flow_steps(list(contexts.values()), qualified=True)
    off = "--force" if force else f"--size {size} (dvc.yaml's stages are the default size)" if size else None
    outcomes, dag = _run(
        all_steps,
        list(contexts.values()),
        off,
        in_processes=cluster is None,
        concurrency=workers if cluster else STEP_WORKERS,
    )
    publish_run_report(f"syllabus-{selection}", outcomes, dag.to_mermaid())
    summaries = {key: _finish(ctx, outcomes, prefix=f"{key}.") for key, ctx in contexts.items()}
    if not all(o.succeeded for o in outcomes.values()):
        raise StepsFailed(outcomes)
    return summaries
