"""One Prefect task per recipe step. The work is in the plain step functions (pipeline/recipes.py);
this file only wraps them: each step's task runs its function and reports the result (log lines,
Prefect artifacts) by the step's name; a step without a report of its own logs its result briefly."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipeline import validate as validate_step
from pipeline.context import RunContext
from pipeline.recipes import RecipeStep
from s2p.imports import import_object


def artifact_key(ctx: RunContext, what: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return f"{ctx.run_key}-{what}".lower().replace("_", "-")


def _etl(ctx: RunContext, run):
    result = run(ctx)
    get_run_logger().info(
        "etl: %d rows (%d train, %d test), %d duplicate rows dropped, undeclared columns dropped: %s -> %s",
        result.rows,
        result.train_rows,
        result.test_rows,
        result.duplicates_dropped,
        ", ".join(result.columns_dropped) or "none",
        result.candidate,
    )
    return result


def _validate(ctx: RunContext, run):
    logger = get_run_logger()
    try:
        report = run(ctx)
    except validate_step.ValidationFailed as failure:  # an expected stop: one line here, the details in the table
        columns = sorted({f.column for f in failure.report.failures if f.column})
        logger.error(
            "validate: %d of %d expectations failed (%s); report %s",
            len(failure.report.failures),
            failure.report.expectations,
            ", ".join(columns) or "the table",
            failure.report_path,
        )
        rows = [
            {
                "expectation": f.expectation,
                "column": f.column or "",
                "unexpected": f.unexpected_count,
                "detail": f.detail,
            }
            for f in failure.report.failures
        ]
        create_table_artifact(rows, key=artifact_key(ctx, "validation"), description=f"FAILED: {failure.report_path}")
        raise
    logger.info("validate: %s", report.describe())
    create_markdown_artifact(f"**{ctx.run_key}**: {report.describe()}", key=artifact_key(ctx, "validation"))
    return report


def _features(ctx: RunContext, run):
    result = run(ctx)
    get_run_logger().info("features: view %s, %d rows materialized", result.feature_view, result.materialized_rows)
    return result


def _train(ctx: RunContext, run):
    result = run(ctx)
    get_run_logger().info(
        "train: %s on %s, %d epochs (resumed at %d) in %.3f s%s",
        result.estimator,
        result.device,
        result.epochs,
        result.resumed_from_epoch,
        result.fit_seconds,
        f", {result.samples_per_second:,.0f} samples/s" if result.samples_per_second else "",
    )
    return result


def _reference(ctx: RunContext, run):
    result = run(ctx)
    rate = f", {result.samples_per_second:,.0f} samples/s" if result.samples_per_second else ""
    get_run_logger().info("reference: %s on %s in %.3f s%s", result.estimator, result.device, result.fit_seconds, rate)
    return result


def _evaluate(ctx: RunContext, run):
    result = run(ctx)
    rows = [
        {"metric": name, "ours": result.ours[name], "reference": result.reference[name], "delta": result.delta[name]}
        for name in result.ours
    ]
    create_table_artifact(rows, key=artifact_key(ctx, "metrics"), description=f"{ctx.run_key}: held-out metrics")
    get_run_logger().info("evaluate: ours %s | reference %s", result.ours, result.reference)
    return result


def _register(ctx: RunContext, run):
    decision = run(ctx)
    verdict = "promoted to champion" if decision.promoted else "not promoted"
    text = f"**{decision.model_name} v{decision.version}** {verdict}: {decision.reason}"
    create_markdown_artifact(text, key=artifact_key(ctx, "registry"))
    get_run_logger().info("register: %s v%s %s: %s", decision.model_name, decision.version, verdict, decision.reason)
    return decision


def _package(ctx: RunContext, run):
    info = run(ctx)
    get_run_logger().info("package: %s", info.describe())
    return info


def _monitor(ctx: RunContext, run):
    result = run(ctx)
    verdict = "DRIFT" if result.drift_detected else "no drift"
    text = (
        f"**{result.deliverable}**: {verdict}, {result.drifted_share:.0%} of columns drifted "
        f"({', '.join(result.drifted_columns) or 'none'}) over {result.current_rows} requests. "
        + (f"Feedback: {result.feedback['measure']} {result.feedback['value']:.3g} "
           f"over {result.feedback['rows']} answers. " if result.feedback else "")
        + f"Report: {result.html}"
    )  # fmt: skip
    create_markdown_artifact(text, key=artifact_key(ctx, "drift"))
    create_link_artifact(
        Path(result.html).as_uri(), link_text="Evidently drift report (HTML)", key=artifact_key(ctx, "drift-html")
    )
    create_link_artifact(
        Path(result.json).as_uri(), link_text="Evidently drift snapshot (JSON)", key=artifact_key(ctx, "drift-json")
    )
    get_run_logger().info("monitor: %s", text)
    return result


def _brief(ctx: RunContext, run):
    result = run(ctx)
    get_run_logger().info("%s: %s", ctx.run_key, brief(result))
    return result


def brief(result) -> str:
    """One line for a step's result: its own ``describe()``, else its fields."""
    if hasattr(result, "describe"):
        return result.describe()
    if hasattr(result, "to_dict"):
        return ", ".join(f"{k}={v}" for k, v in result.to_dict().items() if not isinstance(v, list | dict))
    return str(result)


#: Step name -> how its task reports the result of its plain function.
REPORTS = {
    "etl": _etl,
    "validate": _validate,
    "features": _features,
    "train": _train,
    "reference": _reference,
    "evaluate": _evaluate,
    "register": _register,
    "package": _package,
    "monitor": _monitor,
}


_pool: ProcessPoolExecutor | None = None


@contextlib.contextmanager
def steps_in_processes(workers: int, threads: int):
    """Run the steps of the flows started inside in ``workers`` worker processes, each with ``threads``
    compute threads; the flow's own process only schedules, reports and records. Steps in threads of
    one process share one core whenever they run Python (a NumPy GAN's fit, a GPT's many small torch
    ops, validation, MLflow logging, plotting, bento builds): with the fits alone in workers, the
    flow's process ran at 95% of a core while the two fit workers idled 30% of the time."""
    global _pool
    context = multiprocessing.get_context("spawn")  # not fork: the flow's process runs threads
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_limit_threads, initargs=(threads,)) as pool:
        _pool = pool
        try:
            yield pool
        finally:
            _pool = None


def _limit_threads(threads: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)


def _in_worker(function: str, ctx: RunContext):
    """A step's function in a worker process; an error that cannot travel back pickled is sent as text."""
    try:
        return import_object(function)(ctx)
    except Exception as error:
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:
            raise RuntimeError(f"{type(error).__name__}: {error}") from None
        raise


def _dask_computations_stay_local() -> None:
    """On a Dask worker (the syllabus flow on a cluster), a step's own Dask computations (Feast
    materializes through Dask dataframes) run in the step's thread: sent to the cluster they would
    wait for a worker thread, and a single-threaded worker's one thread is the step itself (measured:
    the features step hung until killed)."""
    if "distributed" not in sys.modules:
        return
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not on a worker
        return
    import dask

    dask.config.set(scheduler="synchronous")


@functools.cache
def task_for(step: RecipeStep):
    """The Prefect task of a recipe step: its plain function, reported by the step's name. The function
    runs in a worker process while ``steps_in_processes`` is on."""
    report, function = REPORTS.get(step.name, _brief), step.run()

    def in_process_if_pooled(ctx: RunContext):
        pool = _pool
        if pool is None:
            return function(ctx)
        return pool.submit(_in_worker, step.function, ctx).result()

    def run(ctx: RunContext):
        _dask_computations_stay_local()
        return report(ctx, in_process_if_pooled)

    return task(run, name=step.name, cache_policy=NO_CACHE)


#: The monitoring step, outside the recipes (the lifecycle flow runs it on served traffic).
monitor = task_for(RecipeStep("monitor", (), "monitor", "pipeline.monitor:run_monitor"))
