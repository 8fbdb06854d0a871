"""The audit recipe's steps: an upstream deliverable's champion -> an audit of it -> a mitigation -> a gate.

    champion   the upstream's champion, read from the MLflow registry (its version recorded), and the
               upstream's held-out rows it never trained on, split into a calibration part (where a
               mitigation is fitted) and a test part (where before and after are measured)
    validate   Great Expectations on those rows: the sensitive column and the target binary, every
               (group, label) cell populated; an upstream without a champion stops here, named
    train      ours (a mitigation of the champion, e.g. per-group thresholds) on the calibration part,
               and the reference (fairlearn's ThresholdOptimizer) on the same rows
    evaluate   the declared metrics of the mitigated models on the test part, the champion's own
               figures before mitigation, and the report (tables, plots, HTML) beside them

Register (the declaration's gate: a bar and limits, the reason logged either way) and package are
the shared steps: the mitigated model is served like its upstream, on the same feature rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pipeline.context import RunContext
from pipeline.evaluate import Evaluation, record_evaluation
from pipeline.train import TrainResult, fit_timed, side
from pipeline.validate import Failure, ValidationFailed, ValidationReport, accept_candidate, check_frame
from s2p.files import atomic_path, read_json, read_pickle, write_json, write_pickle
from s2p.metrics import compute

PART = "part"  # calibration | test


@dataclass(frozen=True)
class ChampionResult:
    upstream: str
    version: str
    run_id: str
    rows: int

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.upstream} v{self.version} (run {self.run_id}), {self.rows} held-out rows to audit"


def upstream_of(ctx: RunContext):
    """The upstream deliverable and its stores' paths (its bundled-data run)."""
    from s2p import catalog

    upstream = catalog.get(ctx.deliverable.upstream)
    return upstream, ctx.stores.run_paths(upstream.id)


def _candidate(ctx: RunContext):
    return ctx.paths.data / "candidate_audit_set.parquet"


def _stop(ctx: RunContext, expectation: str, detail: str):
    report = ValidationReport(passed=False, rows=0, expectations=1, failures=[Failure(expectation, None, None, detail)])
    write_json(ctx.paths.failed_validation_report, report.to_dict())
    raise ValidationFailed(report, str(ctx.paths.failed_validation_report))


def fetch_champion(ctx: RunContext) -> ChampionResult:
    from mlflow.exceptions import MlflowException

    from pipeline.registry import CHAMPION, mlflow_client

    upstream, paths = upstream_of(ctx)
    client = mlflow_client(ctx.stores)
    try:
        version = client.get_model_version_by_alias(upstream.id, CHAMPION)
    except MlflowException:
        _stop(ctx, "upstream_champion", f"{upstream.id} has no champion in the registry at "
              f"{ctx.stores.mlflow_tracking_uri}: run `s2p run {upstream.id}` first")  # fmt: skip
    if not paths.training_set.exists():
        _stop(ctx, "upstream_rows", f"{upstream.id}'s held-out rows are missing ({paths.training_set})")
    frame = pd.read_parquet(paths.training_set)
    held_out = frame[frame["split"] == "test"][[*upstream.feature_names, upstream.target.name]]
    rng = np.random.default_rng(ctx.params.seed)
    cells = held_out[ctx.params.model.get("sensitive_feature", "sex")].astype(str) + held_out[
        upstream.target.name
    ].astype(str)
    part = np.empty(len(held_out), dtype=object)
    for cell in cells.unique():  # half of every (group, label) cell calibrates, the other half tests
        rows = np.flatnonzero((cells == cell).to_numpy())
        rng.shuffle(rows)
        part[rows[: len(rows) // 2]], part[rows[len(rows) // 2 :]] = "calibration", "test"
    with atomic_path(_candidate(ctx)) as temporary:
        held_out.assign(**{PART: part}).to_parquet(temporary, index=False)
    result = ChampionResult(upstream.id, str(version.version), version.run_id, len(held_out))
    write_json(ctx.paths.artifacts / "upstream.json", result.to_dict())
    return result


def audit_expectations(sensitive: str, target: str, min_cell: int) -> list:
    import great_expectations.expectations as E

    return [
        E.ExpectColumnValuesToBeInSet(column=sensitive, value_set=[0, 1]),
        E.ExpectColumnValuesToBeInSet(column=target, value_set=[0, 1]),
        E.ExpectColumnValuesToBeInSet(column=PART, value_set=["calibration", "test"]),
        E.ExpectColumnDistinctValuesToEqualSet(column="cell", value_set=["0|0", "0|1", "1|0", "1|1"]),
        E.ExpectColumnValuesToBeBetween(column="cell_rows", min_value=min_cell),
    ]


def validate_audit_set(ctx: RunContext) -> ValidationReport:
    upstream, _ = upstream_of(ctx)
    frame = pd.read_parquet(_candidate(ctx))
    sensitive, target = ctx.params.model.get("sensitive_feature", "sex"), upstream.target.name
    cell = frame[sensitive].astype(str) + "|" + frame[target].astype(str)
    checked = frame.assign(cell=cell, cell_rows=cell.map(cell.value_counts()))
    report = check_frame(checked, ctx.deliverable.id, audit_expectations(sensitive, target, min_cell=10))
    accept_candidate(ctx, report, _candidate(ctx), ctx.paths.audit_set, ctx.paths.data / "rejected_audit_set.parquet")
    test = frame[frame[PART] == "test"][upstream.feature_names]
    with atomic_path(ctx.paths.reference_requests) as temporary:  # the traffic the monitor compares with
        test.to_parquet(temporary, index=False)
    return report


def audit_parts(ctx: RunContext):
    """(calibration, test): each (X as a DataFrame of the upstream's features, y)."""
    upstream, _ = upstream_of(ctx)
    frame = pd.read_parquet(ctx.paths.audit_set)
    parts = {}
    for name in ("calibration", "test"):
        rows = frame[frame[PART] == name]
        parts[name] = (rows[upstream.feature_names], rows[upstream.target.name].to_numpy())
    return parts["calibration"], parts["test"]


def champion_model(ctx: RunContext):
    """The exact upstream version the champion step recorded (the alias may have moved since)."""
    from pipeline.registry import load_registered

    recorded = read_json(ctx.paths.artifacts / "upstream.json")
    return load_registered(recorded["upstream"], recorded["version"])


def _mitigate(ctx: RunContext, who: str) -> TrainResult:
    (X, y), _ = audit_parts(ctx)
    chosen = side(ctx, who)
    estimator, elapsed = fit_timed(
        ctx, chosen, lambda mitigation: mitigation.fit(X, y), {"estimator": champion_model(ctx)}
    )
    write_pickle(chosen.pickle_path, estimator)
    result = TrainResult(chosen.import_path, "cpu", elapsed, 0, 0, None, [], len(y) / elapsed if elapsed else None)
    write_json(chosen.report, result.to_dict())
    return result


def mitigate(ctx: RunContext) -> TrainResult:
    return _mitigate(ctx, "ours")


def mitigate_reference(ctx: RunContext) -> TrainResult:
    return _mitigate(ctx, "reference")


def evaluate_audit(ctx: RunContext) -> Evaluation:
    from s2p.imports import import_object

    d, paths = ctx.deliverable, ctx.paths
    _, (X, y) = audit_parts(ctx)
    models = {"ours": read_pickle(paths.model), "reference": read_pickle(paths.reference_model)}
    predictions = {name: np.asarray(model.predict(X)) for name, model in models.items()}
    scores = {name: compute(d.metrics, y, predictions[name], X, model, d) for name, model in models.items()}
    before = np.asarray(models["ours"].estimator.predict(X))
    group = X.iloc[:, models["ours"].sensitive_index_].to_numpy()
    summary = import_object(f"{d.package}.metrics:fairness_summary")
    decision = import_object(f"{d.package}.model:gate")(
        summary(y, before, group), summary(y, predictions["ours"], group)
    )
    report = import_object(f"{d.package}.report:audit_report")(
        paths.report,
        y,
        group,
        {
            "champion (before)": before,
            "ours (after)": predictions["ours"],
            "fairlearn (after)": predictions["reference"],
        },
        group_labels={0: "female", 1: "male"},
        decision=decision,
    )
    return record_evaluation(ctx, scores, len(y), report.files.values())
