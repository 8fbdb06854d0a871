"""The BentoML service of a deliverable, generated from its catalog declaration.

`s2p` packages this file with ``s2p_service.json`` (the deliverable's answer kind and its typed
schema, the model tag and version) into each bento. What the service takes, answers and accepts as
feedback is its answer kind's (serving/kinds.py), so a bad body is refused with a 400 naming the
field before it reaches the model. Every answer is appended to the inference log (the request,
the answer, version, latency). A kind that streams (text generation) answers POST /stream too; a
deliverable that declares how its model explains an answer (``explains``) answers POST /explain.

Deployment patterns (params.yaml ``serving.mode``, docs/deployment.md): ``single`` (the champion
answers), ``shadow`` (a challenger sees mirrored traffic; its answers are only logged), ``canary`` (a
share ``canary_fraction`` of requests is answered by the challenger, rolled back at once when its
answers breach ``serving.slo``: a failed canary answer is logged as ``canary_error`` and the champion
answers instead) and ``blue_green`` (both loaded; the ``live`` colour answers every request until
POST /deployment/switch moves all traffic at once). Routing reads the deployment state that every
worker shares (serving/rollout.py); POST /deployment returns it. Delayed labels come back through
POST /feedback with the ids the answers were returned with.

Every request has an id (``X-Request-ID``, on its inference-log rows); with ``serving.tracing`` its
spans (the request, the model call, the log write) and a JSON log line carry it (serving/telemetry.py,
docs/observability.md).

A tenant's bento (its name carries the tenant: ``acme.linear_regression``) answers only requests with
one of that tenant's API keys (serving/api_keys.py, docs/multitenancy.md).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Annotated, Literal

import bentoml
from bentoml.validators import ContentType
from pydantic import Field

from serving import api_keys, telemetry
from serving.inference_log import InferenceLog, UnknownPredictions
from serving.kinds import AnswerError, RequestRefused, kind_for, sse
from serving.loading import load_model
from serving.rollout import (
    ACTIVE,
    CanaryWatch,
    DeploymentState,
    Slo,
    deployment_dir,
    event,
    label_breach,
    roll_back,
    state_path,
    switch_to,
)

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
MODE = SERVING["mode"]
SLO = Slo.from_spec(SERVING.get("slo"))
CANARY_ERROR = "canary_error"  # the log's role of a canary answer that failed (the champion answered)
logger = logging.getLogger("bentoml.s2p")


def checked(model, request) -> None:
    """What only the model can judge (a prompt's characters): a 400 naming the field."""
    try:
        KIND.check(model, request)
    except RequestRefused as refused:
        raise bentoml.exceptions.InvalidArgument(str(refused)) from None


def answered(model, request, who: str):
    """The kind's answer from one model; an answer that is none (a NaN) is a 500 naming who."""
    try:
        with telemetry.span("model", who=who):
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
    tracing=telemetry.bentoml_tracing(SERVING),
)
class Predictor:
    model_ref = bentoml.models.BentoModel(SPEC["model_tag"])
    if CHALLENGER:
        challenger_ref = bentoml.models.BentoModel(CHALLENGER["tag"])

    def __init__(self) -> None:
        self.models = {"champion": (load_model(self.model_ref.path_of, SPEC), str(SPEC["model_version"]))}
        if CHALLENGER:
            self.models["challenger"] = (load_model(self.challenger_ref.path_of, SPEC), str(CHALLENGER["version"]))
        self.log = InferenceLog(os.environ.get("S2P_INFERENCE_DB", SPEC["inference_db"]))  # a path or a URL
        self.random = random.Random()
        self.state = self._start_deployment()
        self.watch, self.watch_lock = CanaryWatch(SLO), threading.Lock()
        telemetry.start(SERVING)  # spans and JSON request lines, when serving.tracing is on

    def _start_deployment(self) -> DeploymentState | None:
        """The deployment state every worker shares (canary and blue-green only): a restart of the same
        bento keeps the live colour and a rolled-back canary stays rolled back."""
        if MODE not in ("canary", "blue_green"):
            return None
        folder = deployment_dir(os.environ.get("S2P_INFERENCE_DB", SPEC["inference_db"]))
        state = DeploymentState(state_path(folder, SPEC["run_key"]))
        versions = {"blue": self.models["champion"][1], "green": self.models["challenger"][1] if CHALLENGER else None}
        canary = MODE == "canary" and CHALLENGER
        fresh = {
            "mode": MODE,
            "versions": versions,
            "live": SERVING["live"] if MODE == "blue_green" and CHALLENGER else "blue",
            "canary": {"status": ACTIVE, "version": versions["green"], "fraction": SERVING["canary_fraction"]}
            if canary
            else None,
            "slo": SERVING.get("slo"),
        }
        state.start(fresh)
        return state

    def _live(self) -> str:
        """Which model answers what is not a canary: the challenger while blue-green's green is live."""
        if MODE == "blue_green" and self.state.current().get("live") == "green":
            return "challenger"
        return "champion"

    def _canary_active(self) -> bool:
        canary = self.state.current().get("canary") if MODE == "canary" and CHALLENGER else None
        return bool(canary) and canary.get("status") == ACTIVE

    @bentoml.api(input_spec=KIND.Request)
    def predict(self, **fields) -> Annotated[Response, JSON]:
        """The whole answer: from the champion (blue-green: the live colour), or from a canary challenger
        for a share of requests while it keeps to its SLO."""
        started = time.perf_counter()
        request = KIND.Request.model_construct(**fields)  # validated by BentoML against KIND.Request
        if self.state is not None and self._canary_active() and self.random.random() < SERVING["canary_fraction"]:
            return self._canary(request, started)
        who = "champion" if self.state is None else self._live()  # read once: a switch now is the next request's
        model, version = self.models[who]
        checked(model, request)
        answer = answered(model, request, who)
        latency_ms = (time.perf_counter() - started) * 1000.0
        ids = self.log.append(SPEC["run_key"], version, answer.records, answer.log_values, latency_ms)
        if CHALLENGER and SERVING["mode"] == "shadow":  # mirrored: logged, never answered
            shadow_started = time.perf_counter()
            challenger, challenger_version = self.models["challenger"]
            shadow = answered(challenger, request, "challenger")
            shadow_ms = (time.perf_counter() - shadow_started) * 1000.0
            self.log.append(
                SPEC["run_key"], challenger_version, shadow.records, shadow.log_values, shadow_ms, role="shadow"
            )
        return KIND.respond(ids, answer, version)

    def _canary(self, request, started: float):
        """The challenger's answer, judged by the SLO. A failed one (it raised, or answered a NaN) is
        logged as ``canary_error`` beside the champion's answer, which the client gets instead."""
        model, version = self.models["challenger"]
        checked(model, request)  # a request the model refuses is the client's 400, not the canary's failure
        try:
            with telemetry.span("model", who="challenger"):
                answer, failure = KIND.answer(model, request), None
        except Exception as error:  # whatever the canary does wrong, the client is answered
            answer, failure = None, f"{type(error).__name__}: {error}"
        latency_ms = (time.perf_counter() - started) * 1000.0
        self._judge(failure is not None, latency_ms)
        if failure is None:
            ids = self.log.append(
                SPEC["run_key"], version, answer.records, answer.log_values, latency_ms, role="canary"
            )
            return KIND.respond(ids, answer, version)
        champion, champion_version = self.models["champion"]
        checked(champion, request)
        answer = answered(champion, request, "champion")
        total_ms = (time.perf_counter() - started) * 1000.0
        ids = self.log.append(SPEC["run_key"], champion_version, answer.records, answer.log_values, total_ms)
        failed = [{"error": failure}] * len(answer.records)
        self.log.append(SPEC["run_key"], version, answer.records, failed, latency_ms, role=CANARY_ERROR)
        return KIND.respond(ids, answer, champion_version)

    def _judge(self, failed: bool, latency_ms: float) -> None:
        with self.watch_lock:
            reason = self.watch.record(failed, latency_ms)
            summary = self.watch.summary()
        if reason is not None:
            self._roll_back(reason, summary)

    def _roll_back(self, reason: str, summary: dict) -> None:
        """Stop the canary in every worker (the shared state), once; then mark it in the registry."""
        version = self.models["challenger"][1]
        _, changed = self.state.update(roll_back(reason, summary, version))
        if changed:
            logger.warning("canary v%s rolled back: %s", version, reason)
            threading.Thread(target=self._mark_rolled_back, args=(version, reason), daemon=True).start()

    def _mark_rolled_back(self, version: str, reason: str) -> None:
        """Tag the challenger's registered version ``s2p.canary=rolled_back`` (with the reason) and record
        whether that worked; the rollback itself never waits for, nor depends on, the registry."""
        try:
            from mlflow import MlflowClient

            client = MlflowClient()
            client.set_model_version_tag(SPEC["bento_name"], version, "s2p.canary", "rolled_back")
            client.set_model_version_tag(SPEC["bento_name"], version, "s2p.canary_reason", reason[:4000])
            marked = event("registry", f"{SPEC['bento_name']} v{version} tagged s2p.canary=rolled_back")
        except Exception as error:  # no registry reachable from the server: the state file still says it
            marked = event("registry", f"not tagged: {type(error).__name__}: {error}")
        self.state.update(lambda state: {**state, "events": [*state.get("events", []), marked]})

    @bentoml.api(route="/deployment")
    def deployment_state(self) -> Annotated[dict, JSON]:
        """The deployment state: mode, versions (blue: champion, green: challenger), the live colour, the
        canary's status and, after a rollback, why and when, with the newest events; and this worker's
        view of the canary's window."""
        if self.state is None:
            return {"mode": MODE, "versions": {"blue": self.models["champion"][1]}, "live": "blue", "canary": None}
        with self.watch_lock:
            watch = self.watch.summary()
        state = self.state.current()
        return {**state, "events": state["events"][-20:], "worker": {"pid": os.getpid(), **watch}}

    @bentoml.api(route="/deployment/switch")
    def switch(self, colour: Literal["blue", "green"]) -> Annotated[dict, JSON]:
        """Blue-green: ``colour`` answers every request that starts after this answer, in every worker;
        requests in flight finish on the colour they started with. Switching back is the same call."""
        if MODE != "blue_green":
            raise bentoml.exceptions.InvalidArgument(f"serving.mode is {MODE!r}: only a blue_green bento switches")
        if colour == "green" and not CHALLENGER:
            raise bentoml.exceptions.InvalidArgument("no green version: the registry had no challenger to package")
        state, _ = self.state.update(switch_to(colour, self.state.current()["versions"]))
        return {"live": state["live"], "version": state["versions"][colour], "switched_at": state["switched_at"]}

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
            model, version = self.models["champion" if self.state is None else self._live()]
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
            model, version = self.models["champion" if self.state is None else self._live()]
            checked(model, request)
            try:
                explanations = KIND.explain(model, request, SPEC["explains"])
            except ValueError as error:  # what the model cannot explain (a sentence without words)
                raise bentoml.exceptions.InvalidArgument(str(error)) from None
            return {"explanations": explanations, "model_version": version}

    if hasattr(KIND, "ingest"):

        @bentoml.api(route="/events", input_spec=KIND.Events)
        def events(self, **fields) -> Annotated[dict, JSON]:
            """A batch of events for the online feature store (a recommender's plays): written through
            the champion's feature pusher, so the next answer for those users reads them."""
            model, _ = self.models["champion"]
            return KIND.ingest(model, KIND.Events.model_construct(**fields))

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
        if SLO.max_label_mae is not None or SLO.min_label_accuracy is not None:
            self._judge_labels()
        return {"labeled": updated}

    def _judge_labels(self) -> None:
        """The quality floor on the canary's newest ``slo.window`` answers that have delayed labels."""
        import pandas as pd

        if self.state is None or not self._canary_active():
            return
        version = self.models["challenger"][1]
        rows = self.log.recent(SPEC["run_key"], SLO.window, roles=("canary",))
        rows = rows[rows["model_version"] == version]
        labels = [None if pd.isna(value) else float(value) for value in rows["label"]]
        reason = label_breach(SLO, list(rows["prediction"]), labels, SPEC["task"])
        if reason is not None:
            self._roll_back(reason, {"labeled": sum(label is not None for label in labels)})


Predictor.add_asgi_middleware(telemetry.RequestIds)  # outermost: refusals carry an id too
api_keys.mount(Predictor, SPEC["bento_name"])  # a tenant's bento: only its API keys pass (401 / 403)
Predictor.add_asgi_middleware(RequestGuard)
