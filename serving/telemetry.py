"""Request ids, traces and structured request logs of a served bento (docs/observability.md).

- Every request has an id: the client's ``X-Request-ID`` when it sends a well-formed one (a gateway's
  id carries through), else a fresh one. It is answered in the ``X-Request-ID`` response header and
  written on each inference-log row of the request (its ``request_id`` column), so an answer, its
  log lines and its spans join the log.
- ``serving.tracing: true`` (params.yaml, packed in the bento) turns on, per worker: BentoML's
  request span for every request (sample rate 1), the spans ``model`` and ``inference_log.write``
  under it, each with the request id (``s2p.request_id``), and one JSON log line per request
  (request id, trace id, status, duration). Where they go, chosen where the bento is served:
  - ``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``$OTEL_EXPORTER_OTLP_ENDPOINT`` (OpenTelemetry's own
    variables, read by its exporter with the rest of ``OTEL_EXPORTER_OTLP_*``): spans to that
    collector over OTLP/HTTP (protobuf) by a batch span processor (``OTEL_BSP_*``);
  - ``$S2P_TELEMETRY_DIR``: spans as OTLP JSON lines in ``spans-<pid>.jsonl`` and log lines in
    ``requests-<pid>.jsonl`` (one file per worker: no interleaved writes); unset, log lines go to stderr.
  Both may be set (each exporter has its own processor); the ASGI layer's per-message spans are left
  out of both. Neither: spans go to BentoML's own exporter, if one is configured.

Pure standard library, OpenTelemetry (BentoML's dependency) and BentoML, imported when used: the
bento packs this file with the service, nothing of ``s2p``; the monitor imports the inference log,
which reads the request id from here.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Mapping

HEADER = b"x-request-id"
TELEMETRY_DIR = "S2P_TELEMETRY_DIR"
#: OpenTelemetry's variables for an OTLP collector (the exporter reads them; set, they switch it on).
OTLP_TRACES_ENDPOINT, OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
#: The attribute of the ASGI layer's per-message spans, which are not exported.
ASGI_MESSAGE = "asgi.event.type"
#: What a client may send as its request id; anything else is replaced by a fresh one.
WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Probes and scrapes: no request id, no log line, no span.
UNTRACKED = ("/metrics", "/readyz", "/livez", "/healthz")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("s2p_request_id", default=None)
_tracer = None  # the tracer of BentoML's provider, once start() turned tracing on in this worker
_request_log: logging.Logger | None = None


def request_id() -> str | None:
    """The id of the request this code runs for (None outside a request)."""
    return _request_id.get()


def bentoml_tracing(serving: dict) -> dict:
    """BentoML's ``tracing`` service config: every request sampled when tracing is on."""
    return {"sample_rate": 1.0 if serving.get("tracing") else 0.0, "excluded_urls": [p[1:] for p in UNTRACKED]}


def start(serving: dict) -> None:
    """In each worker (the service's __init__): spans exported and request lines logged when tracing is on."""
    global _tracer, _request_log
    if not serving.get("tracing"):
        return
    from bentoml._internal.container import BentoMLContainer
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = BentoMLContainer.tracer_provider.get()
    folder = os.environ.get(TELEMETRY_DIR)
    endpoint = otlp_endpoint(os.environ)
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # the exporter reads the endpoint, headers, compression and timeout from OTEL_EXPORTER_OTLP_*;
        # the processor its delay and batch sizes from OTEL_BSP_*
        provider.add_span_processor(BatchSpanProcessor(_answer_spans_only(OTLPSpanExporter())))
    if folder:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        os.makedirs(folder, exist_ok=True)
        spans = open(os.path.join(folder, f"spans-{os.getpid()}.jsonl"), "a")  # noqa: SIM115 - the worker's life
        lines = ConsoleSpanExporter(out=spans, formatter=lambda span: span.to_json(indent=None) + "\n")
        provider.add_span_processor(BatchSpanProcessor(_answer_spans_only(lines), schedule_delay_millis=500))
    _tracer = provider.get_tracer("s2p.serving")
    logger = logging.getLogger("s2p.requests")
    logger.propagate, logger.level = False, logging.INFO
    handler = (
        logging.FileHandler(os.path.join(folder, f"requests-{os.getpid()}.jsonl"))
        if folder
        else logging.StreamHandler(sys.stderr)
    )
    logger.handlers = [handler]
    _request_log = logger


def otlp_endpoint(environ: Mapping[str, str]) -> str | None:
    """Which OTLP/HTTP collector spans go to: the traces-only variable's URL (used as it is), else the
    general one's (the exporter adds ``/v1/traces``); None when neither is set. One that is not an
    http(s) URL is refused, naming the variable."""
    for variable in (OTLP_TRACES_ENDPOINT, OTLP_ENDPOINT):
        value = environ.get(variable, "").strip()
        if value:
            if not re.match(r"https?://[^/\s]+", value):
                raise ValueError(
                    f"{variable}={value!r} is not an OTLP/HTTP endpoint: expected an http:// or https:// URL "
                    "(http://collector:4318)"
                )
            return value
    return None


def _answer_spans_only(exporter):
    """``exporter`` without the ASGI layer's per-message spans (``http send``/``http receive``: four of a
    request's seven spans, none of them a step of the answer)."""
    from opentelemetry.sdk.trace.export import SpanExporter

    class AnswerSpans(SpanExporter):
        def export(self, spans):
            return exporter.export([s for s in spans if ASGI_MESSAGE not in (s.attributes or {})])

        def shutdown(self):
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return exporter.force_flush(timeout_millis)

    return AnswerSpans()


def span(name: str, **attributes):
    """A span under the current one (the request's), carrying the request id; nothing when tracing is off."""
    if _tracer is None:
        return contextlib.nullcontext()
    return _tracer.start_as_current_span(
        name, attributes={"s2p.request_id": _request_id.get() or "", **{f"s2p.{k}": v for k, v in attributes.items()}}
    )


class RequestIds:
    """ASGI middleware: the request's id (the client's or a fresh one) for the code that serves it,
    answered in ``X-Request-ID``; with tracing on, set on BentoML's request span and logged as one
    JSON line when the request ends."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNTRACKED:
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        rid = given if WELL_FORMED.fullmatch(given) else uuid.uuid4().hex
        _request_id.set(rid)
        status, started = 500, time.perf_counter()
        if _tracer is not None:
            from opentelemetry import trace

            trace.get_current_span().set_attribute("s2p.request_id", rid)

        async def answered(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, answered)
        finally:
            if _request_log is not None:
                _log_request(rid, scope, status, started)


def _log_request(rid: str, scope: dict, status: int, started: float) -> None:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    line = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1000):03d}Z",
        "level": "error" if status >= 500 else "info",
        "event": "request",
        "request_id": rid,
        "trace_id": format(context.trace_id, "032x") if context.is_valid else None,
        "span_id": format(context.span_id, "016x") if context.is_valid else None,
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000.0, 3),
        "pid": os.getpid(),
    }
    _request_log.info(json.dumps(line))
