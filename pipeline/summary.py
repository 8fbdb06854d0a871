"""The one JSON object a run reports (`s2p run D --json`)."""

from __future__ import annotations

from typing import Any

from pipeline.context import RunContext


def run_summary(ctx: RunContext, results: dict[str, Any], states: dict[str, str]) -> dict:
    paths = ctx.paths
    validation = results.get("validate")
    evaluation = results.get("evaluate")
    decision = results.get("register")
    bento = results.get("package")
    return {
        "deliverable": ctx.deliverable.id,
        "run_key": ctx.run_key,
        "data": ctx.deliverable.source,
        "steps": states,
        "metrics": {
            "ours": evaluation.ours if evaluation else None,
            "reference": evaluation.reference if evaluation else None,
            "fit_seconds": evaluation.fit_seconds if evaluation else None,
        },
        "validation": {
            "passed": validation.passed if validation else False,
            "failures": [f.line() for f in validation.failures] if validation else None,
        },
        "mlflow": {
            key: getattr(decision, key, None)
            for key in ("tracking_uri", "model_name", "version", "champion_version", "promoted", "reason", "run_id")
        },
        "bento": {"tag": bento.tag if bento else None, "reused": bento.reused if bento else None},
        "paths": {
            "dataset": str(paths.dataset),
            "training_set": str(paths.training_set),
            "validation_report": str(paths.validation_report),
            "model": str(paths.model),
            "metrics": str(paths.metrics),
            "plots": str(paths.plots),
            "registry_decision": str(paths.registry_decision),
            "bento": str(paths.bento),
            "summary": str(paths.run_summary),
        },
    }
