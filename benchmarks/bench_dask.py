"""Dask benchmark: the syllabus flow of one phase on a real Dask cluster with one worker process and
with two, measured in the same run, and the speed-up printed (on this 2-core machine, two workers of
one thread each can at best halve the time).

    .venv/bin/python benchmarks/bench_dask.py [--phase DSA] [--rounds 1]

Starts a `prefect server` and a `dask scheduler` on free ports, then for each round and each worker
count (interleaved: 1, 2, 1, 2, ...) starts that many `dask worker` processes, runs `s2p run --phase P
--cluster ...` on fresh stores in a scratch folder, and stops the workers. Every run must complete
with the same metrics (durations aside); exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, store_variables  # noqa: E402

TIMED = ("_ms", "_seconds", "per_second")


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until(check, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(1)
    raise SystemExit(f"timed out waiting for {what}")


def run_on_cluster(phase: str, workers: int, address: str, env: dict, scratch: Path) -> tuple[float, dict]:
    """Seconds of `s2p run --phase` on ``workers`` fresh single-threaded worker processes, and its metrics."""
    from distributed import Client

    scratch.mkdir(parents=True)
    stores = dict(env, **store_variables(scratch), BENTOML_HOME=str(scratch / "bentoml"))
    started = [
        start(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--nthreads",
                "1",
                "--no-dashboard",
                "--local-directory",
                str(scratch / f"worker{i}"),
            ],
            stores,
            scratch / f"worker{i}.log",
        )
        for i in range(workers)
    ]
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "s2p.cli", "run", "--phase", phase, "--cluster", address, "--json"],
            cwd=ROOT, env=stores, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - began
    finally:
        stop(started)
    if result.returncode != 0:
        raise SystemExit(f"the run on {workers} worker(s) failed:\n{result.stderr[-3000:]}")
    summaries = json.loads(result.stdout)
    metrics = {
        key: {side: untimed(summary["metrics"][side]) for side in ("ours", "reference")}
        for key, summary in summaries.items()
    }
    return seconds, metrics


def untimed(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if not name.endswith(TIMED)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", default="DSA")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="s2p-bench-dask-"))
    api = f"http://127.0.0.1:{free_port()}/api"
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(scratch / "prefect"), "OMP_NUM_THREADS": "1"}
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    port = api.split(":")[2].split("/")[0]
    services = [
        start([str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1", "--port",
               port], server_env, scratch / "prefect.log"),
        start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
               address.rsplit(":", 1)[1], "--dashboard-address", ":0"], env, scratch / "scheduler.log"),
    ]  # fmt: skip
    try:
        wait_until(lambda: httpx.get(f"{api}/health", timeout=2).json() is True, "the Prefect server")
        times: dict[int, list[float]] = {1: [], 2: []}
        results = []
        for round_ in range(args.rounds):
            for workers in (1, 2):
                seconds, metrics = run_on_cluster(args.phase, workers, address, env, scratch / f"r{round_}-w{workers}")
                times[workers].append(seconds)
                results.append(metrics)
                print(f"round {round_ + 1}: {workers} worker(s): {seconds:.1f} s", flush=True)
    finally:
        stop(services)
    if any(metrics != results[0] for metrics in results):
        print("the runs' metrics differ", file=sys.stderr)
        return 1
    one, two = min(times[1]), min(times[2])
    print(f"phase {args.phase}, best of {args.rounds}: 1 worker {one:.1f} s, 2 workers {two:.1f} s")
    print(f"speed-up with 2 workers: {one / two:.2f}x")
    print("same metrics in every run: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
