"""validate: a Great Expectations suite derived from the catalog guards everything downstream.

On success the candidate dataset becomes the dataset (one atomic rename). On failure the
candidate is kept aside as ``rejected.parquet``, a report naming each failed expectation and its
unexpected count is written beside (never over) the last good report, and ValidationFailed is
raised so that nothing downstream runs.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import pandas as pd

from pipeline.context import RunContext
from s2p import telemetry
from s2p.catalog import Deliverable
from s2p.files import write_json

NUMERIC_TYPES = ["float64", "float32", "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8"]
#: The largest magnitude a number without declared bounds may have (a user's file, an open-ended
#: measurement): the models square and sum their inputs (variances, Gram matrices, squared errors),
#: and (1e150)^2 = 1e300 leaves a factor of 1e8 below float64's largest value (1.8e308) for those
#: sums; a value of 1e308 would overflow to inf in the first square. The check also rejects inf.
MAGNITUDE = 1e150
MAGNITUDE_WHY = (
    "no bound declared, so |x| <= 1e150: the models square and sum their inputs; larger values overflow float64"
)
#: Targets a model learns from: a constant one leaves nothing to learn (and breaks the metrics).
LEARNED_TARGETS = ("regression", "classification")


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    unexpected_count: int | None
    detail: str

    def line(self) -> str:
        where = f" on {self.column}" if self.column else ""
        count = f": {self.unexpected_count} unexpected" if self.unexpected_count is not None else ""
        return f"{self.expectation}{where}{count} ({self.detail})"


@dataclass(frozen=True)
class ValidationReport:
    passed: bool
    rows: int
    expectations: int
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.passed:
            return f"all {self.expectations} expectations passed on {self.rows} rows"
        lines = "\n".join(f"  - {failure.line()}" for failure in self.failures)
        return f"{len(self.failures)} of {self.expectations} expectations failed on {self.rows} rows:\n{lines}"


class ValidationFailed(RuntimeError):
    def __init__(self, report: ValidationReport, report_path: str):
        self.report = report
        self.report_path = report_path
        super().__init__(f"validation failed: {report.describe()}\nreport: {report_path}")

    def __reduce__(self):  # travels back whole from a worker process (the flow reports its table)
        return ValidationFailed, (self.report, self.report_path)


def build_suite(deliverable: Deliverable, min_rows: int):
    """The expectations every dataset of this deliverable must meet, derived from its columns."""
    import great_expectations as gx

    E = gx.expectations
    columns = [*deliverable.features, deliverable.target]
    names = ["entity_id", "event_timestamp", *_profiled_names(columns), "split"]
    suite = gx.ExpectationSuite(name=f"{deliverable.id}_dataset")
    suite.add_expectation(E.ExpectTableColumnsToMatchSet(column_set=names, exact_match=True))
    suite.add_expectation(E.ExpectTableRowCountToBeBetween(min_value=min_rows))
    suite.add_expectation(E.ExpectColumnValuesToBeUnique(column="entity_id"))
    suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column="event_timestamp"))
    suite.add_expectation(E.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]))
    for column in deliverable.tensor_columns:  # judged on each row's profile (s2p/tensors.py)
        _tensor_expectations(suite, E, column)
    for column in deliverable.features:  # a constant feature carries nothing: a sign of a broken feed
        if column.dtype == "tensor":
            continue
        if column.varies and column.dtype == "text":
            suite.add_expectation(E.ExpectColumnUniqueValueCountToBeBetween(column=column.name, min_value=2))
        elif column.varies:
            suite.add_expectation(E.ExpectColumnStdevToBeBetween(column=column.name, min_value=0, strict_min=True))
    for column in columns:  # classes outside the known label set, and a lopsided class balance
        if column.values is not None and column.dtype != "tensor":
            suite.add_expectation(E.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.values)))
        if column.max_imbalance is not None:
            uniform = {"values": list(column.values), "weights": [1 / len(column.values)] * len(column.values)}
            suite.add_expectation(
                E.ExpectColumnKLDivergenceToBeLessThan(
                    column=column.name, partition_object=uniform, threshold=column.max_imbalance
                )
            )
    for column in columns:
        if column.dtype == "tensor":
            continue
        suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column=column.name))
        if column.dtype == "text":
            suite.add_expectation(E.ExpectColumnValuesToBeInTypeList(column=column.name, type_list=["str"]))
            suite.add_expectation(
                E.ExpectColumnValueLengthsToBeBetween(column=column.name, min_value=column.min, max_value=column.max)
            )
            blank = {"why": "blank text: only whitespace, no word to read"}  # empty: the length bound says so
            suite.add_expectation(E.ExpectColumnValuesToNotMatchRegex(column=column.name, regex=r"^\s+$", meta=blank))
            continue
        suite.add_expectation(E.ExpectColumnValuesToBeInTypeList(column=column.name, type_list=NUMERIC_TYPES))
        low = -MAGNITUDE if column.min is None else column.min
        high = MAGNITUDE if column.max is None else column.max
        why = {"why": MAGNITUDE_WHY} if column.min is None or column.max is None else None
        suite.add_expectation(
            E.ExpectColumnValuesToBeBetween(column=column.name, min_value=low, max_value=high, meta=why)
        )
    target = deliverable.target
    if deliverable.task in LEARNED_TARGETS and target.dtype != "tensor":
        suite.add_expectation(
            E.ExpectColumnUniqueValueCountToBeBetween(
                column=target.name, min_value=2, meta={"why": f"the target {target.name} is constant: nothing to learn"}
            )
        )
    return suite


def _profiled_names(columns) -> list[str]:
    """Column names as Great Expectations sees them: a tensor column becomes its profile."""
    from s2p.tensors import PROFILE

    names = []
    for column in columns:
        names += [f"{column.name}_{stat}" for stat in PROFILE] if column.dtype == "tensor" else [column.name]
    return names


def _tensor_expectations(suite, E, column) -> None:
    """Every row an array of the declared size, finite, inside the declared range; rows that vary."""
    import math

    name = column.name
    for stat in ("size", "min", "max", "mean"):
        suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column=f"{name}_{stat}"))
    suite.add_expectation(E.ExpectColumnValuesToBeInSet(column=f"{name}_size", value_set=[math.prod(column.shape)]))
    suite.add_expectation(E.ExpectColumnValuesToBeBetween(column=f"{name}_nonfinite", min_value=0, max_value=0))
    if column.min is not None:
        suite.add_expectation(E.ExpectColumnValuesToBeBetween(column=f"{name}_min", min_value=column.min))
    if column.max is not None:
        suite.add_expectation(E.ExpectColumnValuesToBeBetween(column=f"{name}_max", max_value=column.max))
    if column.varies:  # every row the same array: a broken feed
        suite.add_expectation(E.ExpectColumnStdevToBeBetween(column=f"{name}_mean", min_value=0, strict_min=True))


def profiled(frame: pd.DataFrame, deliverable: Deliverable) -> pd.DataFrame:
    """The frame with each tensor column replaced by its per-row profile, in place."""
    from s2p.tensors import profile

    for column in deliverable.tensor_columns:
        if column.name in frame.columns:
            position = frame.columns.get_loc(column.name)
            stats = profile(frame[column.name], column.name)
            frame = pd.concat([frame.iloc[:, :position], stats, frame.iloc[:, position + 1 :]], axis=1)
    return frame


def validate_frame(frame: pd.DataFrame, deliverable: Deliverable, min_rows: int) -> ValidationReport:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("s2p").add_dataframe_asset(name=deliverable.id)
    frame = profiled(frame, deliverable)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    suite = build_suite(deliverable, min_rows)
    results = batch.validate(suite, result_format="SUMMARY").results
    failures = [_failure(result) for result in results if not result.success]
    return ValidationReport(passed=not failures, rows=len(frame), expectations=len(results), failures=failures)


def _failure(result) -> Failure:
    config = result.expectation_config
    kwargs = dict(config.kwargs)
    outcome = result.result or {}
    exception = _exception_message(result.exception_info or {})
    if exception:
        detail = f"could not be evaluated: {exception.splitlines()[0]}"
    elif "observed_value" in outcome:
        detail = f"observed {outcome['observed_value']!r}"
    else:
        partial = outcome.get("partial_unexpected_list") or []
        detail = f"e.g. {partial[:3]!r}" if partial else "failed"
    expected = {k: v for k, v in kwargs.items() if k not in ("column", "batch_id") and v is not None}
    why = (config.meta or {}).get("why")
    detail = f"{detail}; expected {expected}" if expected else detail
    return Failure(
        expectation=config.type,
        column=kwargs.get("column"),
        unexpected_count=outcome.get("unexpected_count"),
        detail=f"{why}: {detail}" if why else detail,
    )


def _exception_message(info: dict) -> str | None:
    """GX nests exceptions per metric when a metric could not be computed (a missing column, say)."""
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("exception_message"):
            return nested["exception_message"]
    return None


def run_validate(ctx: RunContext) -> ValidationReport:
    paths = ctx.paths
    frame = pd.read_parquet(paths.candidate)
    report = validate_frame(frame, ctx.deliverable, ctx.deliverable.min_rows)
    telemetry.validation_finished(ctx.run_key, report)
    if not report.passed:
        write_json(paths.failed_validation_report, report.to_dict())
        os.replace(paths.candidate, paths.rejected)
        raise ValidationFailed(report, str(paths.failed_validation_report))
    write_json(paths.validation_report, report.to_dict())
    os.replace(paths.candidate, paths.dataset)
    paths.failed_validation_report.unlink(missing_ok=True)
    return report


# -- what every recipe's validation shares ----------------------------------------------------------
def check_frame(frame: pd.DataFrame, name: str, expectations: list) -> ValidationReport:
    """Great Expectations ``expectations`` (objects of great_expectations.expectations) on ``frame``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("s2p").add_dataframe_asset(name=name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=f"{name}-suite")
    for expectation in expectations:
        suite.add_expectation(expectation)
    results = batch.validate(suite, result_format="SUMMARY").results
    failures = [_failure(result) for result in results if not result.success]
    return ValidationReport(passed=not failures, rows=len(frame), expectations=len(results), failures=failures)


def accept_candidate(ctx: RunContext, report: ValidationReport, candidate, accepted, rejected) -> ValidationReport:
    """On success the candidate becomes the accepted file (one rename) and the report is written; on
    failure it is kept aside as ``rejected``, the report is written beside the last good one (never
    over it) and ValidationFailed stops the run: the last good data stays as it was."""
    paths = ctx.paths
    telemetry.validation_finished(ctx.run_key, report)
    if not report.passed:
        write_json(paths.failed_validation_report, report.to_dict())
        os.replace(candidate, rejected)
        raise ValidationFailed(report, str(paths.failed_validation_report))
    write_json(paths.validation_report, report.to_dict())
    os.replace(candidate, accepted)
    paths.failed_validation_report.unlink(missing_ok=True)
    return report
