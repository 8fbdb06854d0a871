"""Serving benchmark: the deliverable's bento under `bentoml serve` against a bare FastAPI +
uvicorn endpoint serving the same model with the same request schema and the same inference
log, measured by the same client in the same run.

    .venv/bin/python benchmarks/bench_serving.py [DELIVERABLE] [--requests 10000] [--concurrency 32]

Needs a packaged deliverable (`make run` or `s2p run linear_regression`). Prints, for each peer,
errors, p50 / p99 latency and throughput at full concurrency, then p50 / p99 at a fixed 100
requests/s, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
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

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BARE_APP = textwrap.dedent(
    """
    import json, os, pickle, sys, time
    from pathlib import Path
    from typing import Annotated

    import numpy as np
    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    build = Path(os.environ["S2P_BUILD"])
    sys.path.insert(0, str(build))
    os.environ["S2P_SERVICE_SPEC"] = str(build / "serving" / "s2p_service.json")
    from serving.inference_log import InferenceLog
    from serving.service import Features, MAX_ROWS, SPEC  # the very same request schema

    model = pickle.loads(Path(os.environ["S2P_MODEL"]).read_bytes())
    log = InferenceLog(Path(os.environ["S2P_INFERENCE_DB"]))
    columns = [c["name"] for c in SPEC["features"]]
    app = FastAPI()


    class Body(BaseModel):
        rows: Annotated[list[Features], Field(min_length=1, max_length=MAX_ROWS)]


    @app.post("/predict")
    def predict(body: Body):
        started = time.perf_counter()
        records = [row.model_dump() for row in body.rows]
        X = np.array([[r[c] for c in columns] for r in records])
        values = [float(v) for v in model.predict(X)]
        ids = log.append(SPEC["run_key"], "bare", records, values, (time.perf_counter() - started) * 1000)
        return [{"id": i, "prediction": v, "model_version": "bare"} for i, v in zip(ids, values)]


    @app.get("/readyz")
    def ready():
        return "ok"
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


async def load(url: str, body: dict, requests: int, concurrency: int, rate: float | None) -> dict:
    latencies, errors = [], 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal errors
            if rate:
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            async with gate:
                t = time.perf_counter()
                response = await client.post(f"{url}/predict", json=body)
                latencies.append(time.perf_counter() - t)
                errors += response.status_code != 200

        await asyncio.gather(*(one(i) for i in range(requests)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "errors": errors,
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "throughput": requests / elapsed,
    }


def measure(name: str, url: str, body: dict, args) -> dict:
    asyncio.run(load(url, body, 200, 8, None))  # warm up
    full = asyncio.run(load(url, body, args.requests, args.concurrency, None))
    paced = asyncio.run(load(url, body, max(1000, args.requests // 5), args.concurrency, 100.0))
    print(
        f"{name:>9}: {args.requests} requests at concurrency {args.concurrency}: errors {full['errors']}, "
        f"p50 {full['p50']:.1f} ms, p99 {full['p99']:.1f} ms, {full['throughput']:.0f} req/s | "
        f"at 100 req/s: errors {paced['errors']}, p50 {paced['p50']:.1f} ms, p99 {paced['p99']:.1f} ms"
    )
    return {"full": full, "paced": paced}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deliverable", nargs="?", default="linear_regression")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    from s2p.cli import configure_environment

    stores = configure_environment()
    bento = json.loads(stores.run_paths(args.deliverable).bento.read_text())
    build = Path(bento["build_context"])
    spec = json.loads((build / "serving" / "s2p_service.json").read_text())
    body = {
        "rows": [{c["name"]: (c["min"] + c["max"]) / 2 if c.get("min") is not None else 1.0 for c in spec["features"]}]
    }
    scratch = Path(tempfile.mkdtemp(prefix="s2p-bench-"))
    env = {**os.environ, "S2P_INFERENCE_DB": str(scratch / "inference.db")}

    ours_port, bare_port = free_port(), free_port()
    ours = subprocess.Popen(
        [sys.executable, "-m", "s2p.cli", "serve", args.deliverable, "--port", str(ours_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    import bentoml

    model_path = Path(bentoml.models.get(spec["model_tag"]).path_of("model.pkl"))
    (scratch / "bare_app.py").write_text(BARE_APP)
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=scratch,
        env={
            **env,
            "S2P_BUILD": str(build),
            "S2P_MODEL": str(model_path),
            "S2P_INFERENCE_DB": str(scratch / "bare.db"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{ours_port}", ours)
        wait_ready(f"http://127.0.0.1:{bare_port}", bare)
        mine = measure("bentoml", f"http://127.0.0.1:{ours_port}", body, args)
        theirs = measure("bare", f"http://127.0.0.1:{bare_port}", body, args)
        print(
            f"ratios (ours / bare): throughput {mine['full']['throughput'] / theirs['full']['throughput']:.2f} "
            f"(target >= 0.8), p99 at 100 req/s {mine['paced']['p99']:.1f} ms vs {theirs['paced']['p99']:.1f} ms "
            f"(target < 20 ms)"
        )
    finally:
        for process in (ours, bare):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
