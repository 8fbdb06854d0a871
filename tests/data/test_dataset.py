"""Data: what etl produces, and the validation gate that stops bad data before anything downstream."""

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import pytest

from pipeline.context import make_context
from pipeline.etl import run_etl
from pipeline.validate import ValidationFailed, run_validate
from s2p import catalog, sources
from s2p.config import DeliverableParams
from s2p.sources import DataError

LR = catalog.get("linear_regression")


def corrupted_diabetes() -> pd.DataFrame:
    """Bundled data with garbage: an impossible age, a missing BMI, an infinite blood pressure."""
    frame = sources.diabetes()
    frame.loc[0, "age"] = 500.0
    frame.loc[1, "bmi"] = np.nan
    frame.loc[2:4, "bp"] = np.inf
    return frame


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare(ctx):
    run_etl(ctx)
    return run_validate(ctx)


def test_bundled_dataset_has_keys_utc_times_and_a_deterministic_split(stores):
    ctx = make_context(LR, DeliverableParams(seed=3), stores)
    report = prepare(ctx)
    assert report.passed and report.rows == 442
    frame = pd.read_parquet(ctx.paths.dataset)
    assert list(frame.columns) == ["entity_id", "event_timestamp", *LR.feature_names, "progression", "split"]
    assert frame["entity_id"].is_unique
    assert str(frame["event_timestamp"].dt.tz) == "UTC"
    assert (frame["split"] == "test").sum() == round(442 * 0.2)
    again = make_context(LR, DeliverableParams(seed=3), stores)
    prepare(again)
    pd.testing.assert_frame_equal(frame, pd.read_parquet(again.paths.dataset))
    assert not ctx.paths.candidate.exists()


def test_size_keeps_a_deterministic_sample(stores):
    ctx = make_context(LR, DeliverableParams(size=100), stores)
    prepare(ctx)
    assert len(pd.read_parquet(ctx.paths.dataset)) == 100


def test_bad_bundled_data_stops_with_a_report_and_keeps_the_good_outputs(stores):
    good = make_context(LR, DeliverableParams(), stores)
    prepare(good)
    before = {path: digest(path) for path in (good.paths.dataset, good.paths.validation_report)}

    bad = dataclasses.replace(good, deliverable=dataclasses.replace(LR, source="tests.data.test_dataset:corrupted_diabetes"))
    run_etl(bad)
    with pytest.raises(ValidationFailed) as caught:
        run_validate(bad)
    failures = {(f.expectation, f.column): f.unexpected_count for f in caught.value.report.failures}
    expected = {
        ("expect_column_values_to_be_between", "age"): 1,
        ("expect_column_values_to_not_be_null", "bmi"): 1,
        ("expect_column_values_to_be_between", "bp"): 3,
    }
    assert expected.items() <= failures.items()
    assert {column for _, column in failures} == {"age", "bmi", "bp"}  # nothing else is blamed
    assert "expect_column_values_to_be_between on age: 1 unexpected" in str(caught.value)
    assert {path: digest(path) for path in before} == before  # the last good outputs are untouched
    assert bad.paths.failed_validation_report.exists() and bad.paths.rejected.exists()
    assert not bad.paths.candidate.exists()


def test_user_csv_runs_through_the_same_path_and_is_checked_against_its_own_schema(stores, tmp_path):
    data = tmp_path / "houses.csv"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rooms": rng.integers(1, 8, 200), "area": rng.uniform(30, 200, 200)})
    frame["price"] = 1000 * frame["area"] + 5000 * frame["rooms"] + rng.normal(0, 100, 200)
    frame = pd.concat([frame, frame.iloc[:5]])  # exact duplicates are cleaned, not fatal
    frame.to_csv(data, index=False)
    ctx = make_context(LR, DeliverableParams(), stores, data=data, target="price")
    assert ctx.run_key == "linear_regression__houses"
    assert ctx.deliverable.feature_names == ["rooms", "area"]
    assert run_etl(ctx).duplicates_dropped == 5
    assert run_validate(ctx).passed
    good = digest(ctx.paths.dataset)

    frame = frame.astype({"area": object})
    frame.iloc[:3, frame.columns.get_loc("area")] = "big"
    frame.to_csv(data, index=False)
    run_etl(ctx)
    with pytest.raises(ValidationFailed) as caught:
        run_validate(ctx)
    assert any(f.column == "area" and f.expectation == "expect_column_values_to_be_in_type_list"
               for f in caught.value.report.failures)
    assert digest(ctx.paths.dataset) == good


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        (None, "price", "data file not found"),
        ("", "price", "data file is empty"),
        ("a,b,price\n", "price", "has a header but no rows"),
        ("a,b,price\n1,2,3\n", "cost", "target column 'cost' is not in"),
        ("price\n1\n2\n", "price", "no feature columns"),
    ],
)
def test_unusable_user_files_are_named(stores, tmp_path, content, target, message):
    data = tmp_path / "input.csv"
    if content is not None:
        data.write_text(content)
    with pytest.raises((DataError, ValueError), match=message):
        make_context(LR, DeliverableParams(), stores, data=data, target=target)


def test_naive_timestamps_are_refused(stores, tmp_path):
    data = tmp_path / "timed.csv"
    pd.DataFrame(
        {"x": np.arange(60.0), "y": np.arange(60.0), "event_timestamp": pd.date_range("2025-01-01", periods=60, freq="h")}
    ).to_csv(data, index=False)
    ctx = make_context(LR, DeliverableParams(), stores, data=data, target="y")
    with pytest.raises(DataError, match="event_timestamp: times have no time zone"):
        run_etl(ctx)
