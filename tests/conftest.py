"""Test setup: every store in a temporary folder, set before any library reads its environment."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(tempfile.mkdtemp(prefix="s2p-tests-"))


def store_variables(base: Path) -> dict[str, str]:
    """The environment that puts every store of a run (data, artifacts, MLflow, logs) under ``base``."""
    return {
        "S2P_STATE_DIR": str(base / "state"),
        "S2P_DATA_DIR": str(base / "data"),
        "S2P_ARTIFACTS_DIR": str(base / "artifacts"),
        "S2P_MLFLOW_ARTIFACTS": str(base / "mlruns"),
        "S2P_INFERENCE_DB": str(base / "inference.db"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}",
    }


def pytest_configure(config):
    from s2p.cli import QUIET_TELEMETRY

    os.environ.update(QUIET_TELEMETRY)
    # Prefect's temporary server (a flow run without PREFECT_API_URL) gives up after 20 s: a busy CI box needs longer
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.update(store_variables(STATE))
    os.environ.update(
        {"S2P_ROOT": str(ROOT), "PREFECT_HOME": str(STATE / "prefect"), "BENTOML_HOME": str(STATE / "bentoml")}
    )


def pytest_unconfigure(config):
    shutil.rmtree(STATE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _environment_restored():
    """A test that calls the CLI in the test process points os.environ at its stores (configure_environment):
    the next test, on the same pytest worker, starts from the environment as it was."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def stores(tmp_path, monkeypatch):
    """Stores of a fresh, empty project state for one test (data, artifacts, MLflow, Feast, logs)."""
    from s2p.paths import Stores

    for var, value in store_variables(tmp_path).items():
        monkeypatch.setenv(var, value)
    return Stores.from_env(ROOT)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(deliverable: str = "linear_regression", timeout: float = 90.0):
    """A real `s2p serve` (bentoml serve) on a free port; yields its base URL; stops it afterwards."""
    import httpx

    port = free_port()
    output = tempfile.TemporaryFile()  # noqa: SIM115 - not a pipe: an unread pipe fills up and blocks the server
    process = subprocess.Popen(
        [sys.executable, "-m", "s2p.cli", "serve", deliverable, "--port", str(port)],
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                output.seek(0)
                raise RuntimeError(output.read().decode()[-3000:])
            if time.monotonic() > deadline:
                raise RuntimeError(f"bentoml serve did not become ready in {timeout} s")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        output.close()


# -- real servers started once per session (the Prefect server is shared by e2e and backends tests) --
def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    prefect = str(Path(sys.executable).with_name("prefect"))
    server = start([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, home / "server.log")
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_for(lambda: httpx.get(f"{api}/health", timeout=2).json() is True, 90, "prefect server health")
        yield api
    finally:
        stop(server)


@pytest.fixture(scope="session", autouse=True)
def flows_report_to_the_session_server(prefect_api):
    """Every `s2p` child of the suite reports to the session's server: without PREFECT_API_URL each
    would start (and stop) a temporary server of its own, 4 s each (measured: `s2p run` of a small file
    11.7 s alone, 7.4 s against a running server). A test of the default path (a user who set nothing)
    drops the variable for its child. Flows in this process keep the settings Prefect read at import:
    one temporary server, started by the first of them."""
    os.environ["PREFECT_API_URL"] = prefect_api
    yield
    os.environ.pop("PREFECT_API_URL", None)
    # a temporary server a test started in this process stops now, while its log still has an open stream
    # (at interpreter exit Prefect's atexit hook logged "Stopping temporary server" to a closed one)
    from prefect.server.api.server import SubprocessASGIServer

    for server in list(SubprocessASGIServer._instances.values()):
        server.stop()
