"""Deployment-pattern benchmark: what the canary router (SLO watch included) and the blue-green switch
cost per request against the plain service, the same bento served three ways in the same run.

    .venv/bin/python benchmarks/bench_deployment.py [--requests 6000] [--rounds 3] [--concurrency 8]

Works in a scratch folder of its own (nothing of the project's stores is touched): trains
linear_regression (`s2p run`), registers a healthy copy of its champion as the challenger, and packages
three bentos: ``single``, ``canary`` (half the requests to the challenger, the SLO watch on each) and
``blue_green`` (green live: every request reads the shared deployment state). The three servers run side
by side (each with params.yaml's workers, on the servers' CPUs; the client on the others) and take the
same load in interleaved rounds. Prints throughput and server CPU per request with their ratios to
``single``; the router's own cost per request measured in-process; and, under load, how long a switch
takes and that no request failed while the colours flipped. Exits 1 on any failed request or a request
without its inference-log row.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path

import httpx
import numpy as np
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_serving import cpu_seconds, free_port, load, split_cpus, start_server, summary, wait_ready  # noqa: E402

DELIVERABLE = "linear_regression"
MODES = {
    "single": {"mode": "single"},
    "canary": {"mode": "canary", "canary_fraction": 0.5},
    "blue_green": {"mode": "blue_green", "live": "green"},
}


def scratch_environment(scratch: Path) -> dict[str, str]:
    """Every store of the project under ``scratch`` (the test suite's layout)."""
    from tests.conftest import store_variables

    return {
        **store_variables(scratch),
        "S2P_ROOT": str(ROOT),
        "BENTOML_HOME": str(scratch / "bentoml"),
        "PREFECT_HOME": str(scratch / "prefect"),
    }


def register_challenger() -> str:
    """A healthy copy of the champion registered as the newest version: the challenger the bentos pack."""
    import mlflow

    from pipeline.context import load_context
    from pipeline.registry import load_registered, tracking

    ctx = load_context(DELIVERABLE)
    model = copy.deepcopy(load_registered(ctx.model_name, "@champion"))
    _, experiment = tracking(ctx)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="pickle", pip_requirements=[])
    return str(mlflow.register_model(info.model_uri, ctx.model_name).version)


def package(scratch: Path, serving: dict) -> str:
    """The bento for these serving params (over params.yaml's); returns its tag."""
    import yaml

    from pipeline.context import load_context
    from pipeline.package import run_package

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["defaults"]["serving"] = {**params["defaults"]["serving"], **serving}
    path = scratch / f"params-{serving['mode']}.yaml"
    path.write_text(yaml.safe_dump(params))
    os.environ["S2P_PARAMS"] = str(path)
    try:
        return run_package(load_context(DELIVERABLE)).tag
    finally:
        del os.environ["S2P_PARAMS"]


def router_cost(scratch: Path) -> dict[str, float]:
    """The router's own work per request, in-process (microseconds): the shared state's identity check
    (blue-green, and the canary's status), and a canary's random draw plus SLO watch update."""
    import random

    from serving.rollout import CanaryWatch, DeploymentState, Slo, switch_to

    state = DeploymentState(scratch / "router" / "state.json")
    state.start({"mode": "blue_green", "versions": {"blue": "1", "green": "2"}, "live": "blue", "canary": None})
    state.update(switch_to("green", {"blue": "1", "green": "2"}))
    watch, lock, draw = CanaryWatch(Slo(max_p95_ms=50.0)), threading.Lock(), random.Random(0)

    def canary() -> None:
        state.current()
        if draw.random() < 0.5:
            with lock:
                watch.record(False, 1.0)

    n = 20_000
    return {
        "state_check_us": min(timeit.repeat(state.current, number=n, repeat=5)) / n * 1e6,
        "canary_route_us": min(timeit.repeat(canary, number=n, repeat=5)) / n * 1e6,
    }


def flip(url: str, stop: threading.Event, every: float, latencies: list[float]) -> None:
    colour = "blue"
    with httpx.Client(timeout=10) as client:
        while not stop.wait(every):
            started = time.perf_counter()
            response = client.post(f"{url}/deployment/switch", json={"colour": colour})
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
            colour = "green" if colour == "blue" else "blue"


def champion_in_scratch(prefix: str) -> Path:
    """Point every store at a fresh scratch folder (this process's environment) and train DELIVERABLE's
    champion there with `s2p run`; the folder."""
    from s2p.cli import QUIET_TELEMETRY

    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(scratch_environment(scratch) | QUIET_TELEMETRY)
    trained = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "run", DELIVERABLE], cwd=ROOT, capture_output=True, text=True
    )
    if trained.returncode != 0:
        raise SystemExit(f"s2p run {DELIVERABLE} failed:\n{trained.stderr[-3000:]}")
    return scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000, help="per server, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    scratch = champion_in_scratch("s2p-bench-deployment-")
    challenger = register_challenger()
    tags = {mode: package(scratch, serving) for mode, serving in MODES.items()}
    print(f"{DELIVERABLE}: champion v1, challenger v{challenger}; bentos {tags}")
    cost = router_cost(scratch)
    ok = compare(args, tags, scratch, cost)
    raise SystemExit(0 if ok else 1)


def compare(args, tags: dict[str, str], scratch: Path, cost: dict[str, float]) -> bool:
    from s2p.config import params_for

    workers = params_for(ROOT / "params.yaml", DELIVERABLE).serving.workers
    client_cpus, server_cpus = split_cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    servers, logs = start_servers(tags, scratch, server_cpus)
    body = json.dumps({"rows": [example()]}).encode()
    sent = dict.fromkeys(servers, 0)
    try:
        for url, process in servers.values():
            wait_ready(url, process)
        runs, cpu_ms = interleaved(servers, body, args, sent)
        print(f"{workers} worker(s) per server, {args.rounds} interleaved rounds of {args.requests // args.rounds}")
        errors = report(runs, cpu_ms, cost)
        switching = under_switches(servers["blue_green"][0], body, args.requests // args.rounds, args.concurrency)
        sent["blue_green"] += args.requests // args.rounds
        errors += switching["errors"]
    finally:
        for _, process in servers.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    return errors == 0 and logged(logs, sent)


def start_servers(tags: dict[str, str], scratch: Path, cpus) -> tuple[dict, dict[str, Path]]:
    """One `bentoml serve` per mode, each with its own inference log and deployment state."""
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    servers, logs = {}, {}
    for mode, tag in tags.items():
        port = free_port()
        logs[mode] = scratch / f"inference-{mode}.db"
        env = {**os.environ, "S2P_INFERENCE_DB": str(logs[mode]), "S2P_DEPLOYMENT_DIR": str(scratch / mode)}
        servers[mode] = (
            f"http://127.0.0.1:{port}",
            start_server([bentoml, "serve", tag, "--port", str(port)], ROOT, env, cpus),
        )
    return servers, logs


def interleaved(servers: dict, body: bytes, args, sent: dict[str, int]) -> tuple[dict, dict[str, float]]:
    """A warm-up, then ``args.rounds`` rounds at full concurrency, the servers' order alternating (the
    machine's load drifts between rounds; each round gives every mode the same weather)."""
    runs, cpu = {mode: [] for mode in servers}, dict.fromkeys(servers, 0.0)
    for mode, (url, _) in servers.items():
        uvloop.run(load(url, body, 300, args.concurrency, None))
        sent[mode] += 300
    per_round = args.requests // args.rounds
    for round_ in range(args.rounds):
        for mode in list(servers) if round_ % 2 == 0 else list(reversed(servers)):
            url, process = servers[mode]
            before = cpu_seconds(process)
            runs[mode].append(uvloop.run(load(url, body, per_round, args.concurrency, None)))
            cpu[mode] += cpu_seconds(process) - before
            sent[mode] += per_round
    return runs, {mode: cpu[mode] * 1000 / (per_round * args.rounds) for mode in servers}


def report(runs: dict, cpu_ms: dict[str, float], cost: dict[str, float]) -> int:
    """Each mode against ``single``: throughput (median of the rounds' ratios) and server CPU per request."""
    errors = 0
    for mode in runs:
        result = summary(runs[mode])
        errors += result["errors"]
        ratio = np.median([a["throughput"] / b["throughput"] for a, b in zip(runs[mode], runs["single"], strict=True)])
        print(
            f"{mode:>10}: errors {result['errors']}, p50 {result['p50']:.2f} ms, p99 {result['p99']:.1f} ms, "
            f"{result['throughput']:.0f} req/s (x{ratio:.3f} of single), "
            f"server CPU {cpu_ms[mode]:.3f} ms/request (x{cpu_ms[mode] / cpu_ms['single']:.3f})"
        )
    print(
        f"router in-process: state check {cost['state_check_us']:.2f} us, canary route + SLO watch "
        f"{cost['canary_route_us']:.2f} us per request = {cost['canary_route_us'] / (cpu_ms['single'] * 1000):.2%} "
        f"of the plain service's {cpu_ms['single']:.3f} ms of CPU per request"
    )
    return errors


def under_switches(url: str, body: bytes, requests: int, concurrency: int) -> dict:
    """``requests`` at full concurrency while the colour flips every 50 ms: the switch's latency and
    the requests that failed meanwhile (none may)."""
    latencies, stop = [], threading.Event()
    flipper = threading.Thread(target=flip, args=(url, stop, 0.05, latencies))
    flipper.start()
    try:
        run = uvloop.run(load(url, body, requests, concurrency, None))
    finally:
        stop.set()
        flipper.join()
    result = summary([run])
    print(
        f"blue-green under {len(latencies)} switches (one per 50 ms) at concurrency {concurrency}: "
        f"errors {result['errors']}, {result['throughput']:.0f} req/s; switch call p50 "
        f"{np.percentile(latencies, 50):.1f} ms, max {max(latencies):.1f} ms"
    )
    return result


def example() -> dict:
    """The training set's first row, as a client sends it."""
    import pandas as pd

    from pipeline.context import load_context

    ctx = load_context(DELIVERABLE)
    frame = pd.read_parquet(ctx.paths.training_set)
    return {name: float(frame[name].iloc[0]) for name in ctx.deliverable.feature_names}


def logged(logs: dict[str, Path], sent: dict[str, int]) -> bool:
    from serving.inference_log import InferenceLog

    rows = {}
    for mode, path in logs.items():
        log = InferenceLog(path)
        rows[mode] = log.count(DELIVERABLE, "champion") + log.count(DELIVERABLE, "canary")
        log.close()
    print("inference log rows / requests: " + ", ".join(f"{m} {rows[m]}/{sent[m]}" for m in logs))
    return all(rows[mode] == sent[mode] for mode in logs)


if __name__ == "__main__":
    main()
