"""The BentoML service of a deliverable, generated from its catalog declaration.

`s2p` packages this file with ``s2p_service.json`` (the deliverable's typed input schema, the
model tag and version) into each bento. The request and response models are built from that
schema, so a bad body is refused with a 4xx naming the field before it reaches the model.
Every prediction is appended to the inference log (features, prediction, version, latency).

Deployment patterns (params.yaml ``serving.mode``): ``single`` (the champion answers), ``shadow``
(a challenger sees mirrored traffic; its predictions are only logged) and ``canary`` (a share
``canary_fraction`` of requests is answered by the challenger). Delayed labels come back through
POST /feedback with the ids the predictions were returned with.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import time
from pathlib import Path
from typing import Annotated

import bentoml
import numpy as np
from bentoml.validators import ContentType
from pydantic import ConfigDict, Field, create_model

from serving.inference_log import InferenceLog, UnknownPredictions

SPEC = json.loads(Path(os.environ.get("S2P_SERVICE_SPEC", Path(__file__).with_name("s2p_service.json"))).read_text())
MAX_ROWS = SPEC.get("max_rows", 1000)
MAX_BODY_BYTES = SPEC.get("max_body_bytes", 2_000_000)
#: Answers are declared JSON: without it BentoML derives the media type of a list answer from a
#: freshly generated JSON schema on every response (11% of a worker's time under load).
JSON = ContentType("application/json")


def _nested(shape: list[int], element):
    """A list nested ``len(shape)`` deep with exactly the declared lengths: an image, a sequence."""
    for length in reversed(shape):
        element = Annotated[list[element], Field(min_length=length, max_length=length)]
    return element


def _bounds(column: dict) -> dict:
    bounds = {}
    if column.get("min") is not None:
        bounds["ge"] = column["min"]
    if column.get("max") is not None:
        bounds["le"] = column["max"]
    return bounds


def _field(column: dict):
    description = column.get("description") or column["name"]
    if column["dtype"] == "tensor":  # elements from a label set (token ids) are whole numbers
        element = Annotated[int if column.get("values") else float, Field(**_bounds(column))]
        return (_nested(column["shape"], element), Field(description=description))
    if column["dtype"] == "text":
        lengths = {"min_length": int(column.get("min") or 1), "max_length": int(column.get("max") or 10_000)}
        return (str, Field(description=description, **lengths))
    return (int if column["dtype"] == "int" else float, Field(description=description, **_bounds(column)))


Features = create_model(
    "Features",
    __config__=ConfigDict(extra="forbid", allow_inf_nan=False, strict=True),  # "50" and true are not numbers
    **{column["name"]: _field(column) for column in SPEC["features"]},
)


TENSOR = next((column for column in SPEC["features"] if column["dtype"] == "tensor"), None)
TEXT = any(column["dtype"] == "text" for column in SPEC["features"])
COLUMNS = [column["name"] for column in SPEC["features"]]
#: What the model answers, by task: a value, a class, a cluster id, a vector of components, or
#: what it generates (a continuation of the text sent, an image, a sequence).
OUTPUT = {
    "regression": float,
    "classification": int,
    "clustering": int,
    "decomposition": list[float],
    "encoding": list[int],
    "retrieval": list[int],
    "generation": str if TEXT else list,
}[SPEC["task"]]
Prediction = create_model(
    "Prediction",
    id=(int, Field(description="quote it in POST /feedback when the true value is known")),
    prediction=(OUTPUT, ...),
    model_version=(str, ...),
)
Label = create_model(
    "Label",
    __config__=ConfigDict(extra="forbid", allow_inf_nan=False, strict=True),
    id=(int, ...),
    label=(int if SPEC["target"]["dtype"] == "int" else float, ...),  # a tensor target takes no feedback
)


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


def _load(model_ref) -> object:
    with open(model_ref.path_of("model.pkl"), "rb") as handle:
        return pickle.load(handle)


def model_input(records: list[dict]) -> np.ndarray:
    """Validated rows as the model's X: (rows, *shape) for an array column, else (rows, columns)."""
    if TENSOR:
        return np.array([record[TENSOR["name"]] for record in records], dtype=np.float64)
    return np.array([[record[name] for name in COLUMNS] for record in records], dtype=object if TEXT else np.float64)


def answer(model, X: np.ndarray, who: str) -> list:
    """The model's answer for each row, in the task's JSON type; a non-finite number is a 500."""
    if SPEC["task"] in ("encoding", "retrieval"):  # token ids, row ids: integers by construction
        return [[int(token) for token in ids] for ids in model.transform(X)]
    if SPEC["task"] == "generation" and TEXT:
        return [str(text) for text in model.predict(X)]
    values = model.transform(X) if SPEC["task"] == "decomposition" else model.predict(X)
    if not np.isfinite(np.asarray(values, dtype=float)).all():
        raise bentoml.exceptions.InternalServerError(f"the {who} model produced a non-finite prediction")
    if OUTPUT is int:
        return [int(value) for value in values]
    if OUTPUT is float:
        return [float(value) for value in values]
    return np.asarray(values).tolist()  # components, or a generated image or sequence


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
        self.models = {"champion": (_load(self.model_ref), str(SPEC["model_version"]))}
        if CHALLENGER:
            self.models["challenger"] = (_load(self.challenger_ref), str(CHALLENGER["version"]))
        self.log = InferenceLog(Path(os.environ.get("S2P_INFERENCE_DB", SPEC["inference_db"])))
        self.random = random.Random()

    @bentoml.api
    def predict(
        self, rows: Annotated[list[Features], Field(min_length=1, max_length=MAX_ROWS)]
    ) -> Annotated[list[Prediction], JSON]:
        started = time.perf_counter()
        records = [row.model_dump() for row in rows]
        X = model_input(records)
        canary = CHALLENGER and SERVING["mode"] == "canary" and self.random.random() < SERVING["canary_fraction"]
        who, role = ("challenger", "canary") if canary else ("champion", "champion")
        values = answer(self.models[who][0], X, who)
        latency_ms = (time.perf_counter() - started) * 1000.0
        version = self.models[who][1]
        ids = self.log.append(SPEC["run_key"], version, records, values, latency_ms, role=role)
        if CHALLENGER and SERVING["mode"] == "shadow":  # mirrored: logged, never answered
            shadow_started = time.perf_counter()
            shadow = answer(self.models["challenger"][0], X, "challenger")
            shadow_ms = (time.perf_counter() - shadow_started) * 1000.0
            self.log.append(SPEC["run_key"], self.models["challenger"][1], records, shadow, shadow_ms, role="shadow")
        return [Prediction(id=i, prediction=v, model_version=version) for i, v in zip(ids, values, strict=True)]

    @bentoml.api
    def feedback(
        self, labels: Annotated[list[Label], Field(min_length=1, max_length=MAX_ROWS)]
    ) -> Annotated[dict, JSON]:
        """Delayed ground truth for earlier predictions; all or none are recorded."""
        try:
            updated = self.log.add_labels(SPEC["run_key"], {item.id: item.label for item in labels})
        except UnknownPredictions as unknown:
            raise bentoml.exceptions.InvalidArgument(f"unknown prediction id(s): {unknown.args[0]}") from None
        return {"labeled": updated}


Predictor.add_asgi_middleware(RequestGuard)
