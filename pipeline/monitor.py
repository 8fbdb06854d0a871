"""monitor: Evidently drift of the served traffic (inference log) against reference traffic.

Drift is measured on the answer kind's descriptors (serving/kinds.py), each with its Evidently
column type: the features of a table (class ids categorical, a text by its length and
out-of-vocabulary share, an image by its mean and spread), a prompt, an observation, a query.
The reference is the training split with the champion's answers to it or, for kinds whose
requests are not rows (text generation, actions, searches), the request-like rows the recipe
records. Data drift over the request descriptors; prediction drift over the answer's; quality
drift when delayed labels are the target (the gate metric on labeled traffic against the
champion's on the held-out split); otherwise the kind's summary of the feedback given (the share
of thumbs up, the mean reward, the recall of served rankings).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pipeline import kinds
from pipeline.context import RunContext
from pipeline.package import kind_spec
from pipeline.train import split_xy
from s2p import metrics as metric_functions
from s2p import telemetry
from s2p.files import atomic_path, write_json
from s2p.sources import DataError
from serving.inference_log import InferenceLog
from serving.kinds import CATEGORICAL, NUMERICAL, PREDICTION, Descriptor, Kind

#: Request-like rows a recipe records as the reference traffic of a kind that is not a table.
REFERENCE_REQUESTS = "reference_requests.parquet"


@dataclass(frozen=True)
class DriftResult:
    deliverable: str
    drift_detected: bool  # data drift: at least ``threshold`` of the features drifted
    drifted_share: float
    drifted_columns: list[str]
    prediction_drift: bool
    quality: dict | None  # gate metric on labeled traffic vs the held-out split, when labels exist
    feedback: dict | None  # live quality from feedback that is no target: thumbs, rewards, relevant documents
    retrain_recommended: bool
    columns: int
    current_rows: int
    reference_rows: int
    threshold: float
    html: str
    json: str

    def to_dict(self) -> dict:
        return asdict(self)


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, descriptors: list[Descriptor], drift_share: float):
    """Run Evidently's data drift preset over the kind's descriptors, each with its column type
    (class ids categorical, numbers and text lengths numerical); returns the snapshot."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [descriptor.name for descriptor in descriptors]
    definition = DataDefinition(
        numerical_columns=[d.name for d in descriptors if d.type == NUMERICAL],
        categorical_columns=[d.name for d in descriptors if d.type == CATEGORICAL],
    )
    report = Report([DataDriftPreset(columns=columns, drift_share=drift_share)], include_tests=True)
    return report.run(
        current_data=Dataset.from_pandas(current[columns], data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns], data_definition=definition),
    )


def summarize(snapshot: dict, descriptors: list[Descriptor]) -> tuple[float, list[str], bool]:
    """Share of drifted request descriptors, those descriptors, and whether an answer's drifted."""
    drifted = {
        test["metric_config"]["params"]["column"]
        for test in snapshot["tests"]
        if test["metric_config"]["params"]["type"].endswith("ValueDrift") and test["status"] == "FAIL"
    }
    requests = [d.name for d in descriptors if d.of == "request"]
    answers = {d.name for d in descriptors if d.of == "answer"}
    request_drift = sorted(drifted & set(requests))
    return len(request_drift) / len(requests), request_drift, bool(drifted & answers)


def reference_traffic(ctx: RunContext, kind: Kind, model) -> tuple[pd.DataFrame, list | None]:
    """What served traffic is compared with, and its answers (None when not recorded): the
    recipe's request-like rows (``reference_requests.parquet``: columns named like the logged
    request fields, and ``prediction`` in the logged answer's form where recorded) when they exist,
    else the training split and the champion's answers to it."""
    recorded = ctx.paths.data / REFERENCE_REQUESTS
    if recorded.exists():
        frame = pd.read_parquet(recorded)
        return frame, frame[PREDICTION].tolist() if PREDICTION in frame else None
    if not kind.reference_is_training_set:
        raise DataError(f"{ctx.run_key}: no reference traffic at {recorded}; run the pipeline first")
    if not ctx.paths.training_set.exists():
        raise DataError(f"{ctx.run_key}: no training set at {ctx.paths.training_set}; run the pipeline first")
    training = pd.read_parquet(ctx.paths.training_set)
    reference = training[training["split"] == "train"].reset_index(drop=True)
    d = ctx.deliverable
    return reference, [kind.to_json(value) for value in kinds.outputs(d, model, kinds.inputs(d, reference))]


def as_array(values: list) -> np.ndarray:
    """Served answers as one array: numbers, vectors, or (ragged, token ids) an array of lists."""
    try:
        return np.array(values)
    except ValueError:  # ragged
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array


def champion_model(ctx: RunContext):
    """The registered champion as it was fitted (a pickle, or a directory-stored torch model)."""
    from pipeline.registry import CHAMPION, load_registered, mlflow_client

    mlflow_client(ctx.stores)
    return load_registered(ctx.model_name, f"@{CHAMPION}")


def quality_drift(ctx: RunContext, kind: Kind, model, current: pd.DataFrame) -> dict | None:
    """The gate metric on labeled traffic against the champion's on the held-out split, for kinds
    whose feedback is the target (others keep their feedback in the log: thumbs, rewards)."""
    labeled = current[current["label"].notna()]
    if not kind.labels_are_targets or len(labeled) < ctx.params.monitor.min_rows:
        return None
    d, gate = ctx.deliverable, ctx.deliverable.gate
    X, y = split_xy(pd.read_parquet(ctx.paths.training_set), d, "test")
    expected = metric_functions.compute([gate.metric], y, kinds.outputs(d, model, X), X, model, d)[gate.metric]
    X_live = kinds.inputs(d, labeled)
    y_live = kinds.targets(d, labeled.rename(columns={"label": d.target.name}))
    served = as_array(labeled[PREDICTION].tolist())
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
    kind = kinds.kind_of(ctx.deliverable, kind_spec(ctx))
    model = champion_model(ctx)
    vocabulary = getattr(model, "vocabulary", None)
    reference, reference_answers = reference_traffic(ctx, kind, model)
    descriptors = kind.descriptors(vocabulary is not None)
    if reference_answers is None:  # recorded requests without answers: requests drift alone
        descriptors = [d for d in descriptors if d.of == "request"]
    answers = current[PREDICTION].tolist() if reference_answers is not None else None
    snapshot = drift_report(
        kind.describe(reference, reference_answers, vocabulary),
        kind.describe(current, answers, vocabulary),
        descriptors,
        settings.drift_share,
    )
    share, drifted, prediction_drift = summarize(snapshot.dict(), descriptors)
    quality = quality_drift(ctx, kind, model, current)
    given = current[current["feedback"].notna()]
    feedback = kind.feedback_summary(given["feedback"].tolist(), given[PREDICTION].tolist())
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
        feedback=feedback,
        retrain_recommended=data_drift or bool(quality and quality["degraded"]),
        columns=sum(d.of == "request" for d in descriptors),
        current_rows=len(current),
        reference_rows=len(reference),
        threshold=settings.drift_share,
        html=str(html),
        json=str(json_path),
    )
    write_json(out / "summary.json", result.to_dict())
    telemetry.drift_measured(result)
    return result
