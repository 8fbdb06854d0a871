"""A new user's files through `s2p run`, on the real stack: four classes, a text file, a numeric file
for a model of text, bad data (its message alone on the console, or JSON), and `s2p monitor
--retrain`. Tiny files: each run costs seconds."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from tests.conftest import ROOT, store_variables

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    """Stores of their own, Prefect's database included (its log is read back below)."""
    base = tmp_path_factory.mktemp("user-files")
    return {**os.environ, "S2P_ROOT": str(ROOT), **store_variables(base), "PREFECT_HOME": str(base / "prefect")}


def s2p(env: dict, *args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "s2p.cli", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def run_json(env: dict, *args) -> dict:
    result = s2p(env, "run", *args, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def numeric_file(path: Path, n_classes: int, rows: int = 160) -> Path:
    X, y = make_classification(rows, n_features=4, n_informative=3, n_redundant=0, n_classes=n_classes,
                               n_clusters_per_class=1, random_state=0)  # fmt: skip
    frame = pd.DataFrame(X, columns=["width", "height", "depth", "weight"]).assign(kind=y)
    frame.to_csv(path, index=False)
    return path


def test_four_classes_run_through_evaluate_with_every_declared_plot(env, tmp_path):
    summary = run_json(
        env, "logistic_regression", "--data", numeric_file(tmp_path / "parcels.csv", 4), "--target", "kind"
    )
    assert set(summary["steps"].values()) == {"completed"}
    ours, reference = summary["metrics"]["ours"], summary["metrics"]["reference"]
    assert np.isfinite(ours["log_loss"]) and ours["accuracy"] == pytest.approx(reference["accuracy"], abs=0.05)
    plots = Path(summary["paths"]["plots"])
    assert {p.name for p in plots.glob("*.png")} >= {
        "loss_curve.png",
        "roc.png",
        "calibration.png",
        "decision_boundary.png",
    }


def test_a_users_text_file_runs_naive_bayes(env, tmp_path):
    good, bad = ["a fine and moving film", "great acting and a lovely score"], ["a dull waste of time", "awful plot"]
    texts = [f"{(good if i % 2 else bad)[i % 4 // 2]}, seen on day {i}" for i in range(120)]
    pd.DataFrame({"text": texts, "label": [i % 2 for i in range(120)]}).to_csv(tmp_path / "reviews.csv", index=False)
    summary = run_json(env, "naive_bayes", "--data", tmp_path / "reviews.csv", "--target", "label")
    assert set(summary["steps"].values()) == {"completed"}
    assert summary["metrics"]["ours"]["accuracy"] == summary["metrics"]["reference"]["accuracy"] > 0.9


def test_a_numeric_file_runs_the_linear_svm_one_vs_rest_beside_gaussian_naive_bayes(env, tmp_path):
    summary = run_json(env, "linear_svm", "--data", numeric_file(tmp_path / "boxes.csv", 3), "--target", "kind")
    assert set(summary["steps"].values()) == {"completed"}
    assert summary["metrics"]["ours"]["accuracy"] > 0.6 and summary["metrics"]["reference"]["accuracy"] > 0.6
    comparison = json.loads((Path(summary["paths"]["plots"]) / "vs_naive_bayes.json").read_text())
    assert comparison["naive Bayes (ours)"] > 0.6  # Gaussian naive Bayes on the same numbers


def prefect_log(env: dict) -> str:
    with sqlite3.connect(Path(env["PREFECT_HOME"]) / "prefect.db") as db:
        return "\n".join(row[0] for row in db.execute("SELECT message FROM log"))


def test_bad_data_prints_its_message_alone_and_json_says_passed_false(env, tmp_path):
    data = tmp_path / "ages.csv"
    frame = pd.DataFrame({"age": np.arange(60.0), "weight": np.linspace(50, 90, 60), "y": np.arange(60.0)})
    frame.loc[:4, "weight"] = np.nan
    frame.to_csv(data, index=False)
    served_env = env
    env = {key: value for key, value in env.items() if key != "PREFECT_API_URL"}  # a user's default: its own server
    plain = s2p(env, "run", "linear_regression", "--data", data, "--target", "y")
    assert plain.returncode == 1 and plain.stdout == ""
    assert "Traceback" not in plain.stderr and "Finished in state Failed" not in plain.stderr
    assert "s2p: error: validation failed" in plain.stderr
    assert "expect_column_values_to_not_be_null on weight: 5 unexpected" in plain.stderr
    assert len(plain.stderr.splitlines()) < 20, plain.stderr
    assert "Traceback" in prefect_log(env)  # the tracebacks stay in the run's log

    answered = s2p(served_env, "run", "linear_regression", "--data", data, "--target", "y", "--json")
    assert answered.returncode == 1 and "Traceback" not in answered.stderr
    report = json.loads(answered.stdout)
    assert report["passed"] is False and Path(report["report"]).exists()
    assert [(f["expectation"], f["column"], f["unexpected_count"]) for f in report["failures"]] == [
        ("expect_column_values_to_not_be_null", "weight", 5)
    ]


def test_a_refused_file_answers_json_too(env, tmp_path):
    data = tmp_path / "labels.csv"
    pd.DataFrame({"x": np.arange(60.0), "label": ["yes", "no"] * 30}).to_csv(data, index=False)
    answered = s2p(env, "run", "logistic_regression", "--data", data, "--target", "label", "--json")
    assert answered.returncode == 1
    report = json.loads(answered.stdout)
    assert report["passed"] is False and "target 'label' holds values that are not integers" in report["error"]


def test_monitor_retrain_retrains_on_drift(env):
    from pipeline.context import load_context
    from s2p.files import read_pickle
    from serving.inference_log import InferenceLog

    first = run_json(env, "linear_regression")
    assert first["mlflow"]["version"] == "1"
    training = pd.read_parquet(first["paths"]["training_set"])
    ctx = load_context("linear_regression")
    rows = training[training["split"] == "train"].sample(150, random_state=0, replace=True)
    shift = {"age": 15.0, "bmi": 8.0, "bp": 25.0, "s1": 60.0, "s2": 50.0, "s5": 1.0, "s6": 25.0}
    features = rows[ctx.deliverable.feature_names].assign(**{k: rows[k] + v for k, v in shift.items()})
    predictions = read_pickle(first["paths"]["model"]).predict(features.to_numpy())
    log = InferenceLog(Path(env["S2P_INFERENCE_DB"]))
    try:  # served traffic that drifted, whose true values came back far above the predictions
        ids = log.append("linear_regression", "1", features.to_dict(orient="records"), predictions.tolist(), 1.0)
        log.add_labels("linear_regression", {i: min(p + 110.0, 399.0) for i, p in zip(ids, predictions, strict=True)})
    finally:
        log.close()
    # no Prefect server, so no deployment: retraining runs in the monitor's process (the session's server
    # holds test_deploy's deployments, through which it would start instead: tested there)
    env = {key: value for key, value in env.items() if key != "PREFECT_API_URL"}
    result = s2p(env, "monitor", "linear_regression", "--window", 150, "--retrain", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert answer["drift_detected"] and answer["retraining"]["via"] == "direct"
    retrained = answer["retraining"]["result"]
    assert retrained["retrain"]["new_rows"] == 150 and retrained["mlflow"]["version"] == "2"
