"""One Prefect task per pipeline step. The work is in pipeline/; this file only wraps it."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipeline import etl as etl_step
from pipeline import evaluate as evaluate_step
from pipeline import features as features_step
from pipeline import monitor as monitor_step
from pipeline import package as package_step
from pipeline import registry as registry_step
from pipeline import train as train_step
from pipeline import validate as validate_step
from pipeline.context import RunContext


def artifact_key(ctx: RunContext, what: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return f"{ctx.run_key}-{what}".lower().replace("_", "-")


@task(name="etl", cache_policy=NO_CACHE)
def etl(ctx: RunContext) -> etl_step.EtlResult:
    result = etl_step.run_etl(ctx)
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


@task(name="validate", cache_policy=NO_CACHE)
def validate(ctx: RunContext) -> validate_step.ValidationReport:
    logger = get_run_logger()
    try:
        report = validate_step.run_validate(ctx)
    except validate_step.ValidationFailed as failure:
        logger.error("%s", failure)
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


@task(name="features", cache_policy=NO_CACHE)
def features(ctx: RunContext) -> features_step.FeaturesResult:
    result = features_step.run_features(ctx)
    get_run_logger().info("features: view %s, %d rows materialized", result.feature_view, result.materialized_rows)
    return result


@task(name="train", cache_policy=NO_CACHE)
def train(ctx: RunContext) -> train_step.TrainResult:
    result = train_step.train_model(ctx)
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


@task(name="reference", cache_policy=NO_CACHE)
def reference(ctx: RunContext) -> train_step.TrainResult:
    result = train_step.fit_reference(ctx)
    rate = f", {result.samples_per_second:,.0f} samples/s" if result.samples_per_second else ""
    get_run_logger().info("reference: %s on %s in %.3f s%s", result.estimator, result.device, result.fit_seconds, rate)
    return result


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate(ctx: RunContext) -> evaluate_step.Evaluation:
    result = evaluate_step.run_evaluate(ctx)
    rows = [
        {"metric": name, "ours": result.ours[name], "reference": result.reference[name], "delta": result.delta[name]}
        for name in result.ours
    ]
    create_table_artifact(rows, key=artifact_key(ctx, "metrics"), description=f"{ctx.run_key}: held-out metrics")
    get_run_logger().info("evaluate: ours %s | reference %s", result.ours, result.reference)
    return result


@task(name="register", cache_policy=NO_CACHE)
def register(ctx: RunContext) -> registry_step.RegistryDecision:
    decision = registry_step.run_register(ctx)
    verdict = "promoted to champion" if decision.promoted else "not promoted"
    text = f"**{decision.model_name} v{decision.version}** {verdict}: {decision.reason}"
    create_markdown_artifact(text, key=artifact_key(ctx, "registry"))
    get_run_logger().info("register: %s v%s %s: %s", decision.model_name, decision.version, verdict, decision.reason)
    return decision


@task(name="package", cache_policy=NO_CACHE)
def package(ctx: RunContext) -> package_step.BentoInfo:
    info = package_step.run_package(ctx)
    get_run_logger().info("package: bento %s (%s)", info.tag, "reused" if info.reused else "built")
    return info


@task(name="monitor", cache_policy=NO_CACHE)
def monitor(ctx: RunContext) -> monitor_step.DriftResult:
    result = monitor_step.run_monitor(ctx)
    verdict = "DRIFT" if result.drift_detected else "no drift"
    text = (
        f"**{result.deliverable}**: {verdict}, {result.drifted_share:.0%} of columns drifted "
        f"({', '.join(result.drifted_columns) or 'none'}) over {result.current_rows} requests. "
        f"Report: {result.html}"
    )
    create_markdown_artifact(text, key=artifact_key(ctx, "drift"))
    create_link_artifact(
        Path(result.html).as_uri(), link_text="Evidently drift report (HTML)", key=artifact_key(ctx, "drift-html")
    )
    create_link_artifact(
        Path(result.json).as_uri(), link_text="Evidently drift snapshot (JSON)", key=artifact_key(ctx, "drift-json")
    )
    get_run_logger().info("monitor: %s", text)
    return result


#: Step name (pipeline.stages.STEPS) -> its Prefect task.
TASKS = {
    "etl": etl,
    "validate": validate,
    "features": features,
    "train": train,
    "reference": reference,
    "evaluate": evaluate,
    "register": register,
    "package": package,
}
