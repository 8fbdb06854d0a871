"""Test setup: every store in a temporary folder, set before any library reads its environment."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(tempfile.mkdtemp(prefix="s2p-tests-"))


def pytest_configure(config):
    from s2p.cli import QUIET_TELEMETRY

    os.environ.update(QUIET_TELEMETRY)
    os.environ.update(
        {
            "S2P_ROOT": str(ROOT),
            "S2P_STATE_DIR": str(STATE / "state"),
            "S2P_DATA_DIR": str(STATE / "data"),
            "S2P_ARTIFACTS_DIR": str(STATE / "artifacts"),
            "PREFECT_HOME": str(STATE / "prefect"),
            "BENTOML_HOME": str(STATE / "bentoml"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{STATE / 'mlflow.db'}",
            "S2P_MLFLOW_ARTIFACTS": str(STATE / "mlruns"),
            "S2P_INFERENCE_DB": str(STATE / "inference.db"),
        }
    )


def pytest_unconfigure(config):
    shutil.rmtree(STATE, ignore_errors=True)


@pytest.fixture
def stores(tmp_path, monkeypatch):
    """Stores of a fresh, empty project state for one test (data, artifacts, MLflow, Feast, logs)."""
    from s2p.paths import Stores

    for var, sub in {
        "S2P_STATE_DIR": "state",
        "S2P_DATA_DIR": "data",
        "S2P_ARTIFACTS_DIR": "artifacts",
        "S2P_MLFLOW_ARTIFACTS": "mlruns",
        "S2P_INFERENCE_DB": "inference.db",
    }.items():
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return Stores.from_env(ROOT)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
