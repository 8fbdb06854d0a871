"""Observability on the real stack: a real Prometheus (Debian's binary, on a free port, its configuration
generated here) scrapes the served bento's /metrics and a real Pushgateway the pipeline pushes to; the
repo's alert rules (deploy/prometheus/alerts.yml, their ``for`` shortened to 0 s, the expressions as
shipped) FIRE through Prometheus's HTTP API on injected faults: a registered version whose answers are
NaN (5xx), a registered version too slow for the latency objective, a drifted batch; a real
Alertmanager (Debian's, with deploy/prometheus/alertmanager.yml) routes them by severity to a webhook
served here, and inhibits a failed step that a failed validation explains. A traced bento's spans
(request, model, inference-log write) and JSON log lines carry the request id that its inference-log
rows carry; the same spans reach an OTLP/HTTP collector (a small real one here, decoding OpenTelemetry's
protobufs) through OpenTelemetry's exporter, chosen by ``OTEL_EXPORTER_OTLP_ENDPOINT``."""

import contextlib
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from pipeline.context import load_context
from tests.conftest import ROOT, free_port, served, start, stop, store_variables, wait_for
from tests.e2e.test_deployment import DELIVERABLE, bodies, package, register, samples
from tests.e2e.test_loop import SHIFT, rows

PROMETHEUS = ROOT / "deploy" / "prometheus"
FIRES_WITHIN_S = 30.0  # from the first faulty request; Prometheus scrapes and evaluates every second


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: `apt-get install prometheus prometheus-pushgateway prometheus-alertmanager` "
            "(make install)"
        )
    return found


def test_the_alert_rules_pass_promtool_and_their_unit_tests():
    promtool = tool("promtool")
    checked = subprocess.run(
        [promtool, "check", "rules", str(PROMETHEUS / "alerts.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_alertmanager_config_passes_amtool_and_routes_by_severity():
    amtool, config = tool("amtool"), str(PROMETHEUS / "alertmanager.yml")
    checked = subprocess.run([amtool, "check-config", config], capture_output=True, text=True)
    assert checked.returncode == 0 and "2 inhibit rules" in checked.stdout, checked.stdout + checked.stderr
    for labels, receiver in ((["severity=page"], "pager"), (["severity=ticket"], "tickets"), ([], "tickets")):
        routed = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receiver}", *labels],
            capture_output=True,
            text=True,
        )
        assert routed.returncode == 0, f"{labels} -> {routed.stdout.strip()}, not {receiver}"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/v1/traces",
            },
            "https://b/v1/traces",
        ),
    ],
)
def test_the_otlp_endpoint_is_opentelemetrys_variable_traces_first(environ, expected):
    from serving.telemetry import otlp_endpoint

    assert otlp_endpoint(environ) == expected


def test_an_otlp_endpoint_that_is_not_a_url_is_refused_naming_the_variable():
    from serving.telemetry import otlp_endpoint

    with pytest.raises(ValueError, match=r"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='collector:4318'.*http://"):
        otlp_endpoint({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318"})


def test_a_request_id_is_the_clients_when_well_formed_else_a_fresh_one_and_the_code_sees_it():
    import asyncio

    from serving import telemetry

    seen = []

    async def app(scope, receive, send):
        seen.append(telemetry.request_id())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def ask(headers: dict) -> str:
        transport = httpx.ASGITransport(app=telemetry.RequestIds(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://bento") as client:
            return (await client.post("/predict", json={}, headers=headers)).headers["x-request-id"]

    assert asyncio.run(ask({"X-Request-ID": "gateway-42.a:b"})) == "gateway-42.a:b"
    fresh = asyncio.run(ask({"X-Request-ID": "no spaces or <tags>"}))
    assert re.fullmatch(r"[0-9a-f]{32}", fresh) and fresh != asyncio.run(ask({}))
    assert seen[:2] == ["gateway-42.a:b", fresh] and telemetry.request_id() is None


@contextlib.contextmanager
def recording(answer: bytes, content_type: str):
    """A real HTTP server on a free port (a thread) that keeps each POST as (path, headers in lower case,
    body, when), the body decompressed if gzipped, and answers 200 with ``answer``; yields (its URL, the POSTs)."""
    posts: list[tuple[str, dict, bytes, float]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            headers = {name.lower(): value for name, value in self.headers.items()}
            posts.append((self.path, headers, body, time.monotonic()))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # the test reads the POSTs, not an access log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", posts
    finally:
        server.shutdown()
        server.server_close()


class Collector:
    """What an OTLP/HTTP collector received: each POST decoded as an ExportTraceServiceRequest."""

    def __init__(self, url: str, posts: list):
        self.url, self.posts = url, posts

    def spans(self) -> list[dict]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        found = []
        for path, headers, body, _ in list(self.posts):
            assert path == "/v1/traces" and headers["content-type"] == "application/x-protobuf", (path, headers)
            for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    found += [
                        {
                            "name": span.name,
                            "kind": span.kind,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "attributes": attributes(span.attributes),
                            "resource": resource,
                        }
                        for span in scope_spans.spans
                    ]
        return found


def attributes(pairs) -> dict:
    """OTLP KeyValue pairs as a dict (each AnyValue's set field)."""
    return {pair.key: getattr(pair.value, pair.value.WhichOneof("value")) for pair in pairs}


@pytest.fixture(scope="module")
def otlp_collector():
    """The test's collector: a real OTLP/HTTP endpoint answering each export as a collector does."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    with recording(ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf") as (url, posts):
        yield Collector(url, posts)


class Alertmanager:
    def __init__(self, url: str, posts: list):
        self.url, self.posts = url, posts

    def notified(self, receiver: str, alertname: str, **labels: str) -> list[tuple[dict, dict, float]]:
        """(notification, alert, when received) of each firing ``alertname`` with ``labels`` the webhook
        of ``receiver`` got."""
        found = []
        for path, _, body, when in list(self.posts):
            payload = json.loads(body)
            if path == f"/{receiver}" and payload["status"] == "firing":
                found += [
                    (payload, alert, when)
                    for alert in payload["alerts"]
                    if alert["labels"]["alertname"] == alertname and labels.items() <= alert["labels"].items()
                ]
        return found

    def alerts(self, alertname: str) -> list[dict]:
        """The alerts Alertmanager holds (its v2 API), inhibited and silenced ones included."""
        answer = httpx.get(f"{self.url}/api/v2/alerts", params={"filter": f'alertname="{alertname}"'}, timeout=5)
        return answer.json()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    """Debian's Alertmanager with deploy/prometheus/alertmanager.yml (its routes, grouping and inhibitions
    as shipped), each receiver's webhook pointed at a recorder here (``/<receiver>``), the waits shortened."""
    base = tmp_path_factory.mktemp("alertmanager")
    with recording(b"", "text/plain") as (hook, posts):
        config = yaml.safe_load((PROMETHEUS / "alertmanager.yml").read_text())
        for receiver in config["receivers"]:
            for webhook in receiver["webhook_configs"]:
                webhook["url"] = f"{hook}/{receiver['name']}"
        for route in (config["route"], *config["route"]["routes"]):
            route.update(group_wait="0s", group_interval="1s")
        (base / "alertmanager.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        server = start(
            [
                tool("prometheus-alertmanager"),
                f"--config.file={base / 'alertmanager.yml'}",
                f"--storage.path={base / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # one instance: no gossip port
            ],
            dict(os.environ),
            base / "alertmanager.log",
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, 30, "alertmanager ready")
            yield Alertmanager(url, posts)
        finally:
            stop(server)


class Prometheus:
    def __init__(self, url: str, gateway: str, targets: Path):
        self.url, self.gateway, self.targets = url, gateway, targets

    def scrape(self, bento_url: str) -> None:
        """Point the s2p-serving job at this served bento (file service discovery, reread on change)."""
        self.targets.write_text(json.dumps([{"targets": [bento_url.removeprefix("http://")]}]))
        wait_for(lambda: self.query(f'up{{job="s2p-serving", instance="{bento_url[7:]}"}} == 1'), 30, "bento scrape")

    def query(self, expr: str) -> list[dict]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def firing(self, alertname: str) -> list[dict]:
        alerts = httpx.get(f"{self.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == alertname and a["state"] == "firing"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, alertmanager):
    """A Pushgateway and a Prometheus scraping it and the bento every second, with the repo's rules,
    sending its alerts to the Alertmanager."""
    base = tmp_path_factory.mktemp("prometheus")
    gateway_port, port = free_port(), free_port()
    rules = re.sub(r"(?m)^(\s+for:) .*$", r"\1 0s", (PROMETHEUS / "alerts.yml").read_text())
    (base / "alerts.yml").write_text(rules)
    targets = base / "serving-targets.json"
    targets.write_text("[]")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(base / "alerts.yml")],
        "alerting": {
            "alertmanagers": [
                {"api_version": "v2", "static_configs": [{"targets": [alertmanager.url.removeprefix("http://")]}]}
            ]
        },
        "scrape_configs": [
            {"job_name": "s2p-serving", "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}]},
            {
                "job_name": "s2p-pipeline",
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{gateway_port}"]}],
            },
        ],
    }
    (base / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run([tool("promtool"), "check", "config", str(base / "prometheus.yml")], capture_output=True)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    gateway = start(
        [
            tool("prometheus-pushgateway"),
            f"--web.listen-address=127.0.0.1:{gateway_port}",
            f"--persistence.file={base / 'pushgateway.data'}",
        ],
        dict(os.environ),
        base / "pushgateway.log",
    )
    server = start(
        [
            tool("prometheus"),
            f"--config.file={base / 'prometheus.yml'}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        dict(os.environ),
        base / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, 60, "prometheus ready")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{gateway_port}/-/ready", timeout=2).status_code == 200, 30, "gw")
        yield Prometheus(url, f"127.0.0.1:{gateway_port}", targets)
    finally:
        stop(server)
        stop(gateway)


@pytest.fixture(scope="module")
def observed(tmp_path_factory, prometheus):
    """Stores of its own; the pipeline pushes to the Pushgateway, served bentos write spans and logs here."""
    base = tmp_path_factory.mktemp("observed")
    with pytest.MonkeyPatch.context() as patch:
        for var, value in store_variables(base).items():
            patch.setenv(var, value)
        patch.setenv("S2P_PUSHGATEWAY", prometheus.gateway)
        patch.setenv("S2P_TELEMETRY_DIR", str(base / "telemetry"))
        yield base


@pytest.fixture(scope="module")
def champion(observed):
    from flows.deliverable import deliverable_flow

    summary = deliverable_flow(DELIVERABLE)
    assert summary["mlflow"]["champion_version"] == "1"
    return summary


@pytest.mark.slow
def test_the_pipelines_metrics_reach_prometheus_through_the_pushgateway(champion, prometheus):
    selector = f'{{job="s2p_pipeline", deliverable="{DELIVERABLE}"}}'
    steps = wait_for(lambda: prometheus.query(f"s2p_step_duration_seconds{selector}"), 30, "step durations")
    names = {series["metric"]["step"] for series in steps}
    assert {"validate", "train", "package"} <= names, names
    assert all(float(series["value"][1]) >= 0 for series in steps)
    failed = prometheus.query(f"s2p_step_failed{selector}")
    assert len(failed) == len(steps) and {float(series["value"][1]) for series in failed} == {0.0}
    flow = prometheus.query(f's2p_flow_duration_seconds{{flow="{DELIVERABLE}"}}')
    assert len(flow) == 1 and float(flow[0]["value"][1]) >= max(float(s["value"][1]) for s in steps)
    assert float(prometheus.query(f"s2p_validation_failed{selector}")[0]["value"][1]) == 0.0
    assert float(prometheus.query(f"s2p_validation_rows{selector}")[0]["value"][1]) > 0
    assert float(prometheus.query(f"s2p_champion_version{selector}")[0]["value"][1]) == 1.0
    assert prometheus.firing("S2PStepFailed") == [] and prometheus.firing("S2PValidationFailed") == []
    series = prometheus.query(f"count({selector})")[0]["value"][1]
    print(f"\npushed: {len(steps)} steps, flow {float(flow[0]['value'][1]):.1f} s, champion v1; {series} series")


@pytest.fixture(scope="module")
def traced_url(champion, prometheus, otlp_collector, tmp_path_factory):
    """The champion served by a bento packaged with ``serving.tracing: true``, scraped by Prometheus,
    its spans exported to the test's OTLP collector too (OpenTelemetry's variables, a 0.2 s batch delay)."""
    with pytest.MonkeyPatch.context() as patch:
        package(tmp_path_factory.mktemp("traced"), patch, {"tracing": True})
        patch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_collector.url)
        patch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        with served() as url:
            prometheus.scrape(url)
            yield url


def jsonl(folder: Path, pattern: str) -> list[dict]:
    """The complete lines of the files (a worker may be writing the last one)."""
    return [json.loads(line) for path in folder.glob(pattern) for line in path.read_text().split("\n")[:-1] if line]


@pytest.mark.slow
def test_a_requests_spans_json_log_line_and_inference_log_rows_share_its_request_id(traced_url, observed):
    telemetry = observed / "telemetry"
    sent = {}
    with httpx.Client(timeout=30) as client:
        for i, body in enumerate(bodies(12, seed=5)):
            headers = {"X-Request-ID": f"client-{i}"} if i % 2 == 0 else {}  # the others get a fresh id
            response = client.post(f"{traced_url}/predict", json=body, headers=headers)
            assert response.status_code == 200
            assert response.headers["x-request-id"] == headers.get("X-Request-ID", response.headers["x-request-id"])
            sent[response.headers["x-request-id"]] = response.json()[0]
        refused = client.post(f"{traced_url}/predict", json={"nope": 1})
    assert refused.status_code == 400 and refused.headers["x-request-id"]

    def traced() -> dict | None:
        spans = [s for s in jsonl(telemetry, "spans-*.jsonl") if s["attributes"].get("s2p.request_id") in sent]
        by_request = {}
        for span in spans:
            by_request.setdefault(span["attributes"]["s2p.request_id"], {})[span["name"]] = span
        return by_request if all(len(by_request.get(rid, {})) == 3 for rid in sent) else None

    by_request = wait_for(traced, 20, "every request's three spans")
    lines = {line["request_id"]: line for line in jsonl(telemetry, "requests-*.jsonl")}
    database = sqlite3.connect(observed / "inference.db")
    logged = dict(database.execute("SELECT request_id, id FROM predictions WHERE request_id IS NOT NULL").fetchall())
    for rid, answer in sent.items():
        request, model, write = (by_request[rid][name] for name in ("POST /predict", "model", "inference_log.write"))
        assert request["kind"] == "SpanKind.SERVER" and request["parent_id"] is None
        trace_id = request["context"]["trace_id"]
        assert model["context"]["trace_id"] == write["context"]["trace_id"] == trace_id
        assert model["parent_id"] == write["parent_id"] == request["context"]["span_id"]
        assert model["attributes"]["s2p.who"] == "champion" and write["attributes"]["s2p.rows"] == 1
        line = lines[rid]
        assert line["trace_id"] == trace_id.removeprefix("0x") and line["status"] == 200 and line["path"] == "/predict"
        assert logged[rid] == answer["id"]  # the answer's inference-log row carries its request id
    assert lines[refused.headers["x-request-id"]]["status"] == 400
    print(f"\n{len(sent)} requests: 3 spans each in one trace, a JSON line each, a log row each (by request id)")


@pytest.mark.slow
def test_the_collector_receives_each_requests_spans_over_otlp_in_one_trace(traced_url, otlp_collector, observed):
    sent = []
    with httpx.Client(timeout=30) as client:
        for i, body in enumerate(bodies(6, seed=9)):
            response = client.post(f"{traced_url}/predict", json=body, headers={"X-Request-ID": f"otlp-{i}"})
            assert response.status_code == 200
            sent.append(response.headers["x-request-id"])

    def received() -> dict | None:
        by_request = {}
        for span in otlp_collector.spans():
            by_request.setdefault(span["attributes"].get("s2p.request_id"), {})[span["name"]] = span
        return by_request if all(len(by_request.get(rid, {})) == 3 for rid in sent) else None

    by_request = wait_for(received, 20, "every request's three spans at the collector")
    assert not [s for s in otlp_collector.spans() if "asgi.event.type" in s["attributes"]]  # per-message spans
    lines = {line["request_id"]: line for line in jsonl(observed / "telemetry", "requests-*.jsonl")}
    for rid in sent:
        request, model, write = (by_request[rid][name] for name in ("POST /predict", "model", "inference_log.write"))
        assert request["kind"] == 2 and request["parent_span_id"] == ""  # SPAN_KIND_SERVER, a root
        assert model["trace_id"] == write["trace_id"] == request["trace_id"] == lines[rid]["trace_id"]
        assert model["parent_span_id"] == write["parent_span_id"] == request["span_id"]
        assert model["attributes"]["s2p.who"] == "champion" and write["attributes"]["s2p.rows"] == 1
        assert request["resource"]["service.name"] == load_context(DELIVERABLE).model_name  # the bento's service
    exports = len(otlp_collector.posts)
    print(f"\n{len(sent)} requests: 3 spans each in one trace at the OTLP collector ({exports} protobuf exports)")


@pytest.mark.slow
def test_a_drifted_batch_fires_the_drift_alert_and_alertmanager_opens_a_ticket(traced_url, prometheus, alertmanager):
    from pipeline.monitor import run_monitor

    with httpx.Client(timeout=30) as client:
        shifted = client.post(f"{traced_url}/predict", json={"rows": rows(150, seed=6, shift=SHIFT)})
    assert shifted.status_code == 200
    result = run_monitor(load_context(DELIVERABLE, overrides={"monitor": {"window": 150}}))
    assert result.drift_detected
    started = time.monotonic()
    alert = wait_for(lambda: prometheus.firing("S2PDataDrift"), FIRES_WITHIN_S, "S2PDataDrift firing")
    assert alert[0]["labels"]["deliverable"] == DELIVERABLE
    fired = time.monotonic() - started
    ticket = wait_for(
        lambda: alertmanager.notified("tickets", "S2PDataDrift", deliverable=DELIVERABLE), 15, "the drift ticket"
    )
    payload, sent, when = ticket[0]
    assert payload["receiver"] == "tickets" and payload["groupLabels"] == {"deliverable": DELIVERABLE}
    assert sent["labels"]["severity"] == "ticket" and sent["annotations"]["runbook"].endswith("#drift")
    assert not alertmanager.notified("pager", "S2PDataDrift")
    print(f"\nS2PDataDrift fired {fired:.1f} s after the monitor's push, ticket {when - started:.1f} s after it")


def until_firing(url: str, prometheus: Prometheus, alertname: str, pause: float) -> tuple[float, list[int]]:
    """Requests one after another from a thread until ``alertname`` fires: its delay from the first
    request, and the statuses answered meanwhile."""
    statuses, stop_sending = [], threading.Event()

    def send() -> None:
        with httpx.Client(timeout=30) as client:
            for body in bodies(3000, seed=7):
                if stop_sending.is_set():
                    return
                statuses.append(client.post(f"{url}/predict", json=body).status_code)
                time.sleep(pause)

    sender = threading.Thread(target=send)
    started = time.monotonic()
    sender.start()
    try:
        wait_for(lambda: prometheus.firing(alertname), FIRES_WITHIN_S, f"{alertname} firing")
    finally:
        stop_sending.set()
        sender.join()
    return time.monotonic() - started, statuses


@pytest.mark.slow
def test_a_version_that_answers_nan_fires_the_error_rate_alert_and_pages(
    champion, prometheus, alertmanager, tmp_path, monkeypatch
):
    def diverged(model):  # every answer NaN: a 500 naming the model
        model.coef_ = np.full_like(model.coef_, np.nan)

    register(diverged)
    package(tmp_path, monkeypatch, {"mode": "blue_green"})
    with served() as url:
        prometheus.scrape(url)
        switched = httpx.post(f"{url}/deployment/switch", json={"colour": "green"}, timeout=10)
        assert switched.status_code == 200
        first_request = time.monotonic()
        seconds, statuses = until_firing(url, prometheus, "S2PServingErrorRate", pause=0.05)
        assert prometheus.firing("S2PServingLatencyP95") == []
        series = prometheus.query(f'count({{job="s2p-serving", instance="{url[7:]}"}})')[0]["value"][1]
        service = prometheus.firing("S2PServingErrorRate")[0]["labels"]["service_name"]
        page = wait_for(lambda: alertmanager.notified("pager", "S2PServingErrorRate"), 15, "the error-rate page")
    assert set(statuses) == {500}
    payload, sent, when = page[0]
    assert payload["receiver"] == "pager"
    assert payload["groupLabels"] == {"alertname": "S2PServingErrorRate", "service_name": service}
    assert sent["labels"]["severity"] == "page" and sent["labels"]["service_name"] == service
    assert sent["annotations"]["summary"] == f"{service}: more than 5% of /predict requests fail"
    assert not alertmanager.notified("tickets", "S2PServingErrorRate")
    print(f"\nS2PServingErrorRate fired {seconds:.1f} s after the first failing request ({len(statuses)} requests)")
    print(f"paged through Alertmanager {when - first_request:.1f} s after the first failing request")
    print(f"one blue-green bento's scraped series: {series}")


@pytest.mark.slow
def test_a_version_slower_than_the_latency_objective_fires_the_latency_alert(
    champion, prometheus, tmp_path, monkeypatch
):
    slow = register_version(slow_forest())
    package(tmp_path, monkeypatch, {"mode": "blue_green"})
    with served() as url:
        prometheus.scrape(url)
        switched = httpx.post(f"{url}/deployment/switch", json={"colour": "green"}, timeout=10)
        assert switched.status_code == 200 and switched.json()["version"] == slow
        seconds, statuses = until_firing(url, prometheus, "S2PServingLatencyP95", pause=0.0)
    assert set(statuses) == {200}
    print(f"\nS2PServingLatencyP95 fired {seconds:.1f} s after the first slow request ({len(statuses)} requests)")


@pytest.mark.slow
def test_a_failed_validation_inhibits_its_failed_validate_step(prometheus, alertmanager, observed):
    """A failed validation also fails the flow's ``validate`` step: both alerts fire in Prometheus, the
    ticket carries the validation's alone, Alertmanager holds the step's as inhibited by it."""
    from pipeline.validate import Failure, ValidationReport
    from s2p import telemetry

    probe = "inhibition_probe"  # a deliverable of its own: the other tests' alerts stay as they are
    failure = Failure("expect_column_values_to_not_be_null", "target", 3, "3 nulls")
    report = ValidationReport(passed=False, rows=10, expectations=5, failures=[failure])
    telemetry.validation_finished(probe, report)  # pushed in the flow's order: the validation fails first
    assert telemetry.push(
        {"deliverable": probe, "labels": ("step",)}, {"s2p_step_failed": ("failed", {("validate",): 1.0})}
    )
    try:
        wait_for(lambda: prometheus.firing("S2PStepFailed"), FIRES_WITHIN_S, "S2PStepFailed firing")
        ticket = wait_for(
            lambda: alertmanager.notified("tickets", "S2PValidationFailed", deliverable=probe), 15, "ticket"
        )
        held = wait_for(
            lambda: [a for a in alertmanager.alerts("S2PStepFailed") if a["labels"]["deliverable"] == probe], 15, "held"
        )
        assert held[0]["status"]["state"] == "suppressed" and held[0]["status"]["inhibitedBy"], held
        time.sleep(1.5)  # past a group interval (1 s): the step's alert would have been sent by now
        assert not alertmanager.notified("tickets", "S2PStepFailed", deliverable=probe)
        assert ticket[0][0]["groupLabels"] == {"deliverable": probe}
    finally:
        httpx.delete(f"http://{prometheus.gateway}/metrics/job/{telemetry.JOB}/deliverable/{probe}", timeout=5)


def slow_forest():
    """A real regressor too slow for a 100 ms p95: 4,000 trees (~150 ms a request here)."""
    from sklearn.ensemble import RandomForestRegressor

    ctx = load_context(DELIVERABLE)
    frame = samples(442, seed=8)
    features = frame[ctx.deliverable.feature_names].to_numpy()
    return RandomForestRegressor(n_estimators=4000, max_depth=2, random_state=0).fit(
        features, frame[ctx.deliverable.target.name]
    )


def register_version(model) -> str:
    """``model`` registered as the newest version of the deliverable's registered model."""
    import mlflow

    from pipeline.registry import tracking

    ctx = load_context(DELIVERABLE)
    _, experiment = tracking(ctx)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="pickle", pip_requirements=[])
    return str(mlflow.register_model(info.model_uri, ctx.model_name).version)
