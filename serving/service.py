"""The BentoML service of a deliverable, generated from its catalog declaration.

`s2p` packages this file with ``s2p_service.json`` (the deliverable's answer kind and its typed
schema, the model tag and version) into each bento. What the service takes, answers and accepts as
feedback is its answer kind's (serving/kinds.py), so a bad body is refused with a 400 naming the
field before it reaches the model. Every answer is appended to the inference log (the request,
the answer, version, latency). A kind that streams (text generation) answers POST /stream too; a
deliverable that declares how its model explains an answer (``explains``) answers POST /explain.

Deployment patterns (params.yaml ``serving.mode``): ``single`` (the champion answers), ``shadow``
(a challenger sees mirrored traffic; its answers are only logged) and ``canary`` (a share
``canary_fraction`` of requests is answered by the challenger). Delayed labels come back through
POST /feedback with the ids the answers were returned with.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Generator
from pathlib import Path
from typing import Annotated

import bentoml
from bentoml.validators import ContentType
from pydantic import Field

from serving.inference_log import InferenceLog, UnknownPredictions
from serving.kinds import AnswerError, RequestRefused, kind_for, sse
from serving.loading import load_model

SPEC = json.loads(Path(os.environ.get("S2P_SERVICE_SPEC", Path(__file__).with_name("s2p_service.json"))).read_text())
MAX_ROWS = SPEC.get("max_rows", 1000)
MAX_BODY_BYTES = SPEC.get("max_body_bytes", 2_000_000)
#: Answers are declared JSON: without it BentoML derives the media type of a list answer from a
#: freshly generated JSON schema on every response (11% of a worker's time under load).
JSON = ContentType("application/json")
KIND = kind_for(SPEC)
Response = KIND.Response
Label = KIND.Feedback


class RequestGuard:
    """ASGI middleware: what must not reach the model is refused before the body is read.
    A POST must be JSON (415), say its length (411) and stay under MAX_BODY_BYTES (413)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        length = headers.get(b"content-length")
        if kind != "application/json":
            return await _refuse(send, 415, f"content-type must be application/json, got {kind or 'none'!r}")
        if length is None:
            return await _refuse(send, 411, "a Content-Length header is required")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return await _refuse(
                send, 413, f"the body is {length.decode('latin-1')} bytes; the limit is {MAX_BODY_BYTES}"
            )
        return await self.app(scope, receive, send)


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


SERVING = {"mode": "single", "canary_fraction": 0.0, "workers": 1, **SPEC.get("serving", {})}
if not SERVING.get("tracing", False):  # before BentoML builds its tracer provider, in each worker
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
CHALLENGER = SPEC.get("challenger") if SERVING["mode"] != "single" else None


def checked(model, request) -> None:
    """What only the model can judge (a prompt's characters): a 400 naming the field."""
    try:
        KIND.check(model, request)
    except RequestRefused as refused:
        raise bentoml.exceptions.InvalidArgument(str(refused)) from None


def answered(model, request, who: str):
    """The kind's answer from one model; an answer that is none (a NaN) is a 500 naming who."""
    try:
        return KIND.answer(model, request)
    except AnswerError as error:
        raise bentoml.exceptions.InternalServerError(f"the {who} model {error}") from None


@bentoml.service(
    name=SPEC["bento_name"],
    traffic={"timeout": 30},
    threads=4,
    workers=SERVING["workers"],
    logging={"access": {"enabled": bool(SERVING.get("access_log", False))}},
    metrics={"enabled": bool(SERVING.get("metrics", True))},
)
class Predictor:
    model_ref = bentoml.models.BentoModel(SPEC["model_tag"])
    if CHALLENGER:
        challenger_ref = bentoml.models.BentoModel(CHALLENGER["tag"])

    def __init__(self) -> None:
        self.models = {"champion": (load_model(self.model_ref.path_of, SPEC), str(SPEC["model_version"]))}
        if CHALLENGER:
            self.models["challenger"] = (load_model(self.challenger_ref.path_of, SPEC), str(CHALLENGER["version"]))
        self.log = InferenceLog(Path(os.environ.get("S2P_INFERENCE_DB", SPEC["inference_db"])))
        self.random = random.Random()

    @bentoml.api(input_spec=KIND.Request)
    def predict(self, **fields) -> Annotated[Response, JSON]:
        """The whole answer, from the champion, or a canary challenger for a share of requests."""
        started = time.perf_counter()
        request = KIND.Request.model_construct(**fields)  # validated by BentoML against KIND.Request
        canary = CHALLENGER and SERVING["mode"] == "canary" and self.random.random() < SERVING["canary_fraction"]
        who, role = ("challenger", "canary") if canary else ("champion", "champion")
        model, version = self.models[who]
        checked(model, request)
        answer = answered(model, request, who)
        latency_ms = (time.perf_counter() - started) * 1000.0
        ids = self.log.append(SPEC["run_key"], version, answer.records, answer.log_values, latency_ms, role=role)
        if CHALLENGER and SERVING["mode"] == "shadow":  # mirrored: logged, never answered
            shadow_started = time.perf_counter()
            challenger, challenger_version = self.models["challenger"]
            shadow = answered(challenger, request, "challenger")
            shadow_ms = (time.perf_counter() - shadow_started) * 1000.0
            self.log.append(
                SPEC["run_key"], challenger_version, shadow.records, shadow.log_values, shadow_ms, role="shadow"
            )
        return KIND.respond(ids, answer, version)

    if KIND.streams:

        @bentoml.api(route="/stream", input_spec=KIND.Request)
        def stream(self, **fields) -> Generator[str, None, None]:
            """Server-sent events: ``data: {"token": ...}`` per token as it is made, then ``event: done``
            with the whole answer (its id for POST /feedback, the text, the token count, the version).
            Always the champion answers, in every serving mode (no canary, no shadow copy). A bad
            parameter or prompt is a 400 before any token; a failure after the first token ends the
            stream with ``event: error``."""
            started = time.perf_counter()
            request = KIND.Request.model_construct(**fields)
            model, version = self.models["champion"]
            checked(model, request)  # runs before the first event, so BentoML answers 400
            chunks = []
            try:
                for chunk in KIND.stream(model, request):
                    chunks.append(str(chunk))
                    yield sse({"token": chunks[-1]})
            except Exception as error:  # the status line is sent: the stream can only say so
                yield sse({"error": f"{type(error).__name__}: {error}"}, event="error")
                return
            answer = KIND.finish(request, chunks)
            latency_ms = (time.perf_counter() - started) * 1000.0
            ids = self.log.append(SPEC["run_key"], version, answer.records, answer.log_values, latency_ms)
            yield sse(KIND.respond(ids, answer, version).model_dump(), event="done")

    if SPEC.get("explains"):

        @bentoml.api(route="/explain", input_spec=KIND.Request)
        def explain(self, **fields) -> Annotated[dict, JSON]:
            """What the champion's answer to each row rests on (a transformer: each head's attention
            weights over the words), from the model's declared method; not logged as traffic."""
            request = KIND.Request.model_construct(**fields)
            model, version = self.models["champion"]
            checked(model, request)
            try:
                explanations = KIND.explain(model, request, SPEC["explains"])
            except ValueError as error:  # what the model cannot explain (a sentence without words)
                raise bentoml.exceptions.InvalidArgument(str(error)) from None
            return {"explanations": explanations, "model_version": version}

    @bentoml.api
    def feedback(
        self, labels: Annotated[list[Label], Field(min_length=1, max_length=MAX_ROWS)]
    ) -> Annotated[dict, JSON]:
        """Delayed truth for earlier answers (its type is the kind's); all or none are recorded."""
        labeled = {item.id: KIND.label(item.label) for item in labels}
        try:
            updated = self.log.add_labels(
                SPEC["run_key"],
                {key: number for key, (number, _) in labeled.items()},
                {key: value for key, (_, value) in labeled.items()},
            )
        except UnknownPredictions as unknown:
            raise bentoml.exceptions.InvalidArgument(f"unknown prediction id(s): {unknown.args[0]}") from None
        return {"labeled": updated}


Predictor.add_asgi_middleware(RequestGuard)
