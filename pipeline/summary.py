"""The one JSON object a run reports (`s2p run D --json`), read from what the steps wrote."""

from __future__ import annotations

from pathlib import Path

from pipeline.context import RunContext
from s2p.files import read_json


def _read(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None


def run_summary(ctx: RunContext, states: dict[str, str], notes: dict[str, str] | None = None) -> dict:
    paths = ctx.paths
    failed_validation = states.get("validate") == "failed"
    validation = _read(paths.failed_validation_report if failed_validation else paths.validation_report)
    evaluation = _read(paths.metrics) if states.get("evaluate") in ("completed", "cached") else None
    decision = _read(paths.registry_decision) if states.get("register") in ("completed", "cached") else None
    bento = _read(paths.bento) if states.get("package") in ("completed", "cached") else None

    def failure_line(failure: dict) -> str:
        count = f": {failure['unexpected_count']} unexpected" if failure["unexpected_count"] is not None else ""
        return f"{failure['expectation']} on {failure['column']}{count} ({failure['detail']})"

    from pipeline.recipes import recipe_of

    recipe = recipe_of(ctx.deliverable)
    written = {name for _, outputs in recipe.stage_files.values() for name in outputs} | {"run_summary"}
    return {
        "deliverable": ctx.deliverable.id,
        "run_key": ctx.run_key,
        "recipe": recipe.name,
        "kind": ctx.deliverable.answer_kind,
        "feature_store": recipe.feature_store,
        "data": ctx.deliverable.source,
        "steps": states,
        "notes": notes or {},
        "metrics": {
            "ours": evaluation["ours"] if evaluation else None,
            "reference": evaluation["reference"] if evaluation else None,
            "fit_seconds": evaluation["fit_seconds"] if evaluation else None,
        },
        "validation": {
            "passed": bool(validation and validation["passed"]),
            "failures": [failure_line(f) for f in validation["failures"]] if validation else None,
        },
        "mlflow": {
            key: (decision or {}).get(key)
            for key in ("tracking_uri", "model_name", "version", "champion_version", "promoted", "reason", "run_id")
        },
        "bento": {"tag": bento["tag"] if bento else None, "reused": bento["reused"] if bento else None},
        "paths": {
            ("summary" if name == "run_summary" else name): str(getattr(paths, name)) for name in sorted(written)
        },
    }
