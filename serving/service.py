"""The BentoML service of a deliverable, generated from its catalog declaration.

`s2p` packages this file with ``s2p_service.json`` (the deliverable's typed input schema, the
model tag and version) into each bento. The request and response models are built from that
schema, so a bad body is refused with a 4xx naming the field before it reaches the model.
Every prediction is appended to the inference log (features, prediction, version, latency).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import time
from pathlib import Path
from typing import Annotated

import bentoml
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from serving.inference_log import InferenceLog

SPEC = json.loads(Path(os.environ.get("S2P_SERVICE_SPEC", Path(__file__).with_name("s2p_service.json"))).read_text())
MAX_ROWS = SPEC.get("max_rows", 1000)


def _field(column: dict):
    bounds = {}
    if column.get("min") is not None:
        bounds["ge"] = column["min"]
    if column.get("max") is not None:
        bounds["le"] = column["max"]
    return (float, Field(description=column.get("description") or column["name"], **bounds))


Features = create_model(
    "Features",
    __config__=ConfigDict(extra="forbid", allow_inf_nan=False, strict=False),
    **{column["name"]: _field(column) for column in SPEC["features"]},
)


class Prediction(BaseModel):
    prediction: float
    model_version: str


@bentoml.service(name=SPEC["bento_name"], traffic={"timeout": 30}, threads=4)
class Predictor:
    model_ref = bentoml.models.BentoModel(SPEC["model_tag"])

    def __init__(self) -> None:
        with open(self.model_ref.path_of("model.pkl"), "rb") as handle:
            self.model = pickle.load(handle)
        self.columns = [column["name"] for column in SPEC["features"]]
        self.version = str(SPEC["model_version"])
        self.log = InferenceLog(Path(os.environ.get("S2P_INFERENCE_DB", SPEC["inference_db"])))

    @bentoml.api
    def predict(self, rows: Annotated[list[Features], Field(min_length=1, max_length=MAX_ROWS)]) -> list[Prediction]:
        started = time.perf_counter()
        records = [row.model_dump() for row in rows]
        X = np.array([[record[name] for name in self.columns] for record in records], dtype=np.float64)
        values = [float(value) for value in self.model.predict(X)]
        if not all(math.isfinite(value) for value in values):
            raise bentoml.exceptions.InternalServerError("the model produced a non-finite prediction")
        latency_ms = (time.perf_counter() - started) * 1000.0
        self.log.append(SPEC["run_key"], self.version, records, values, latency_ms)
        return [Prediction(prediction=value, model_version=self.version) for value in values]
