"""Fixtures shared by the end-to-end modules: a real `prefect server start` on a free port, and a real
Dask cluster (a `dask scheduler` and two single-threaded `dask worker` processes) reporting to it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, store_variables


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


@pytest.fixture(scope="session")
def dask_cluster(prefect_api, tmp_path_factory):
    """(scheduler address, the environment of its workers: their stores and the Prefect server)."""
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    env = {**os.environ, **store_variables(base / "stores"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.update(PREFECT_API_URL=prefect_api, PREFECT_HOME=str(base / "prefect"), BENTOML_HOME=str(base / "bentoml"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"

    def python(*arguments: str, log: str) -> subprocess.Popen:
        return start([sys.executable, "-m", *arguments], env, base / log)

    scheduler = python(
        "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
        log="scheduler.log",
    )  # fmt: skip
    workers = [
        python(
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--no-dashboard",
            "--local-directory",
            str(base / f"worker{i}"),
            log=f"worker{i}.log",
        )
        for i in range(2)
    ]
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, env
    finally:
        for process in (*workers, scheduler):
            stop(process)
