"""monitor: Evidently data drift of the served traffic (inference log) against the training data."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from pipeline.context import RunContext
from s2p.files import atomic_path, write_json
from s2p.sources import DataError
from serving.inference_log import InferenceLog


@dataclass(frozen=True)
class DriftResult:
    deliverable: str
    drift_detected: bool
    drifted_share: float
    drifted_columns: list[str]
    columns: int
    current_rows: int
    reference_rows: int
    threshold: float
    html: str
    json: str

    def to_dict(self) -> dict:
        return asdict(self)


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], drift_share: float):
    """Run Evidently's data drift preset; returns the snapshot."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(columns=columns, drift_share=drift_share)], include_tests=True)
    return report.run(
        current_data=Dataset.from_pandas(current[columns], data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns], data_definition=definition),
    )


def summarize(snapshot: dict) -> tuple[float, list[str]]:
    """The drifted share and the drifted columns, read from the snapshot's metrics and tests."""
    share = next(
        metric["value"]["share"]
        for metric in snapshot["metrics"]
        if metric["config"]["type"].endswith("DriftedColumnsCount")
    )
    drifted = [
        test["metric_config"]["params"]["column"]
        for test in snapshot["tests"]
        if test["metric_config"]["params"]["type"].endswith("ValueDrift") and test["status"] == "FAIL"
    ]
    return float(share), sorted(drifted)


def run_monitor(ctx: RunContext) -> DriftResult:
    settings = ctx.params.monitor
    columns = ctx.deliverable.feature_names
    log = InferenceLog(ctx.stores.inference_db)
    try:
        current = log.recent(ctx.run_key, settings.window)
    finally:
        log.close()
    if len(current) < settings.min_rows:
        raise DataError(
            f"{ctx.run_key}: only {len(current)} logged predictions in {ctx.stores.inference_db}; "
            f"drift needs at least {settings.min_rows} (serve the model and send traffic first)"
        )
    if not ctx.paths.training_set.exists():
        raise DataError(f"{ctx.run_key}: no training set at {ctx.paths.training_set}; run the pipeline first")
    training = pd.read_parquet(ctx.paths.training_set)
    reference = training[training["split"] == "train"]
    snapshot = drift_report(reference, current, columns, settings.drift_share)
    share, drifted = summarize(snapshot.dict())
    out = ctx.paths.monitoring
    html, json_path = out / "drift.html", out / "drift.json"
    with atomic_path(html) as temporary:
        snapshot.save_html(str(temporary))
    with atomic_path(json_path) as temporary:
        snapshot.save_json(str(temporary))
    result = DriftResult(
        deliverable=ctx.run_key,
        drift_detected=share >= settings.drift_share,
        drifted_share=share,
        drifted_columns=drifted,
        columns=len(columns),
        current_rows=len(current),
        reference_rows=len(reference),
        threshold=settings.drift_share,
        html=str(html),
        json=str(json_path),
    )
    write_json(out / "summary.json", result.to_dict())
    return result
