"""The production loop: monitoring that finds drift starts retraining; retraining is gated like any run.

monitor_flow  -> Evidently over the newest served requests; on drift (or degraded quality on
                 labeled traffic) it triggers retrain_flow: through its deployment when one is
                 served (`s2p deploy`), directly otherwise.
retrain_flow  -> the labeled window of served traffic joins the source data and goes through
                 the whole path; the registry promotes the challenger only if it beats the
                 champion on the same held-out split, then the champion is repackaged.
lifecycle_flow-> what each deliverable's deployment runs: retrain, monitor or train.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from prefect import flow, get_run_logger

from flows.deliverable import deliverable_flow, run_deliverable
from pipeline.context import load_context
from pipeline.retrain import export_labeled_window
from tasks import steps

DEPLOYMENT_FLOW = "lifecycle"


@flow(name="retrain", flow_run_name="retrain-{deliverable_id}")
def retrain_flow(deliverable_id: str, reason: str = "scheduled", window: int | None = None) -> dict:
    """Retrain on the source data plus the newest labeled served requests; gate; repackage."""
    ctx = load_context(deliverable_id)
    new_data, rows = export_labeled_window(ctx, window or ctx.params.monitor.window)
    get_run_logger().info("retraining %s (%s) with %d new labeled rows", deliverable_id, reason, rows)
    summary = run_deliverable(dataclasses.replace(ctx, new_data=new_data), skipping_off="retraining on new data")
    return {**summary, "retrain": {"reason": reason, "new_rows": rows}}


def trigger_retraining(deliverable_id: str, reason: str) -> dict:
    """Through the deliverable's deployment when one is registered on a Prefect server, else directly."""
    deployment = _deployment(deliverable_id)
    if deployment is not None:
        from prefect.deployments import run_deployment

        run = run_deployment(
            f"{DEPLOYMENT_FLOW}/{deliverable_id}",
            parameters={"deliverable_id": deliverable_id, "task": "retrain", "reason": reason},
            timeout=0,
        )
        return {"via": "deployment", "flow_run_id": str(run.id)}
    return {"via": "direct", "result": retrain_flow(deliverable_id, reason=reason)}


def _deployment(deliverable_id: str):
    import os

    if not os.environ.get("PREFECT_API_URL"):
        return None  # a temporary local API has no served deployments
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(f"{DEPLOYMENT_FLOW}/{deliverable_id}")
        except ObjectNotFound:
            return None


@flow(name="monitor", flow_run_name="monitor-{deliverable_id}")
def monitor_flow(deliverable_id: str, retrain: bool | None = None, window: int | None = None) -> dict:
    """Drift of the served traffic against the training data; retraining when it is found."""
    overrides = {"monitor": {"window": window}} if window else None
    ctx = load_context(deliverable_id, overrides=overrides)
    result = steps.monitor(ctx).to_dict()
    wanted = ctx.params.monitor.retrain_on_drift if retrain is None else retrain
    if result["retrain_recommended"] and wanted:
        quality = result["quality"]
        reason = (
            f"drift: {result['drifted_share']:.0%} of features drifted ({', '.join(result['drifted_columns'])})"
            if result["drift_detected"]
            else f"quality: live {quality['metric']} {quality['live']:.4g} vs held-out {quality['held_out']:.4g}"
        )
        result["retraining"] = trigger_retraining(deliverable_id, reason)
    return result


@flow(name=DEPLOYMENT_FLOW, flow_run_name="{task}-{deliverable_id}")
def lifecycle_flow(
    deliverable_id: str,
    task: Literal["retrain", "monitor", "train"] = "retrain",
    reason: str = "scheduled",
    size: int | None = None,
    force: bool = False,
) -> dict:
    """What a deliverable's deployment runs: retrain (with the labeled served traffic), monitor
    (and retrain on drift) or train (the plain pipeline, skipping what DVC holds up to date)."""
    if task == "monitor":
        return monitor_flow(deliverable_id)
    if task == "retrain":
        return retrain_flow(deliverable_id, reason=reason)
    return deliverable_flow(deliverable_id, size=size, force=force)
