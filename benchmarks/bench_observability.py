"""Observability benchmark: what tracing and structured request logs cost per request, the same champion
served with ``serving.tracing`` off and on, and its spans exported to files or over OTLP, in the same run.

    .venv/bin/python benchmarks/bench_observability.py [--requests 3000] [--rounds 3] [--concurrency 8]

Works in a scratch folder of its own (nothing of the project's stores is touched): trains
linear_regression (`s2p run`) and packages two bentos of its champion, ``plain`` (params.yaml's
serving: request ids only) and a traced one (``serving.tracing: true``: BentoML's request span
sampled at 1, the ``model`` and ``inference_log.write`` spans, batch span processors, a JSON log line
per request). The traced bento is served twice, as where its spans go is chosen at serve time:
``traced`` writes spans and log lines into ``$S2P_TELEMETRY_DIR``; ``otlp`` exports its spans over
OTLP/HTTP (``OTEL_EXPORTER_OTLP_ENDPOINT``) to a small receiver in this process that keeps the
protobufs (no collector is installable here; the receiver only stores the bytes), its log lines to
stderr (discarded). The three servers run side by side and take the same load in interleaved rounds.
Prints throughput, latency and server CPU per request with the ratios to ``plain``, and the bytes of
spans and log lines written or sent per request. Exits 1 on any failed request, a request without its
inference-log row, or a traced request whose spans did not all arrive.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_deployment import (  # noqa: E402
    DELIVERABLE,
    champion_in_scratch,
    example,
    interleaved,
    logged,
    package,
)
from bench_serving import free_port, split_cpus, start_server, summary, wait_ready  # noqa: E402

SERVING = {"plain": {"mode": "single"}, "traced": {"mode": "single", "tracing": True}}
#: mode -> (its bento, where its spans go)
MODES = {"plain": "plain", "traced": "traced", "otlp": "traced"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per server, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    scratch = champion_in_scratch("s2p-bench-observability-")
    bentos = {name: package(scratch, serving) for name, serving in SERVING.items()}
    print(f"{DELIVERABLE}: champion v1; bentos {bentos}")
    raise SystemExit(0 if compare(args, {mode: bentos[bento] for mode, bento in MODES.items()}, scratch) else 1)


def compare(args, tags: dict[str, str], scratch: Path) -> bool:
    client_cpus, server_cpus = split_cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    with receiving() as (collector, exports):
        where = {
            "traced": {"S2P_TELEMETRY_DIR": str(scratch / "telemetry")},
            "otlp": {"OTEL_EXPORTER_OTLP_ENDPOINT": collector},
        }
        servers, logs = start_servers(tags, scratch, server_cpus, where)
        body = json.dumps({"rows": [example()]}).encode()
        sent = dict.fromkeys(servers, 0)
        try:
            for url, process in servers.values():
                wait_ready(url, process)
            runs, cpu_ms = interleaved(servers, body, args, sent)
        finally:
            for _, process in servers.values():
                os.killpg(process.pid, signal.SIGTERM)  # the workers' processors flush their last batch
                process.wait(timeout=30)
        errors = report(runs, cpu_ms)
        in_files, over_otlp = written(scratch / "telemetry", sent["traced"]), exported(exports, sent["otlp"])
    in_process()
    return errors == 0 and in_files and over_otlp and logged(logs, sent)


def start_servers(tags: dict[str, str], scratch: Path, cpus, where: dict[str, dict]) -> tuple[dict, dict[str, Path]]:
    """One `bentoml serve` per mode, each with its own inference log and ``where[mode]``'s environment."""
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    servers, logs = {}, {}
    for mode, tag in tags.items():
        port = free_port()
        logs[mode] = scratch / f"inference-{mode}.db"
        env = {**os.environ, "S2P_INFERENCE_DB": str(logs[mode]), **where.get(mode, {})}
        command = [bentoml, "serve", tag, "--port", str(port)]
        servers[mode] = (f"http://127.0.0.1:{port}", start_server(command, ROOT, env, cpus))
    return servers, logs


@contextlib.contextmanager
def receiving():
    """An OTLP/HTTP endpoint in this process (a thread): keeps each export's protobuf, answers as a
    collector does (200, an empty ExportTraceServiceResponse); yields (its URL, the exports)."""
    exports: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            exports.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", exports
    finally:
        server.shutdown()
        server.server_close()


def report(runs: dict, cpu_ms: dict[str, float]) -> int:
    """Each mode against ``plain``: throughput (median of the rounds' ratios), latency, server CPU."""
    errors = 0
    for mode in runs:
        result = summary(runs[mode])
        errors += result["errors"]
        ratio = np.median([a["throughput"] / b["throughput"] for a, b in zip(runs[mode], runs["plain"], strict=True)])
        print(
            f"{mode:>7}: errors {result['errors']}, p50 {result['p50']:.2f} ms, p99 {result['p99']:.1f} ms, "
            f"{result['throughput']:.0f} req/s (x{ratio:.3f} of plain), "
            f"server CPU {cpu_ms[mode]:.3f} ms/request (x{cpu_ms[mode] / cpu_ms['plain']:.3f}, "
            f"{(cpu_ms[mode] - cpu_ms['plain']) * 1000:+.0f} us)"
        )
    return errors


def written(folder: Path, requests: int) -> bool:
    """What ``traced`` wrote per request: spans and JSON log lines, in bytes and lines; True when every
    request's three spans are there."""
    spans = list(folder.glob("spans-*.jsonl"))
    lines = list(folder.glob("requests-*.jsonl"))
    span_bytes, log_bytes = sum(p.stat().st_size for p in spans), sum(p.stat().st_size for p in lines)
    span_count = sum(p.read_text().count("\n") for p in spans)
    print(
        f" traced: {span_count / requests:.1f} spans ({span_bytes / requests:.0f} bytes) and "
        f"{log_bytes / requests:.0f} bytes of JSON log per request ({requests} requests)"
    )
    return span_count == 3 * requests


def exported(exports: list[bytes], requests: int) -> bool:
    """What ``otlp`` sent per request: spans and protobuf bytes over how many exports; True when every
    request's three spans arrived (the last batch leaves when the server stops: waited for briefly)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    def count() -> int:
        batches = [ExportTraceServiceRequest.FromString(body) for body in list(exports)]
        return sum(len(s.spans) for b in batches for r in b.resource_spans for s in r.scope_spans)

    deadline = time.monotonic() + 10
    while count() < 3 * requests and time.monotonic() < deadline:
        time.sleep(0.2)
    spans = count()
    print(
        f"   otlp: {spans / requests:.1f} spans ({sum(map(len, exports)) / requests:.0f} bytes of protobuf) "
        f"per request in {len(exports)} exports ({requests} requests)"
    )
    return spans == 3 * requests


def in_process() -> None:
    """Part of the traced cost, in this process: a request's seven spans created and ended (BentoML's
    server span, the ASGI layer's four, ``model`` and ``inference_log.write``), the three exported
    ones encoded as JSON (``traced``) and as OTLP protobuf (``otlp``), and the request's JSON log line."""
    import io
    import logging
    import timeit

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")

    def request() -> None:
        with tracer.start_as_current_span("POST /predict", attributes={"http.method": "POST", "http.status_code": 200}):
            for _ in range(4):
                with tracer.start_as_current_span("POST /predict http send", attributes={"asgi.event.type": "x"}):
                    pass
            for name in ("model", "inference_log.write"):
                with tracer.start_as_current_span(name, attributes={"s2p.request_id": "0" * 32}):
                    pass

    n = 3000
    spans_us = min(timeit.repeat(request, number=n, repeat=3)) / n * 1e6
    exported = [span for span in memory.get_finished_spans()[:7] if "asgi.event.type" not in span.attributes]
    json_us = min(timeit.repeat(lambda: [s.to_json(indent=None) for s in exported], number=n, repeat=3)) / n * 1e6

    def protobuf() -> bytes:  # what the OTLP exporter sends
        return encode_spans(exported).SerializePartialToString()

    protobuf_us = min(timeit.repeat(protobuf, number=n, repeat=3)) / n * 1e6
    logger = logging.getLogger("bench.requests")
    logger.propagate, logger.handlers = False, [logging.StreamHandler(io.StringIO())]
    line = {"request_id": "0" * 32, "trace_id": "0" * 32, "span_id": "0" * 16, "status": 200, "duration_ms": 1.0}
    log_us = min(timeit.repeat(lambda: logger.warning(json.dumps(line)), number=n, repeat=3)) / n * 1e6
    print(
        f"in-process: 7 spans created and ended {spans_us:.0f} us, 3 encoded as JSON {json_us:.0f} us "
        f"(as OTLP protobuf {protobuf_us:.0f} us), the JSON log line {log_us:.0f} us per request"
    )


if __name__ == "__main__":
    main()
