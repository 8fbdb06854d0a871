"""Bad data, through the user-data path and the bundled path: every kind stops the run with a
message naming the problem, and the last good outputs stay byte for byte. Where cleaning is the
sensible answer (exact duplicate rows, undeclared columns) it is done and reported."""

import dataclasses
import gzip
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
STOPS = (DataError, ValueError, ValidationFailed)


def good_frame(rows: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.uniform(0, 10, rows), "c": rng.normal(5, 2, rows)})
    frame["y"] = 2 * frame["a"] - frame["b"] + rng.normal(size=rows)
    return frame


def with_values(column: str, values, rows=slice(0, 4)):  # .loc: rows 0..4, five rows
    def make(path):
        frame = good_frame().astype({column: object})
        frame.loc[rows, column] = values
        frame.to_csv(path, index=False)

    return make


def with_column(name: str, values):
    def make(path):
        frame = good_frame()
        frame[name] = values(len(frame)) if callable(values) else values
        frame.to_csv(path, index=False)

    return make


def write_text(text: str, encoding: str = "utf-8"):
    return lambda path: path.write_bytes(text.encode(encoding))


def truncated_parquet(path):
    good_frame().to_parquet(path.with_suffix(".tmp"))
    data = path.with_suffix(".tmp").read_bytes()
    path.write_bytes(data[: len(data) // 2])


def timestamps(values):
    return with_column("event_timestamp", lambda n: (list(values) * n)[:n])


USER_CASES = {
    "missing file": (lambda path: None, "data file not found"),
    "a directory": (lambda path: path.mkdir(), "not a file"),
    "empty file": (write_text(""), "data file is empty"),
    "header only": (write_text("a,b,c,y\n"), "has a header but no rows"),
    "binary bytes": (lambda path: path.write_bytes(bytes(range(256)) * 40), "not UTF-8"),
    "latin-1 text": (write_text("âge,b,c,y\n1,2,3,4\n" * 60, "latin-1"), "not UTF-8"),
    "gzip under .csv": (lambda path: path.write_bytes(gzip.compress(b"a,b,y\n1,2,3\n" * 60)), "not UTF-8"),
    "ragged rows": (write_text("a,b,c,y\n1,2,3,4\n1,2,3,4,5,6\n"), "cannot read .*tokenizing"),
    "repeated header names": (write_text("a,a,c,y\n" + "1,2,3,4\n" * 60), "repeated column name.*: a"),
    "reserved column split": (with_column("split", "train"), "'split' is reserved"),
    "target missing": (lambda path: good_frame().drop(columns="y").to_csv(path, index=False), "target column 'y'"),
    "only the target": (lambda path: good_frame()[["y"]].to_csv(path, index=False), "no feature columns"),
    "text in a number column": (with_values("a", "big"), "type_list on a: 80 unexpected"),
    "empty cells": (with_values("b", None), "not_be_null on b: 5 unexpected"),
    "nan literals": (with_values("c", "nan"), "not_be_null on c: 5 unexpected"),
    "infinite values": (with_values("a", "inf"), "be_between on a: 5 unexpected"),
    "overflowing numbers": (with_values("b", "1e309"), "type_list on b: 80 unexpected"),
    "booleans as a feature": (with_column("flag", lambda n: [True, False] * (n // 2)), "type_list on flag"),
    "an all-empty column": (with_column("d", None), "not_be_null on d: 80 unexpected"),
    "a constant column": (with_column("d", 3.0), "stdev_to_be_between on d"),
    "too few rows": (lambda path: good_frame(12).to_csv(path, index=False), "row_count_to_be_between"),
    "duplicated entity ids": (with_column("entity_id", lambda n: [1, 2] * (n // 2)), "unique on entity_id"),
    "naive timestamps": (timestamps(["2025-01-01T00:00:00"]), "no time zone"),
    "unparseable timestamps": (timestamps(["yesterday"]), "cannot parse as ISO 8601"),
    "future timestamps": (timestamps(["2099-01-01T00:00:00Z"]), "in the future"),
    "empty target cells": (with_values("y", None), "not_be_null on y: 5 unexpected"),
}

PARQUET_CASES = {
    "truncated parquet": (truncated_parquet, "cannot read"),
    "a string column in parquet": (
        lambda path: good_frame().astype({"c": str}).to_parquet(path),
        "type_list on c: 80 unexpected",
    ),
}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare(ctx):
    result = run_etl(ctx)
    run_validate(ctx)
    return result


def assert_stops_and_keeps_good_outputs(stores, path, make, message):
    good_frame().to_csv(path, index=False) if path.suffix == ".csv" else good_frame().to_parquet(path)
    ctx = make_context(LR, DeliverableParams(), stores, data=path, target="y")
    prepare(ctx)
    kept = {p: digest(p) for p in (ctx.paths.dataset, ctx.paths.validation_report)}
    path.unlink()
    make(path)
    with pytest.raises(STOPS, match=message):
        prepare(make_context(LR, DeliverableParams(), stores, data=path, target="y"))
    assert {p: digest(p) for p in kept} == kept
    assert not ctx.paths.candidate.exists()


@pytest.mark.parametrize("case", sorted(USER_CASES))
def test_bad_user_csv_stops_with_a_named_problem(case, stores, tmp_path):
    make, message = USER_CASES[case]
    assert_stops_and_keeps_good_outputs(stores, tmp_path / "patients.csv", make, message)


@pytest.mark.parametrize("case", sorted(PARQUET_CASES))
def test_bad_user_parquet_stops_with_a_named_problem(case, stores, tmp_path):
    make, message = PARQUET_CASES[case]
    assert_stops_and_keeps_good_outputs(stores, tmp_path / "patients.parquet", make, message)


def test_unsupported_file_type(stores, tmp_path):
    path = tmp_path / "patients.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match="unsupported data file type '.xlsx'"):
        make_context(LR, DeliverableParams(), stores, data=path, target="y")


def diabetes_with(change):
    def loader():
        frame = sources.diabetes()
        return change(frame) if change(frame) is not None else frame

    return loader


def _set(column, value, rows=slice(0, 4)):  # .loc: rows 0..4, five rows
    def change(frame):
        frame = frame.astype({column: object}) if isinstance(value, str) else frame
        frame.loc[rows, column] = value
        return frame

    return change


BUNDLED_CASES = {
    "a missing column": (lambda f: f.drop(columns="bmi"), "missing column\\(s\\): bmi"),
    "text in a column": (_set("bp", "high"), "type_list on bp"),
    "an impossible age": (_set("age", 500.0), "be_between on age: 5 unexpected"),
    "a huge value": (_set("s1", 1e300), "be_between on s1: 5 unexpected"),
    "infinity": (_set("s4", np.inf), "be_between on s4: 5 unexpected"),
    "a missing label": (_set("progression", np.nan), "not_be_null on progression: 5 unexpected"),
    "labels outside the known range": (_set("progression", -10.0), "be_between on progression: 5 unexpected"),
    "a constant feature": (lambda f: f.assign(s3=50.0), "stdev_to_be_between on s3"),
    "too few rows": (lambda f: f.head(20), "row_count_to_be_between"),
}


def assert_broken_source_stops(deliverable, broken, message, stores, monkeypatch):
    """A good run of ``deliverable``, then its source replaced by ``broken()``: the run stops with
    ``message`` and the good dataset and report stay byte for byte."""
    good = make_context(deliverable, DeliverableParams(), stores)
    prepare(good)
    kept = {p: digest(p) for p in (good.paths.dataset, good.paths.validation_report)}
    monkeypatch.setattr("tests.data.test_bad_data.broken_source", broken)
    source = "tests.data.test_bad_data:broken_source"
    bad = dataclasses.replace(good, deliverable=dataclasses.replace(deliverable, source=source))
    with pytest.raises(STOPS, match=message):
        prepare(bad)
    assert {p: digest(p) for p in kept} == kept


@pytest.mark.parametrize("case", sorted(BUNDLED_CASES))
def test_bad_bundled_data_stops_with_a_named_problem(case, stores, monkeypatch):
    change, message = BUNDLED_CASES[case]
    assert_broken_source_stops(LR, lambda: change(sources.diabetes()), message, stores, monkeypatch)


def broken_source() -> pd.DataFrame:  # replaced per test
    return sources.diabetes()


def test_duplicates_and_undeclared_columns_are_cleaned_and_reported(stores, monkeypatch):
    frame = sources.diabetes()
    frame["hospital"] = "north"
    frame = pd.concat([frame, frame.head(7)])
    monkeypatch.setattr("tests.data.test_bad_data.broken_source", lambda: frame)
    ctx = make_context(dataclasses.replace(LR, source="tests.data.test_bad_data:broken_source"), DeliverableParams(), stores)
    result = prepare(ctx)
    assert result.duplicates_dropped == 7 and result.columns_dropped == ["hospital"] and result.rows == 442


# -- tensor columns: images ---------------------------------------------------------------------
IMAGES = catalog.get("backprop")  # 8x8 digit images, ink 0-1


def _image(rows, value_of):
    def change(frame):
        frame = frame.copy()
        for row in range(rows):
            frame.at[row, "image"] = value_of(np.asarray(frame.at[row, "image"], dtype=float).copy())
        return frame

    return change


def _set_pixel(value):
    def edit(image):
        image[10] = value
        return image

    return edit


IMAGE_CASES = {
    "an image of the wrong size": (_image(3, lambda image: image[:56]), "in_set on image_size: 3 unexpected"),
    "an empty image": (_image(2, lambda image: image[:0]), "in_set on image_size: 2 unexpected"),
    "text instead of an image": (_image(2, lambda image: "a cat"), "image: 2 row\\(s\\) hold no array.*'a cat'"),
    "a missing image": (_image(1, lambda image: None), "image: 1 row\\(s\\) hold no array.*None"),
    "a NaN pixel": (_image(4, _set_pixel(np.nan)), "be_between on image_nonfinite: 4 unexpected"),
    "an infinite pixel": (_image(1, _set_pixel(np.inf)), "be_between on image_nonfinite: 1 unexpected"),
    "ink above 1 (0-255 pixels)": (_image(5, lambda image: image * 255), "be_between on image_max: 5 unexpected"),
    "negative ink": (_image(2, _set_pixel(-0.5)), "be_between on image_min: 2 unexpected"),
    "every image the same": (lambda f: f.assign(image=[f.at[0, "image"]] * len(f)), "stdev_to_be_between on image_mean"),
    "a digit outside 0-9": (lambda f: f.assign(digit=np.where(np.arange(len(f)) < 3, 12, f["digit"])), "in_set on digit"),
    "lopsided classes": (lambda f: f.assign(digit=np.where(np.arange(len(f)) % 10 < 9, 1, f["digit"])), "kl_divergence"),
    "a missing image column": (lambda f: f.drop(columns="image"), "missing column\\(s\\): image"),
}


@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
def test_bad_images_stop_with_a_named_problem(case, stores, monkeypatch):
    change, message = IMAGE_CASES[case]
    assert_broken_source_stops(IMAGES, lambda: change(sources.digit_images()), message, stores, monkeypatch)


def test_duplicate_images_are_dropped_and_counted(stores, monkeypatch):
    frame = sources.digit_images()
    frame = pd.concat([frame, frame.head(9)], ignore_index=True)
    monkeypatch.setattr("tests.data.test_bad_data.broken_source", lambda: frame)
    deliverable = dataclasses.replace(IMAGES, source="tests.data.test_bad_data:broken_source")
    result = prepare(make_context(deliverable, DeliverableParams(), stores))
    assert result.duplicates_dropped == 9 and result.rows == 1797
