"""A run's report as Prefect artifacts: every step's final state, and the DAG as a Mermaid diagram."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from scheduler.executor import CACHED, Outcome


def publish_run_report(key: str, outcomes: dict[str, Outcome], mermaid: str) -> None:
    rows = [
        {
            "step": name,
            "state": outcome.state,
            "seconds": round(outcome.seconds, 3),
            "cached": outcome.state == CACHED,
            "note": outcome.reason or (str(outcome.error) if outcome.error else ""),
        }
        for name, outcome in outcomes.items()
    ]
    safe = key.lower().replace("_", "-").replace(".", "-")
    create_table_artifact(rows, key=f"{safe}-steps", description="Every step's final state")
    create_markdown_artifact(f"```mermaid\n{mermaid}\n```", key=f"{safe}-dag", description="The steps as a DAG")
