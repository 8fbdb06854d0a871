"""Prefect server capacity: N flows at once against one `prefect server`, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/bench_prefect_server.py [--flows 1,2,4,8,16] [--tasks 50]

Starts two real `prefect server`s on free ports, one on its default SQLite database and one on a
PostgreSQL 15 cluster started for the run (Debian's binaries, as the backend tests start it). For each N
and each server in turn, N client processes (each an interpreter, as N
deployments' flow runs would be) import Prefect and wait; then all start at once, each running one flow
of ``--tasks`` trivial tasks. Measured per N: task runs per second through the server (every task run's
COMPLETED state read back from the server's API, so nothing is counted that the server did not store),
the time from the last flow's end until the server holds every task run (events are written behind),
and the p50/p99 latency of an API read (`POST /flow_runs/filter`) sampled every 50 ms during the burst.
Flows the server refused (a 503 when its database is locked) are counted, not retried. The peers: the two
databases at the same N, and each N against N = 1 on the same database (ratios printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_dask import start, stop, wait_until
from tests.backends.conftest import postgres_cluster
from tests.conftest import free_port

CLIENT = """
import json, sys, time
from prefect import flow, task

@task
def step(i: int) -> int:
    return i

@flow(name="capacity-burst")
def burst(n: int) -> int:
    return sum(f.result() for f in [step.submit(i) for i in range(n)])

print("ready", flush=True)
sys.stdin.readline()
started = time.time()
burst(int(sys.argv[1]))
print(json.dumps({"started": started, "finished": time.time()}), flush=True)
"""


def completed_task_runs(api: str) -> int:
    body = {"task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    return int(httpx.post(f"{api}/task_runs/count", json=body, timeout=30).json())


def sample_latency(api: str, stop_event: threading.Event, samples: list[float]) -> None:
    """Latency of an API read every 50 ms; a refused read (503) counts as its time, as a user waits it."""
    with httpx.Client(timeout=30) as client:
        while not stop_event.is_set():
            started = time.perf_counter()
            client.post(f"{api}/flow_runs/filter", json={"limit": 1})
            samples.append(time.perf_counter() - started)
            time.sleep(0.05)


def one_burst(api: str, n_flows: int, n_tasks: int, env: dict, scratch: Path) -> dict:
    before = completed_task_runs(api)
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(n_tasks)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(scratch / f"client{i}.log").open("wb"),
            text=True,
        )
        for i in range(n_flows)
    ]
    for client in clients:
        if client.stdout.readline().strip() != "ready":
            raise SystemExit(f"a client failed to start: see {scratch}")
    samples: list[float] = []
    stop_event = threading.Event()
    sampler = threading.Thread(target=sample_latency, args=(api, stop_event, samples))
    sampler.start()
    for client in clients:
        client.stdin.write("go\n")
        client.stdin.flush()
    lines = [client.stdout.readline() for client in clients]
    succeeded = [client.wait(timeout=300) == 0 for client in clients]
    times = [json.loads(line) for line, ok in zip(lines, succeeded, strict=True) if ok and line]
    stop_event.set()
    sampler.join()
    if not times:
        raise SystemExit(f"every flow of {n_flows} failed: see {scratch}")
    last_end = max(t["finished"] for t in times)
    expected = before + len(times) * n_tasks
    wait_until(lambda: completed_task_runs(api) >= expected, "the server to store every task run", timeout=300)
    stored = time.time()
    first_start = min(t["started"] for t in times)
    samples.sort()
    return {
        "flows": n_flows,
        "failed_flows": n_flows - len(times),
        "task_runs": len(times) * n_tasks,
        "task_runs_per_second": len(times) * n_tasks / (stored - first_start),
        "write_behind_seconds": stored - last_end,
        "api_p50_ms": 1000 * statistics.median(samples),
        "api_p99_ms": 1000 * samples[min(len(samples) - 1, int(0.99 * len(samples)))],
    }


def serve(database_url: str | None, scratch: Path) -> tuple[subprocess.Popen, str]:
    port = str(free_port())
    env = {**os.environ, "PREFECT_HOME": str(scratch / "server")}
    env.pop("PREFECT_API_URL", None)
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    prefect = str(Path(sys.executable).with_name("prefect"))
    server = start([prefect, "server", "start", "--host", "127.0.0.1", "--port", port], env, scratch / "server.log")
    api = f"http://127.0.0.1:{port}/api"
    wait_until(lambda: httpx.get(f"{api}/health", timeout=2).json() is True, f"prefect server health ({scratch})")
    return server, api


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", default="1,2,4,8,16", help="the numbers of concurrent flows, comma-separated")
    parser.add_argument("--tasks", type=int, default=50, help="trivial tasks in each flow")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    rows: dict[str, list[dict]] = {"sqlite": [], "postgres": []}
    with postgres_cluster(databases=("prefect",)) as (postgres, _):
        servers = {}
        try:
            for name, url in (("sqlite", None), ("postgres", postgres.url("prefect", driver="asyncpg"))):
                (scratch / name).mkdir()
                servers[name] = serve(url, scratch / name)
            for n in args.flows.split(","):
                for name, (_, api) in servers.items():
                    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(scratch / name / "client")}
                    rows[name].append(one_burst(api, int(n), args.tasks, env, scratch / name))
        finally:
            stop([server for server, _ in servers.values()])
    print(f"one prefect server, {os.cpu_count()} cores, {args.tasks} trivial tasks a flow, N flows started at once")
    for name, measured in rows.items():
        base = measured[0]
        for row, other in zip(measured, rows["postgres" if name == "sqlite" else "sqlite"], strict=True):
            rate = row["task_runs_per_second"]
            print(
                f"{name:>8} {row['flows']:>3} flows: {row['failed_flows']:>2} refused, {rate:6.1f} task runs/s "
                f"({rate / base['task_runs_per_second']:4.2f}x of 1 flow, "
                f"{rate / other['task_runs_per_second']:4.2f}x of the other database), "
                f"write-behind {row['write_behind_seconds']:5.2f} s, API read p50 {row['api_p50_ms']:6.1f} ms "
                f"p99 {row['api_p99_ms']:7.1f} ms"
            )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
