"""Reliability on the real stack: two flows at once on the same stores, and processes killed with
SIGKILL in the middle of a step, then rerun."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, store_variables

pytestmark = pytest.mark.slow


def store_env(base: Path) -> dict:
    return {**os.environ, "S2P_ROOT": str(ROOT), **store_variables(base)}


def s2p(*args: str, env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "s2p.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_two_flows_at_once_on_the_same_stores(tmp_path):
    env = store_env(tmp_path)
    data = tmp_path / "clinic.csv"
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = 3 * frame["a"] - frame["b"] + rng.normal(size=200)
    frame.to_csv(data, index=False)
    first = s2p("run", "linear_regression", "--json", env=env)
    second = s2p("run", "linear_regression", "--data", str(data), "--target", "y", "--json", env=env)
    results = [process.communicate(timeout=600) for process in (first, second)]
    for process, (_, err) in zip((first, second), results, strict=True):
        assert process.returncode == 0, err[-3000:]
        assert "database is locked" not in err
    summaries = [json.loads(out) for out, _ in results]
    assert [s["mlflow"]["model_name"] for s in summaries] == ["linear_regression", "linear_regression__clinic"]
    assert all(s["mlflow"]["promoted"] for s in summaries)


def kill_when(process: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"finished before it could be killed: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("the moment to kill never came")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_killed_training_resumes_from_its_checkpoint_and_leaves_no_half_written_file(tmp_path):
    env = store_env(tmp_path)
    params = tmp_path / "params.yaml"
    text = (ROOT / "params.yaml").read_text()
    slow = text.replace("max_epochs: 10000", "max_epochs: 40000").replace("tol: 1.0e-14", "tol: 0.0")
    slow = slow.replace("solver: ols", "solver: minibatch")  # noisy enough never to stop early
    assert "solver: minibatch" in slow
    params.write_text(slow.replace("checkpoint_every: 100", "checkpoint_every: 500"))
    env["S2P_PARAMS"] = str(params)
    for stage in ("prepare", "features"):
        run_stage(stage, env)
    artifacts = tmp_path / "artifacts" / "linear_regression"
    checkpoint, model = artifacts / "checkpoint.pkl", artifacts / "model.pkl"

    training = s2p("stage", "train", "linear_regression", env=env, start_new_session=True)
    kill_when(training, checkpoint.exists)
    assert not model.exists()
    leftovers = [p.name for p in artifacts.iterdir() if p.name.startswith(".")]
    assert all(name.endswith(".tmp") for name in leftovers)  # at most an unfinished temporary, never a torn file
    saved = pickle.loads(checkpoint.read_bytes())  # the checkpoint that is visible is whole
    epochs_at_kill = len(saved["estimator"].loss_history_)
    assert epochs_at_kill >= 500

    run_stage("train", env)
    report = json.loads((artifacts / "training.json").read_text())
    assert report["resumed_from_epoch"] >= epochs_at_kill and report["epochs"] == 40000
    assert model.exists() and not checkpoint.exists()


def run_stage(name: str, env: dict) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "stage", name, "linear_regression"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("built")
    env = store_env(base)
    for name in ("prepare", "features", "train", "evaluate", "package"):
        run_stage(name, env)
    return base, env


@pytest.mark.parametrize("stage", ["prepare", "features", "evaluate", "package"])
def test_a_stage_killed_midway_leaves_whole_outputs_and_a_rerun_completes(stage, built):
    base, env = built
    artifacts, data = base / "artifacts" / "linear_regression", base / "data" / "linear_regression"
    outputs = {
        "prepare": [data / "dataset.parquet", artifacts / "validation.json"],
        "features": [data / "training_set.parquet"],
        "evaluate": [artifacts / "metrics.json", artifacts / "registry.json"],
        "package": [artifacts / "bento.json"],
    }[stage]
    process = s2p("stage", stage, "linear_regression", env=env, start_new_session=True)
    time.sleep(2.5)  # inside the step: imports done, work under way
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for path in outputs:  # whole files only: the old one, or a complete new one
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            pd.read_parquet(path)
    run_stage(stage, env)


def test_under_load_every_request_is_answered_and_logged_once(built):
    """benchmarks/bench_serving.py at a tenth of its size: the bento and the bare FastAPI peer at
    concurrency 32, then paced; no error, and one inference-log row per request on each side.
    Its figures are printed, not asserted (a shared machine is no stopwatch)."""
    _, env = built
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_serving.py", "--requests", "1000", "--paced-requests", "200"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:3]] == ["bentoml", "bare"], done.stdout
    assert all("errors 0," in line and "at 100 req/s: errors 0," in line for line in lines[1:3]), done.stdout
    assert lines[3].startswith("ratios (ours / bare): throughput ")
    assert lines[4] == "inference log rows for 1700 requests each: bentoml 1700, bare 1700"
