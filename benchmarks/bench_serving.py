"""Serving benchmark: the deliverable's bento under `bentoml serve` against a bare FastAPI +
uvicorn endpoint serving the same model with the same request schema and the same inference
log, measured by the same client in the same run.

    .venv/bin/python benchmarks/bench_serving.py [DELIVERABLE] [--requests 10000] [--concurrency 32]

Needs a packaged deliverable (`make run` or `s2p run linear_regression`). Both servers run the
same number of worker processes on the same CPUs, the client on the others. Prints, for each
peer, errors, p50 / p99 latency, throughput and the servers' CPU time per request at full
concurrency, then p50 / p99 at a fixed 100 requests/s, and the ratios. Every answered request
must have its row in the peer's inference log: the run exits 1 on any error or missing row.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import pandas as pd
import psutil
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2p.tensors import stack  # noqa: E402
from serving.inference_log import InferenceLog  # noqa: E402

BARE_APP = textwrap.dedent(
    """
    import os, pickle, sys, time
    from pathlib import Path
    from typing import Annotated

    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    build = Path(os.environ["S2P_BUILD"])
    sys.path.insert(0, str(build))
    os.environ["S2P_SERVICE_SPEC"] = str(build / "serving" / "s2p_service.json")
    from serving.inference_log import InferenceLog
    from serving.service import KIND, MAX_ROWS, SPEC  # the service's answer kind: its schema and code

    model = pickle.loads(Path(os.environ["S2P_MODEL"]).read_bytes())
    log = InferenceLog(Path(os.environ["S2P_INFERENCE_DB"]))
    app = FastAPI()


    class Body(BaseModel):
        rows: Annotated[list[KIND.Features], Field(min_length=1, max_length=MAX_ROWS)]


    @app.post("/predict")
    def predict(body: Body):
        started = time.perf_counter()
        records = [row.model_dump() for row in body.rows]
        values = KIND.answers(model, KIND.model_input(records))
        ids = log.append(SPEC["run_key"], "bare", records, values, (time.perf_counter() - started) * 1000)
        return [{"id": i, "prediction": v, "model_version": "bare"} for i, v in zip(ids, values)]


    @app.get("/readyz")
    def ready():
        return "ok"
    """
)


def example_row(dataset: Path, spec: dict) -> dict:
    """The dataset's first row as a client sends it: the served fields, arrays in their shape."""
    frame = pd.read_parquet(dataset, columns=[column["name"] for column in spec["features"]]).head(1)
    row = {}
    for column in spec["features"]:
        values = frame[column["name"]]
        if column["dtype"] == "tensor":
            array = stack(values, tuple(column["shape"]))[0]
            row[column["name"]] = (array.astype(int) if column.get("values") else array).tolist()
        else:
            row[column["name"]] = {"int": int, "float": float, "text": str}[column["dtype"]](values.iloc[0])
    return row


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def split_cpus() -> tuple[set[int], set[int]] | tuple[None, None]:
    """The client on the first half of this process's CPUs, the servers on the rest: a client that
    shares the servers' cores measures itself as much as them (on 2 cores: client 0, servers 1).
    (None, None) where the OS sets no CPU affinity (macOS) or there is one CPU: all share."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


def start_server(command: list[str], cwd: Path, env: dict, cpus: set[int] | None) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=functools.partial(os.sched_setaffinity, 0, cpus) if cpus else None,  # inherited by workers
    )


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not ready in {timeout} s")


def cpu_seconds(process: subprocess.Popen) -> float:
    """User + system CPU time of a server and all its worker processes so far."""
    root = psutil.Process(process.pid)
    total = 0.0
    for member in [root, *root.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def load(url: str, body: bytes, requests: int, concurrency: int, rate: float | None) -> dict:
    """``requests`` POSTs of ``body`` over ``concurrency`` keep-alive connections, all at once or
    started at a fixed ``rate`` per second. aiohttp's C parser keeps the client's own cost per
    request a fraction of a server's."""
    latencies, errors = [], 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal errors
            if rate:
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            async with gate:
                t = time.perf_counter()
                try:
                    async with client.post(f"{url}/predict", data=body, headers=headers) as response:
                        await response.read()
                        errors += response.status != 200
                except (TimeoutError, aiohttp.ClientError):
                    errors += 1
                latencies.append(time.perf_counter() - t)

        await asyncio.gather(*(one(i) for i in range(requests)))
        elapsed = time.perf_counter() - started
    return {"errors": errors, "latencies": latencies, "throughput": requests / elapsed}


def summary(runs: list[dict]) -> dict:
    ms = np.concatenate([run["latencies"] for run in runs]) * 1000
    return {
        "errors": sum(run["errors"] for run in runs),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "throughput": float(np.median([run["throughput"] for run in runs])),
    }


WARM_UP = 500
LOGS = {"bentoml": "inference.db", "bare": "bare.db"}  # each peer's inference log, in the scratch folder


def measure(peers: dict[str, tuple[str, subprocess.Popen]], body: bytes, args) -> dict[str, dict]:
    """Full concurrency in interleaved rounds (this machine's load drifts between them; each round
    gives both peers the same weather), then each peer paced at 100 requests/s."""
    runs: dict[str, list[dict]] = {name: [] for name in peers}
    cpu = dict.fromkeys(peers, 0.0)
    for url, _ in peers.values():
        uvloop.run(load(url, body, WARM_UP, 8, None))
    per_round = args.requests // args.rounds
    for round_ in range(args.rounds):
        order = list(peers) if round_ % 2 == 0 else list(reversed(peers))
        for name in order:
            url, server = peers[name]
            before = cpu_seconds(server)
            runs[name].append(uvloop.run(load(url, body, per_round, args.concurrency, None)))
            cpu[name] += cpu_seconds(server) - before
    results = {}
    for name, (url, _) in peers.items():
        full = summary(runs[name])
        full["cpu_ms"] = cpu[name] * 1000 / (per_round * args.rounds)
        paced = summary([uvloop.run(load(url, body, args.paced_requests, args.concurrency, 100.0))])
        print(
            f"{name:>9}: {per_round * args.rounds} requests at concurrency {args.concurrency}: "
            f"errors {full['errors']}, "
            f"p50 {full['p50']:.1f} ms, p99 {full['p99']:.1f} ms, {full['throughput']:.0f} req/s, "
            f"server CPU {full['cpu_ms']:.2f} ms/request | at 100 req/s: errors {paced['errors']}, "
            f"p50 {paced['p50']:.1f} ms, p99 {paced['p99']:.1f} ms"
        )
        results[name] = {"full": full, "paced": paced, "errors": full["errors"] + paced["errors"]}
    ratios = [ours["throughput"] / bare["throughput"] for ours, bare in zip(*runs.values(), strict=True)]
    results["ratio"] = float(np.median(ratios))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deliverable", nargs="?", default="linear_regression")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="full-concurrency rounds, the peers interleaved")
    parser.add_argument("--paced-requests", type=int, help="sent at 100 requests/s (default: requests / 5, >= 1000)")
    args = parser.parse_args()
    args.paced_requests = args.paced_requests or max(1000, args.requests // 5)

    from s2p.cli import configure_environment

    stores = configure_environment()
    bento = json.loads(stores.run_paths(args.deliverable).bento.read_text())
    build = Path(bento["build_context"])
    spec = json.loads((build / "serving" / "s2p_service.json").read_text())
    body = json.dumps({"rows": [example_row(stores.run_paths(args.deliverable).dataset, spec)]}).encode()
    workers = int(spec.get("serving", {}).get("workers", 1))
    client_cpus, server_cpus = split_cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
        where = f"servers on CPUs {sorted(server_cpus)}, client on CPUs {sorted(client_cpus)}"
    else:
        where = "servers and client share the CPUs"
    print(f"{args.deliverable}: {workers} worker process(es) per server; {where}")
    with tempfile.TemporaryDirectory(prefix="s2p-bench-") as scratch:
        ok = compare(args, spec, build, body, workers, server_cpus, Path(scratch))
    raise SystemExit(0 if ok else 1)


def compare(
    args, spec: dict, build: Path, body: bytes, workers: int, server_cpus: set[int] | None, scratch: Path
) -> bool:
    env = {**os.environ, "S2P_INFERENCE_DB": str(scratch / LOGS["bentoml"])}

    ours_port, bare_port = free_port(), free_port()
    ours = start_server(
        [sys.executable, "-m", "s2p.cli", "serve", args.deliverable, "--port", str(ours_port)], ROOT, env, server_cpus
    )
    import bentoml

    model_path = Path(bentoml.models.get(spec["model_tag"]).path_of("model.pkl"))
    (scratch / "bare_app.py").write_text(BARE_APP)
    bare_command = [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port)]
    bare_command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    bare_env = {
        **env,
        "S2P_BUILD": str(build),
        "S2P_MODEL": str(model_path),
        "S2P_INFERENCE_DB": str(scratch / LOGS["bare"]),
    }
    bare = start_server(bare_command, scratch, bare_env, server_cpus)
    try:
        wait_ready(f"http://127.0.0.1:{ours_port}", ours)
        wait_ready(f"http://127.0.0.1:{bare_port}", bare)
        peers = {"bentoml": (f"http://127.0.0.1:{ours_port}", ours), "bare": (f"http://127.0.0.1:{bare_port}", bare)}
        results = measure(peers, body, args)
        mine, theirs = results["bentoml"], results["bare"]
        print(
            f"ratios (ours / bare): throughput {results['ratio']:.2f} (median of {args.rounds} rounds, "
            f"target >= 0.8), server CPU per request {mine['full']['cpu_ms'] / theirs['full']['cpu_ms']:.2f}, "
            f"p99 at 100 req/s {mine['paced']['p99']:.1f} ms vs {theirs['paced']['p99']:.1f} ms (target < 20 ms)"
        )
    finally:
        for process in (ours, bare):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    sent = WARM_UP + args.requests // args.rounds * args.rounds + args.paced_requests
    logged = {}
    for name, db in LOGS.items():
        log = InferenceLog(scratch / db)
        logged[name] = log.count(spec["run_key"])
        log.close()
    print(f"inference log rows for {sent} requests each: " + ", ".join(f"{k} {v}" for k, v in logged.items()))
    return mine["errors"] == theirs["errors"] == 0 and all(rows == sent for rows in logged.values())


if __name__ == "__main__":
    main()
