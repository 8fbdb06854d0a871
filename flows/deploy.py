"""`s2p deploy`: one Prefect deployment per deliverable, served from one long-running process.

Each deployment runs flows.lifecycle.lifecycle_flow with a typed parameter form (the UI's Run
button), and carries two schedules from params.yaml: retraining and monitoring.
"""

from __future__ import annotations

from flows.lifecycle import lifecycle_flow
from s2p.catalog import Deliverable
from s2p.config import DeliverableParams


def deployments(selected: list[tuple[Deliverable, DeliverableParams]]):
    from prefect.schedules import Cron

    built = []
    for deliverable, params in selected:
        ident = {"deliverable_id": deliverable.id}
        built.append(
            lifecycle_flow.to_deployment(
                name=deliverable.id,
                parameters=ident,
                schedules=[
                    Cron(params.schedule.retrain, timezone="UTC", parameters={**ident, "task": "retrain"}),
                    Cron(params.schedule.monitor, timezone="UTC", parameters={**ident, "task": "monitor"}),
                ],
                description=f"{deliverable.title} (phase {deliverable.phase})",
                tags=[f"phase-{deliverable.phase}", deliverable.task],
            )
        )
    return built


def serve_deployments(selected: list[tuple[Deliverable, DeliverableParams]]) -> None:
    """Register the deployments and execute their runs until interrupted."""
    from prefect import serve

    serve(*deployments(selected))
