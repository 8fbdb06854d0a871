"""monitor: Evidently drift of the served traffic (inference log) against the training data.

Data drift over the features; prediction drift of the served predictions against the
champion's predictions on the training data; quality drift when delayed labels exist (the gate
metric on labeled traffic against the champion's on the held-out split).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pipeline import kinds
from pipeline.context import RunContext
from pipeline.train import split_xy
from s2p import metrics as metric_functions
from s2p.files import atomic_path, write_json
from s2p.sources import DataError
from serving.inference_log import InferenceLog

PREDICTION = "prediction"


@dataclass(frozen=True)
class DriftResult:
    deliverable: str
    drift_detected: bool  # data drift: at least ``threshold`` of the features drifted
    drifted_share: float
    drifted_columns: list[str]
    prediction_drift: bool
    quality: dict | None  # gate metric on labeled traffic vs the held-out split, when labels exist
    retrain_recommended: bool
    columns: int
    current_rows: int
    reference_rows: int
    threshold: float
    html: str
    json: str

    def to_dict(self) -> dict:
        return asdict(self)


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], drift_share: float):
    """Run Evidently's data drift preset over ``columns``; returns the snapshot."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(columns=columns, drift_share=drift_share)], include_tests=True)
    return report.run(
        current_data=Dataset.from_pandas(current[columns], data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns], data_definition=definition),
    )


def summarize(snapshot: dict, features: list[str]) -> tuple[float, list[str], bool]:
    """Share of drifted features, the drifted features, and whether the prediction drifted."""
    drifted = {
        test["metric_config"]["params"]["column"]
        for test in snapshot["tests"]
        if test["metric_config"]["params"]["type"].endswith("ValueDrift") and test["status"] == "FAIL"
    }
    feature_drift = sorted(drifted & set(features))
    return len(feature_drift) / len(features), feature_drift, PREDICTION in drifted


def as_numbers(frame: pd.DataFrame, deliverable) -> pd.DataFrame:
    """The frame with each text feature replaced by its length in words and each tensor feature by
    its mean: the drift tests compare numbers, and a shift in what users send shows first in how
    much they send (how long a text, how bright an image)."""
    from s2p.tensors import flat

    text = [column.name for column in deliverable.features if column.dtype == "text"]
    tensor = [column.name for column in deliverable.features if column.dtype == "tensor"]
    words = {name: frame[name].astype(str).str.split().str.len().astype(float) for name in text}
    means = {name: frame[name].map(lambda value: float(flat(value).mean())) for name in tensor}
    return frame.assign(**words, **means)


def champion_model(ctx: RunContext):
    import mlflow

    from pipeline.registry import CHAMPION, mlflow_client

    mlflow_client(ctx.stores)
    return mlflow.sklearn.load_model(f"models:/{ctx.model_name}@{CHAMPION}")


def quality_drift(ctx: RunContext, model, training: pd.DataFrame, current: pd.DataFrame) -> dict | None:
    labeled = current[current["label"].notna()]
    if len(labeled) < ctx.params.monitor.min_rows:
        return None
    d, gate = ctx.deliverable, ctx.deliverable.gate
    X, y = split_xy(training, d, "test")
    expected = metric_functions.compute([gate.metric], y, kinds.outputs(d, model, X), X, model, d)[gate.metric]
    X_live = kinds.inputs(d, labeled)
    y_live = kinds.targets(d, labeled.rename(columns={"label": d.target.name}))
    served = labeled[PREDICTION].tolist()
    served = np.array(served, dtype=object if d.task in ("encoding", "generation") else None)
    observed = metric_functions.compute([gate.metric], y_live, served, X_live, model, d)[gate.metric]
    tolerance = ctx.params.monitor.quality_tolerance
    worse = expected * (1 - tolerance) if gate.greater_is_better else expected * (1 + tolerance)
    degraded = observed < worse if gate.greater_is_better else observed > worse
    return {
        "metric": gate.metric,
        "labeled_rows": len(labeled),
        "held_out": expected,
        "live": observed,
        "degraded": bool(degraded),
    }


def run_monitor(ctx: RunContext) -> DriftResult:
    settings = ctx.params.monitor
    features = ctx.deliverable.feature_names
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
    reference = training[training["split"] == "train"].copy()
    model = champion_model(ctx)
    d = ctx.deliverable
    reference[PREDICTION] = kinds.scalar(d, kinds.outputs(d, model, kinds.inputs(d, reference)))
    served = current[PREDICTION].tolist()
    ragged = d.task in ("encoding", "generation")
    current = current.assign(**{PREDICTION: kinds.scalar(d, served if ragged else np.array(served))})
    snapshot = drift_report(
        as_numbers(reference, d), as_numbers(current, d), [*features, PREDICTION], settings.drift_share
    )
    share, drifted, prediction_drift = summarize(snapshot.dict(), features)
    quality = quality_drift(ctx, model, training, current)
    out = ctx.paths.monitoring
    html, json_path = out / "drift.html", out / "drift.json"
    with atomic_path(html) as temporary:
        snapshot.save_html(str(temporary))
    with atomic_path(json_path) as temporary:
        snapshot.save_json(str(temporary))
    data_drift = share >= settings.drift_share
    result = DriftResult(
        deliverable=ctx.run_key,
        drift_detected=data_drift,
        drifted_share=share,
        drifted_columns=drifted,
        prediction_drift=prediction_drift,
        quality=quality,
        retrain_recommended=data_drift or bool(quality and quality["degraded"]),
        columns=len(features),
        current_rows=len(current),
        reference_rows=len(reference),
        threshold=settings.drift_share,
        html=str(html),
        json=str(json_path),
    )
    write_json(out / "summary.json", result.to_dict())
    return result
