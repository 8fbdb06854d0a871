"""The flow of one deliverable: its steps as a DAG, dispatched by the project's scheduler."""

from __future__ import annotations

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.context import RunContext, load_context
from pipeline.summary import run_summary
from s2p.files import write_json
from scheduler.executor import COMPLETED, PrefectEngine, Ref, Step, StepsFailed, execute
from tasks import steps


def deliverable_steps(ctx: RunContext) -> list[Step]:
    """etl -> validate -> features -> {train, reference} -> evaluate -> register -> package."""
    return [
        Step("etl", steps.etl, {"ctx": ctx}),
        Step("validate", steps.validate, {"ctx": ctx, "extracted": Ref("etl")}),
        Step("features", steps.features, {"ctx": ctx, "report": Ref("validate")}),
        Step("train", steps.train, {"ctx": ctx, "training_set": Ref("features")}),
        Step("reference", steps.reference, {"ctx": ctx, "training_set": Ref("features")}),
        Step("evaluate", steps.evaluate, {"ctx": ctx, "ours": Ref("train"), "theirs": Ref("reference")}),
        Step("register", steps.register, {"ctx": ctx, "evaluation": Ref("evaluate")}),
        Step("package", steps.package, {"ctx": ctx, "decision": Ref("register")}),
    ]


@flow(name="deliverable", flow_run_name="{deliverable_id}", task_runner=ThreadPoolTaskRunner(max_workers=4))
def deliverable_flow(
    deliverable_id: str, data: str | None = None, target: str | None = None, size: int | None = None
) -> dict:
    """Data to a packaged champion for one deliverable (on its bundled data, or a CSV/parquet file)."""
    ctx = load_context(deliverable_id, data=data, target=target, overrides={"size": size} if size else None)
    outcomes = execute(deliverable_steps(ctx), PrefectEngine())
    results = {name: o.result for name, o in outcomes.items() if o.state == COMPLETED}
    summary = run_summary(ctx, results, {name: o.state for name, o in outcomes.items()})
    if any(o.state != COMPLETED for o in outcomes.values()):
        write_json(ctx.paths.failed_run_summary, summary)  # the last good summary stays
        raise StepsFailed(outcomes)
    write_json(ctx.paths.run_summary, summary)
    return summary


@flow(name="monitor", flow_run_name="monitor-{deliverable_id}")
def monitor_flow(deliverable_id: str, data: str | None = None, target: str | None = None) -> dict:
    """Drift of the served traffic against the training data (Evidently)."""
    ctx = load_context(deliverable_id, data=data, target=target)
    return steps.monitor(ctx).to_dict()
