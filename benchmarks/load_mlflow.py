"""Load test of the team's MLflow server: N concurrent simulated data scientists, each with her own
account, experiment and registered model, against `mlflow server --app-name basic-auth` on PostgreSQL
with artifacts proxied to S3 (docs/registry_at_scale.md).

    .venv/bin/python benchmarks/load_mlflow.py [--users 100] [--runs-per-user 3] [--curve 1,10,50]
        [--workers 2] [--auth-cache 60] [--json]
    .venv/bin/python benchmarks/load_mlflow.py --tracking-uri http://mlflow:5000 --admin admin:PASSWORD ...

Without --tracking-uri it starts the stack the tests use (tests/backends/conftest.py: PostgreSQL,
moto's S3 server, the authenticated `mlflow server`) on free ports and stops it afterwards. For each
N of the curve (default 1, 10, 50 and --users) the admin creates N users; then N threads, one per
user, each with her own HTTP connection and password, start together and each creates an experiment
and a registered model, then per run: creates the run, logs one batch (params and a metric history),
uploads a small artifact through the server, finishes the run and registers a model version from it.
Printed per N: runs/s over the load phase, p50/p99 latency per operation kind, failures. Then the
admin reads everything back through the REST API and counts what was acknowledged to the client and
is missing (lost) or present more than once (duplicated); the exit code is 1 unless both are 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

API = "/api/2.0/mlflow"
OPERATIONS = ("create_experiment", "create_model", "create_run", "log_batch", "log_artifact", "finish_run", "register")
RETRIED_STATUS = (429, 502, 503, 504)
ARTIFACT = "model/weights.bin"


@dataclass(frozen=True)
class Workload:
    runs_per_user: int = 3
    params: int = 10
    metric_keys: int = 4
    steps: int = 10  # metric rows per run: metric_keys * steps
    artifact_bytes: int = 4096


class Refused(RuntimeError):
    """An operation that failed after its retries (the client was told: not counted as lost)."""


class UserSession:
    """One simulated data scientist: her own connection and credentials, MLflow's REST API, the
    retries MLflow's client makes (429 and 5xx gateway errors, transport errors), each call timed.

    A create is not idempotent: a retry after an answer that never arrived may create a second run or
    model version. Given ``landed`` (a read that finds what the lost attempt may have created), a retry
    first asks it and returns what it finds; ``naive`` retries blindly, as MLflow's client does."""

    def __init__(self, url: str, auth: tuple[str, str], timings: list, timeout: float = 120.0, naive: bool = False):
        self.http = httpx.Client(base_url=url, auth=auth, timeout=timeout)
        self.timings = timings  # (operation, seconds): list.append is atomic under the GIL
        self.retries: Counter = Counter()  # "operation: why" -> count
        self.landed = 0  # retries that found the first attempt's write already there
        self.naive = naive

    def call(self, operation: str, method: str, path: str, attempts: int = 3, landed=None, **kwargs) -> dict:
        started = time.perf_counter()
        for attempt in range(attempts):
            if attempt and landed is not None and not self.naive and (found := landed()) is not None:
                self.landed += 1
                self.timings.append((operation, time.perf_counter() - started))
                return found
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                problem = type(error).__name__
            else:
                if response.status_code not in RETRIED_STATUS:
                    break
                problem = f"HTTP {response.status_code}"
            if attempt == attempts - 1:
                raise Refused(f"{operation}: {problem}")
            self.retries[f"{operation}: {problem}"] += 1
            time.sleep(0.5 * 2**attempt)
        if response.status_code >= 400:
            raise Refused(f"{operation}: HTTP {response.status_code} {response.text[:200]}")
        self.timings.append((operation, time.perf_counter() - started))
        return response.json() if response.content else {}

    def close(self) -> None:
        self.http.close()


@dataclass
class Sent:
    """What the server acknowledged to one user."""

    user: str
    experiment_id: str | None = None
    model: str | None = None
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id (create_run acknowledged)
    batches: set[str] = field(default_factory=set)  # run ids whose log_batch was acknowledged
    artifacts: set[str] = field(default_factory=set)
    versions: set[str] = field(default_factory=set)  # run ids whose version was acknowledged
    failures: list[str] = field(default_factory=list)
    retries: Counter = field(default_factory=Counter)
    landed: int = 0


def simulate_user(
    url: str, auth: tuple[str, str], label: str, workload: Workload, start: threading.Barrier, timings, naive: bool
):
    """One data scientist's session: her experiment and model, then ``runs_per_user`` runs logged and registered."""
    user = auth[0]
    sent = Sent(user)
    session = UserSession(url, auth, timings, naive=naive)
    find = Finder(session)
    payload = np.random.default_rng(abs(hash(user)) % 2**32).bytes(workload.artifact_bytes)
    start.wait()
    try:
        experiment, model = f"{label}/{user}", f"{label}-{user}"
        sent.experiment_id = session.call(
            "create_experiment",
            "POST",
            f"{API}/experiments/create",
            json={"name": experiment},
            landed=lambda: find.experiment(experiment),
        )["experiment_id"]
        session.call(
            "create_model",
            "POST",
            f"{API}/registered-models/create",
            json={"name": model},
            landed=lambda: find.model(model),
        )
        sent.model = model
        for index in range(workload.runs_per_user):
            name = f"{user}-run{index}"
            now = int(time.time() * 1000)
            body = {"experiment_id": sent.experiment_id, "run_name": name, "start_time": now}
            found = lambda name=name: find.run(sent.experiment_id, name)  # noqa: E731
            run = session.call("create_run", "POST", f"{API}/runs/create", json=body, landed=found)["run"]["info"]
            run_id = sent.runs[name] = run["run_id"]
            session.call("log_batch", "POST", f"{API}/runs/log-batch", json=batch(run_id, workload, now))
            sent.batches.add(run_id)
            location = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
            session.call(
                "log_artifact", "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{location}/{ARTIFACT}", content=payload
            )
            sent.artifacts.add(run_id)
            finish = {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)}
            session.call("finish_run", "POST", f"{API}/runs/update", json=finish)
            source = f"{run['artifact_uri']}/model"
            version = {"name": sent.model, "source": source, "run_id": run_id}
            found = lambda run_id=run_id: find.version(model, run_id)  # noqa: E731
            session.call("register", "POST", f"{API}/model-versions/create", json=version, landed=found)
            sent.versions.add(run_id)
    except Refused as refused:
        sent.failures.append(str(refused))
    finally:
        sent.retries, sent.landed = session.retries, session.landed
        session.close()
    return sent


class Finder:
    """The reads that tell whether a create whose answer was lost did land (None: it did not)."""

    def __init__(self, session: UserSession):
        self.session = session

    def _get(self, path: str, **params) -> httpx.Response:
        return self.session.http.get(f"{API}/{path}", params=params)

    def experiment(self, name: str) -> dict | None:
        response = self._get("experiments/get-by-name", experiment_name=name)
        return (
            {"experiment_id": response.json()["experiment"]["experiment_id"]} if response.status_code == 200 else None
        )

    def model(self, name: str) -> dict | None:
        response = self._get("registered-models/get", name=name)
        return response.json() if response.status_code == 200 else None

    def run(self, experiment_id: str, name: str) -> dict | None:
        body = {"experiment_ids": [experiment_id], "filter": f"attributes.run_name = '{name}'", "max_results": 1}
        runs = self.session.http.post(f"{API}/runs/search", json=body).json().get("runs", [])
        return {"run": runs[0]} if runs else None

    def version(self, model: str, run_id: str) -> dict | None:
        query = f"name = '{model}' and run_id = '{run_id}'"
        versions = self._get("model-versions/search", filter=query).json().get("model_versions", [])
        return {"model_version": versions[0]} if versions else None


def batch(run_id: str, workload: Workload, now: int) -> dict:
    """One log-batch: ``params`` params and ``metric_keys`` metric histories of ``steps`` points."""
    params = [{"key": f"p{i}", "value": str(i)} for i in range(workload.params)]
    metrics = [
        {"key": f"m{k}", "value": float(k * workload.steps + step), "timestamp": now + step, "step": step}
        for k in range(workload.metric_keys)
        for step in range(workload.steps)
    ]
    return {"run_id": run_id, "params": params, "metrics": metrics}


@dataclass
class Found:
    """What the admin reads back for one user, against what she was told was written."""

    lost: Counter = field(default_factory=Counter)
    duplicated: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)


def verify_user(admin: UserSession, sent: Sent, workload: Workload) -> Found:
    """Every acknowledged write present exactly once: runs (by name), params, metric points (by key and
    step), the artifact (by size), model versions (one per registered run)."""
    result = Found()
    if sent.experiment_id is None:
        return result
    runs, token = [], None
    while True:
        body = {"experiment_ids": [sent.experiment_id], "max_results": 1000} | ({"page_token": token} if token else {})
        page = admin.call("verify", "POST", f"{API}/runs/search", json=body)
        runs += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            break
    names = Counter(run["info"]["run_name"] for run in runs)
    result.found["runs"] = len(runs)
    result.lost["runs"] = len(set(sent.runs) - set(names))
    result.duplicated["runs"] = sum(count - 1 for count in names.values()) + len(set(names) - set(sent.runs))
    by_id = {run["info"]["run_id"]: run for run in runs}
    for run_id in sent.batches:
        params = by_id.get(run_id, {}).get("data", {}).get("params", [])
        result.found["params"] += len(params)
        result.lost["params"] += workload.params - len({p["key"] for p in params})
        for k in range(workload.metric_keys):
            query = {"run_id": run_id, "metric_key": f"m{k}", "max_results": 25000}
            history = admin.call("verify", "GET", f"{API}/metrics/get-history", params=query).get("metrics", [])
            steps = Counter(point["step"] for point in history)
            result.found["metric_points"] += len(history)
            result.lost["metric_points"] += workload.steps - len(steps)
            result.duplicated["metric_points"] += sum(count - 1 for count in steps.values())
    for run_id in sent.artifacts:
        listing = admin.call("verify", "GET", f"{API}/artifacts/list", params={"run_id": run_id, "path": "model"})
        sizes = [int(f.get("file_size", -1)) for f in listing.get("files", []) if f["path"] == ARTIFACT]
        result.found["artifacts"] += len(sizes)
        result.lost["artifacts"] += sizes != [workload.artifact_bytes]
    if sent.model:
        query = {"filter": f"name='{sent.model}'", "max_results": 1000}
        versions = admin.call("verify", "GET", f"{API}/model-versions/search", params=query).get("model_versions", [])
        per_run = Counter(version["run_id"] for version in versions)
        result.found["versions"] = len(versions)
        result.lost["versions"] = len(sent.versions - set(per_run))
        result.duplicated["versions"] = sum(count - 1 for count in per_run.values()) + len(set(per_run) - sent.versions)
    return result


def create_users(admin: UserSession, label: str, count: int) -> list[tuple[str, str]]:
    users = [(f"{label}-u{i}", f"pw-{uuid.uuid4().hex[:12]}") for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda u: admin.call(
                    "create_user",
                    "POST",
                    f"{API}/users/create",
                    json=dict(zip(("username", "password"), u, strict=True)),
                ),
                users,
            )
        )
    return users


def percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else float("nan")


def load_point(url: str, admin_auth: tuple[str, str], users: int, workload: Workload, naive: bool = False) -> dict:
    """One point of the curve: ``users`` concurrent writers, timed, then verified through the API."""
    label = f"load{users}-{uuid.uuid4().hex[:6]}"
    admin = UserSession(url, admin_auth, [])
    accounts = create_users(admin, label, users)
    timings: list[tuple[str, float]] = []
    start = threading.Barrier(users + 1)
    with ThreadPoolExecutor(users) as pool:
        futures = [pool.submit(simulate_user, url, auth, label, workload, start, timings, naive) for auth in accounts]
        start.wait()
        began = time.perf_counter()
        sent = [future.result() for future in futures]
        wall = time.perf_counter() - began
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda s: verify_user(admin, s, workload), sent))
    admin.close()
    lost, duplicated, present = Counter(), Counter(), Counter()
    for item in found:
        lost.update(item.lost)
        duplicated.update(item.duplicated)
        present.update(item.found)
    runs = sum(len(s.runs) for s in sent)
    per_operation = {
        operation: {"count": len(values), "p50_ms": percentile_ms(values, 50), "p99_ms": percentile_ms(values, 99)}
        for operation in OPERATIONS
        if (values := [seconds for name, seconds in timings if name == operation])
    }
    acknowledged = {
        "runs": runs,
        "params": sum(len(s.batches) for s in sent) * workload.params,
        "metric_points": sum(len(s.batches) for s in sent) * workload.metric_keys * workload.steps,
        "artifacts": sum(len(s.artifacts) for s in sent),
        "versions": sum(len(s.versions) for s in sent),
    }
    return {
        "users": users,
        "runs": runs,
        "seconds": round(wall, 2),
        "runs_per_second": round(runs / wall, 2),
        "requests_per_second": round(len(timings) / wall, 1),
        "p99_ms_all": percentile_ms([seconds for _, seconds in timings], 99),
        "operations": per_operation,
        "acknowledged": acknowledged,
        "found": dict(present),
        "lost": sum(lost.values()),
        "duplicated": sum(duplicated.values()),
        "lost_by_kind": dict(+lost),
        "duplicated_by_kind": dict(+duplicated),
        "failures": [failure for s in sent for failure in s.failures],
        "retries": sum((s.retries for s in sent), Counter()),
        "retries_that_had_landed": sum(s.landed for s in sent),
    }


def print_point(point: dict) -> None:
    print(
        f"N={point['users']:>4}: {point['runs']} runs in {point['seconds']} s = {point['runs_per_second']} runs/s, "
        f"{point['requests_per_second']} requests/s, p99 {point['p99_ms_all']} ms; failed {len(point['failures'])}, "
        f"retries {sum(point['retries'].values())} ({point['retries_that_had_landed']} had landed), "
        f"lost {point['lost']}, duplicated {point['duplicated']}"
    )
    for operation, figures in point["operations"].items():
        print(
            f"    {operation:<18} n={figures['count']:<5} p50 {figures['p50_ms']:>8} ms  p99 {figures['p99_ms']:>8} ms"
        )
    for failure in point["failures"][:5]:
        print(f"    failed: {failure}")
    for why, count in point["retries"].most_common(5):
        print(f"    retried {count}x: {why}")


@contextlib.contextmanager
def started_stack(workers: int, auth_cache_s: int):
    """PostgreSQL, moto and the authenticated `mlflow server` of tests/backends/conftest.py, started
    through the fixtures' own functions (``__wrapped__``: the plain generator under pytest's decorator)."""
    from tests.backends import conftest as backends

    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="s2p-load-")))

        class Folders:  # what the s3_endpoint fixture asks of pytest's tmp_path_factory
            def mktemp(self, name: str) -> Path:
                return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))

        postgres = stack.enter_context(contextlib.contextmanager(backends.postgres.__wrapped__)())
        s3 = stack.enter_context(contextlib.contextmanager(backends.s3_endpoint.__wrapped__)(Folders()))
        server = stack.enter_context(
            backends.authenticated_mlflow(
                postgres, s3, Folders().mktemp("mlflow"), workers=workers, auth_cache_s=auth_cache_s
            )
        )
        yield server.url, server.admin, lambda: stored_bytes(postgres)


#: The tables an experiment's runs fill, with what each row is.
TABLES = {
    "metrics": "metric point",
    "latest_metrics": "metric key of a run",
    "params": "param",
    "runs": "run",
    "tags": "run tag",
    "model_versions": "model version",
}


def stored_bytes(postgres) -> dict[str, dict]:
    """PostgreSQL's bytes per row (table, its indexes and TOAST) of the tracking database's main tables."""
    sizes = {}
    for table, row in TABLES.items():
        ((rows, size),) = postgres.query(
            "mlflow_auth", f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"
        )
        sizes[table] = {
            "rows": rows,
            "bytes": size,
            "bytes_per_row": round(size / rows, 1) if rows else None,
            "row": row,
        }
    return sizes


def curve_points(users: int, curve: str) -> list[int]:
    points = sorted({int(n) for n in curve.split(",") if n.strip() and int(n) < users} | {users})
    return points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100, help="concurrent simulated users at the top of the curve")
    parser.add_argument("--runs-per-user", type=int, default=3)
    parser.add_argument("--curve", default="1,10,50", help="smaller N measured before --users ('' for none)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the server this script starts")
    parser.add_argument(
        "--auth-cache",
        type=int,
        default=60,
        help="auth_cache_ttl_seconds of the server it starts (0: MLflow's default)",
    )
    parser.add_argument("--tracking-uri", help="an authenticated MLflow server already running (else one is started)")
    parser.add_argument("--admin", help="USER:PASSWORD of that server's admin")
    parser.add_argument(
        "--naive-retries", action="store_true", help="retry creates blindly, as MLflow's client does (duplicates)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object at the end")
    args = parser.parse_args(argv)
    workload = Workload(runs_per_user=args.runs_per_user)
    if args.tracking_uri:
        if not args.admin or ":" not in args.admin:
            parser.error("--tracking-uri needs --admin USER:PASSWORD")
        stack = contextlib.nullcontext((args.tracking_uri, tuple(args.admin.split(":", 1)), None))
    else:
        stack = started_stack(args.workers, args.auth_cache)
    points = []
    storage = None
    with stack as (url, admin, measure_storage):
        print(f"MLflow at {url}; workload {asdict(workload)}; workers {args.workers}, auth cache {args.auth_cache} s")
        for users in curve_points(args.users, args.curve):
            point = load_point(url, admin, users, workload, naive=args.naive_retries)
            print_point(point)
            points.append(point)
        if measure_storage is not None:
            storage = measure_storage()
            for table, figures in storage.items():
                rows, size, each = figures["rows"], figures["bytes"], figures["bytes_per_row"]
                print(f"{table:<16} {rows:>8} rows {size:>11} bytes: {each} per {figures['row']}")
    if args.json:
        print(
            json.dumps(
                {
                    "workload": asdict(workload),
                    "workers": args.workers,
                    "auth_cache_s": args.auth_cache,
                    "points": points,
                    "storage": storage,
                }
            )
        )
    return 0 if all(p["lost"] == 0 and p["duplicated"] == 0 and not p["failures"] for p in points) else 1


if __name__ == "__main__":
    sys.exit(main())
