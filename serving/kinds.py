"""Answer kinds: what a served deliverable takes, answers, accepts as feedback and watches for drift.

One object per kind, chosen by name from ``KINDS`` (a deliverable's ``answer_kind``). Each defines

- ``Request`` / ``Response``: pydantic types of the body POST /predict takes and what it answers,
  with every request-time parameter bounded (a bad value is a 400 naming the field);
- ``check(model, request)``: what only the model can judge (a prompt's characters), before any work;
- ``answer(model, request)``: the model called for an ``Answer`` (what the log keeps of the request,
  the JSON answers), and ``respond`` for the response; kinds that stream add ``stream``/``finish``;
- ``Feedback`` and ``label``: the type of the delayed truth POST /feedback takes (a number, a class
  id, a thumbs up/down, a reward, the relevant documents) and what the log keeps of it (always the
  value as sent; in ``label`` the target's value, where the feedback is the target);
- ``descriptors`` / ``describe``: the columns drift is measured on, each numerical or categorical
  (class ids categorical; a text by its length in characters and words and its out-of-vocabulary
  share; an image by its mean and spread).

The service (serving/service.py), the pipeline (pipeline/kinds.py) and the monitor
(pipeline/monitor.py) all go through these objects; this module is shipped inside every bento, so
it imports nothing of the project's and only numpy and pydantic at import (pandas where used).

The spec a kind reads (s2p_service.json in a bento): ``kind``, ``max_rows``; table kinds
``features`` and ``target`` (catalog columns as dicts); ``text_generation`` ``generation``
(``max_new_tokens``, ``max_prompt_chars``, ``vocab_size``); ``action`` ``observation`` (``size``,
``low``, ``high``); ``ranked_documents`` ``retrieval`` (``max_k``, ``max_query_chars``);
``cross_modal`` ``features`` (its image column), ``target`` (its caption column) and ``cross_modal``
(``max_k``); ``transcript`` ``audio`` (``max_samples``, ``sample_rate``, ``min_rms``, ``max_clipping``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

NUMERICAL, CATEGORICAL = "numerical", "categorical"
#: Bodies are checked as sent: "50" and true are not numbers, NaN and Infinity are refused.
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
#: What the log keeps of an answer is compared under this prefix (prediction drift).
PREDICTION = "prediction"


class KindError(ValueError):
    """A kind asked for something it does not define (rows of features of a text generator)."""


class RequestRefused(ValueError):
    """A request its schema accepts that the model cannot serve: a 400 naming ``field``."""

    def __init__(self, field: str, message: str):
        super().__init__(message if message.startswith(field) else f"{field}: {message}")
        self.field = field


class AnswerError(RuntimeError):
    """The model answered something that is no answer (a NaN): a 500."""


@dataclass(frozen=True)
class Descriptor:
    """A column the drift report compares: from the logged requests or from the answers."""

    name: str
    type: Literal["numerical", "categorical"] = NUMERICAL
    of: Literal["request", "answer"] = "request"


@dataclass(frozen=True)
class Answer:
    """One request's answers: ``records`` (what the log keeps of the request, one per answer), the
    JSON ``values`` the response is built from, and what the log keeps of each (``logged``)."""

    records: list[dict]
    values: list
    logged: list | None = None

    @property
    def log_values(self) -> list:
        return self.values if self.logged is None else self.logged


def label_model(label_type) -> type[BaseModel]:
    """The body item of POST /feedback: the id a prediction was answered with and its truth."""
    return create_model("Label", __config__=STRICT, id=(int, ...), label=(label_type, ...))


def text_descriptors(texts: Sequence[str], prefix: str, vocabulary=None) -> dict[str, np.ndarray]:
    """Length in characters and in words of each text and, given the model's vocabulary, the share
    of its characters (a character vocabulary) or lower-cased words outside it."""
    texts = ["" if text is None else str(text) for text in texts]
    columns = {
        f"{prefix}_chars": np.array([len(text) for text in texts], dtype=np.float64),
        f"{prefix}_words": np.array([len(text.split()) for text in texts], dtype=np.float64),
    }
    if vocabulary is not None:
        columns[f"{prefix}_oov_share"] = oov_share(texts, vocabulary)
    return columns


def oov_share(texts: Sequence[str], vocabulary) -> np.ndarray:
    """Per text, the share of its units outside ``vocabulary``: characters when every entry is one
    character, else whitespace-separated lower-cased words; 0 for an empty text."""
    known = {str(token) for token in vocabulary}
    by_character = all(len(token) == 1 for token in known)
    shares = []
    for text in texts:
        units = list(text) if by_character else text.lower().split()
        shares.append(sum(unit not in known for unit in units) / len(units) if units else 0.0)
    return np.array(shares, dtype=np.float64)


def text_descriptor_names(prefix: str, vocabulary: bool, of: str = "request") -> list[Descriptor]:
    names = [f"{prefix}_chars", f"{prefix}_words", *([f"{prefix}_oov_share"] if vocabulary else [])]
    return [Descriptor(name, NUMERICAL, of) for name in names]


def spread(values, prefix: str) -> dict[str, np.ndarray]:
    """The mean and standard deviation of each array (an image, a sequence)."""
    arrays = [np.asarray(value, dtype=np.float64).ravel() for value in values]
    return {
        f"{prefix}_mean": np.array([a.mean() if a.size else math.nan for a in arrays]),
        f"{prefix}_std": np.array([a.std() if a.size else math.nan for a in arrays]),
    }


def json_id(value):
    """A document or row id as JSON: an int stays an int, anything else is its text."""
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return int(value)
    return str(value)


def _plain(value):
    """NumPy arrays and scalars as JSON lists and numbers."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class Kind:
    """What every answer kind defines; see the module's docstring."""

    name: ClassVar[str]
    #: Answers POST /stream as server-sent events too.
    streams: ClassVar[bool] = False
    #: The feedback is the deliverable's target, so live quality is the gate metric on labeled traffic.
    labels_are_targets: ClassVar[bool] = False
    #: Drift is measured against the training split (a table); else against recorded request rows.
    reference_is_training_set: ClassVar[bool] = False

    def __init__(self, spec: dict):
        self.spec = spec
        self.max_rows = int(spec.get("max_rows", 1000))

    @classmethod
    def declared(cls, features: list[dict]) -> dict:
        """What this kind reads from the spec besides its columns, from the declaration's feature columns
        (as dicts): the bounds of a prompt, an observation, a query. Packaging writes it into the spec."""
        return {}

    def parameter(self, requests, name: str) -> np.ndarray:
        """A request-time parameter of logged or recorded requests as numbers; recorded requests that
        leave it out (a recipe's reference prompts, queries) took the request's default."""
        if name in requests.columns:
            return requests[name].astype(float).to_numpy()
        return np.full(len(requests), float(self.Request.model_fields[name].default))

    # -- serving --------------------------------------------------------------------------------
    @cached_property
    def Request(self) -> type[BaseModel]:
        raise NotImplementedError

    @cached_property
    def Response(self) -> Any:
        raise NotImplementedError

    @cached_property
    def Feedback(self) -> type[BaseModel]:
        return label_model(self.feedback_type())

    def feedback_type(self) -> Any:
        raise NotImplementedError

    def check(self, model, request: BaseModel) -> None:
        """Refuse (RequestRefused) what the schema let through but the model cannot serve."""

    def answer(self, model, request: BaseModel) -> Answer:
        raise NotImplementedError

    def respond(self, ids: list[int], answer: Answer, version: str):
        raise NotImplementedError

    def stream(self, model, request: BaseModel) -> Iterator[str]:
        raise KindError(f"kind {self.name} does not stream")

    def feedback_summary(self, feedback: list, answers: list) -> dict | None:
        """Live quality from feedback that is not the target (the monitor reports it): the share of
        thumbs up among the answers that got one; None without such feedback."""
        thumbs = [value for value in feedback if isinstance(value, bool)]
        if not thumbs:
            return None
        return {"measure": "thumbs_up_share", "rows": len(thumbs), "value": sum(thumbs) / len(thumbs)}

    def explain(self, model, request: BaseModel, method: str) -> list:
        """What the model's ``method`` says of each request row (POST /explain): JSON objects."""
        raise KindError(f"kind {self.name} answers requests, not rows of feature columns")

    def finish(self, request: BaseModel, chunks: list[str]) -> Answer:
        raise KindError(f"kind {self.name} does not stream")

    def label(self, value) -> tuple[float | None, Any]:
        """A feedback value as (the log's ``label``: the target's true value where the feedback is
        the target, else None; the log's ``feedback``: the value as sent). A thumb or a reward is
        no target: retraining and quality drift read ``label`` alone."""
        if self.labels_are_targets and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), value
        return None, value

    # -- drift ----------------------------------------------------------------------------------
    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        """The drift columns ``describe`` computes, with their Evidently column types."""
        raise NotImplementedError

    def describe(self, requests, answers: Sequence | None = None, vocabulary=None):
        """The drift columns (a DataFrame, one row per logged answer) of request rows (the logged
        request fields as columns) and, when given, of the logged answers."""
        import pandas as pd

        columns = self.request_columns(requests.reset_index(drop=True), vocabulary)
        if answers is not None:
            columns.update(self.answer_columns(list(answers)))
        return pd.DataFrame(columns)

    def request_columns(self, requests, vocabulary) -> dict:
        raise NotImplementedError

    def answer_columns(self, answers: list) -> dict:
        raise NotImplementedError

    # -- the pipeline's rows (table kinds) ------------------------------------------------------
    def model_input(self, rows) -> np.ndarray:
        raise KindError(f"kind {self.name} answers requests, not rows of feature columns")

    def model_target(self, rows) -> np.ndarray:
        raise KindError(f"kind {self.name} has no target column")

    def outputs(self, model, X) -> np.ndarray:
        raise KindError(f"kind {self.name} answers requests, not rows of feature columns")

    def to_json(self, value):
        raise KindError(f"kind {self.name} answers requests, not rows of feature columns")


# -- tables: rows of feature columns in, one answer per row -----------------------------------------


def _nested(shape: Sequence[int], element):
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


def _values(rows, name: str):
    """A column of rows given as records (served) or as a DataFrame (the pipeline)."""
    return rows[name] if hasattr(rows, "columns") else [row[name] for row in rows]


def _stack(values, shape: Sequence[int], name: str) -> np.ndarray:
    """Each row's array (nested lists, or flat as parquet stores it) as float64 (rows, *shape)."""
    size = math.prod(shape)
    arrays = [np.asarray(value, dtype=np.float64).ravel() for value in values]
    wrong = [i for i, a in enumerate(arrays) if a.size != size]
    if wrong:
        raise ValueError(f"{name}: {len(wrong)} row(s) (first: {wrong[0]}) are not arrays of {size} numbers {shape}")
    return np.stack(arrays).reshape(-1, *shape) if arrays else np.empty((0, *shape))


class TableKind(Kind):
    """A deliverable served on rows of its feature columns: POST /predict ``{"rows": [...]}``,
    answered ``[{"id", "prediction", "model_version"}, ...]``; the request row type is built from
    the spec's feature columns (each bounded as the catalog declares)."""

    output: ClassVar[Any] = float  # the JSON type of one prediction
    method: ClassVar[str] = "predict"  # what the model is asked: predict, or transform
    finite: ClassVar[bool] = True  # a non-finite answer is a 500
    labels_are_targets = True
    reference_is_training_set = True

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.columns = list(spec["features"])
        self.target = spec["target"]
        self.names = [column["name"] for column in self.columns]
        self.tensor = next((column for column in self.columns if column["dtype"] == "tensor"), None)
        self.text = any(column["dtype"] == "text" for column in self.columns)

    @cached_property
    def Features(self) -> type[BaseModel]:
        return create_model("Features", __config__=STRICT, **{c["name"]: _field(c) for c in self.columns})

    @cached_property
    def Request(self) -> type[BaseModel]:
        rows = Annotated[list[self.Features], Field(min_length=1, max_length=self.max_rows)]
        return create_model("Rows", rows=(rows, ...))

    @cached_property
    def Prediction(self) -> type[BaseModel]:
        return create_model(
            "Prediction",
            id=(int, Field(description="quote it in POST /feedback when the true value is known")),
            prediction=(self.output, ...),
            model_version=(str, ...),
        )

    @cached_property
    def Response(self) -> Any:
        return list[self.Prediction]

    def feedback_type(self) -> Any:
        """The true value of the target: a class id, a number; a tensor target its array."""
        if self.target["dtype"] == "tensor":
            return _nested(self.target["shape"], int if self.target.get("values") else float)
        return int if self.target["dtype"] == "int" else float

    def answer(self, model, request: BaseModel) -> Answer:
        records = [row.model_dump() for row in request.rows]
        return Answer(records, self.answers(model, self.model_input(records)))

    def explain(self, model, request: BaseModel, method: str) -> list:
        explained = getattr(model, method)(self.model_input([row.model_dump() for row in request.rows]))
        return [json.loads(json.dumps(item, default=_plain)) for item in explained]

    def answers(self, model, X: np.ndarray) -> list:
        values = self.outputs(model, X)
        if self.finite and not np.isfinite(np.asarray(values, dtype=float)).all():
            raise AnswerError("produced a non-finite prediction")
        return [self.to_json(value) for value in values]

    def respond(self, ids: list[int], answer: Answer, version: str) -> list:
        return [
            self.Prediction(id=i, prediction=v, model_version=version) for i, v in zip(ids, answer.values, strict=True)
        ]

    def model_input(self, rows) -> np.ndarray:
        """Rows as the model's X: (rows, *shape) for an array column, texts as objects, else floats."""
        if self.tensor:  # the catalog declares a tensor column alone
            return _stack(_values(rows, self.tensor["name"]), self.tensor["shape"], self.tensor["name"])
        dtype = object if self.text else np.float64
        if hasattr(rows, "columns"):
            return rows[self.names].to_numpy(dtype=dtype)
        return np.array([[row[name] for name in self.names] for row in rows], dtype=dtype)

    def model_target(self, rows) -> np.ndarray:
        """The target as the model fits it: classes stay integers, a tensor target is (n, *shape), texts
        stay strings (objects)."""
        values = _values(rows, self.target["name"])
        if self.target["dtype"] == "tensor":
            return _stack(values, self.target["shape"], self.target["name"])
        if self.target["dtype"] == "text":
            return np.array(list(values), dtype=object)
        return np.asarray(values, dtype=np.int64 if self.target["dtype"] == "int" else np.float64)

    def outputs(self, model, X) -> np.ndarray:
        return getattr(model, self.method)(X)

    def to_json(self, value):
        return float(value)

    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        found = []
        for column in self.columns:
            name = column["name"]
            if column["dtype"] == "text":
                found += text_descriptor_names(name, vocabulary)
            elif column["dtype"] == "tensor":
                found += [Descriptor(f"{name}_mean"), Descriptor(f"{name}_std")]
            else:  # an int column with a label set holds class ids
                categorical = column["dtype"] == "int" and column.get("values")
                found.append(Descriptor(name, CATEGORICAL if categorical else NUMERICAL))
        return found + self.answer_descriptors()

    def answer_descriptors(self) -> list[Descriptor]:
        return [Descriptor(PREDICTION, NUMERICAL, "answer")]

    def request_columns(self, requests, vocabulary) -> dict:
        columns = {}
        for column in self.columns:
            name, values = column["name"], requests[column["name"]]
            if column["dtype"] == "text":
                columns.update(text_descriptors(values.tolist(), name, vocabulary))
            elif column["dtype"] == "tensor":
                columns.update(spread(values, name))
            elif column["dtype"] == "int" and column.get("values"):
                columns[name] = values.astype("int64").to_numpy()
            else:
                columns[name] = values.astype(float).to_numpy()
        return columns

    def answer_columns(self, answers: list) -> dict:
        return {PREDICTION: np.array([float(value) for value in answers])}


class Number(TableKind):
    """A value per row (regression); feedback: the true value; drift: the value, numerical."""

    name = "number"


class ClassId(TableKind):
    """A class id per row; feedback: the true class; drift: the class, categorical."""

    name = "class"
    output = int

    def to_json(self, value):
        return int(value)

    def answer_descriptors(self) -> list[Descriptor]:
        return [Descriptor(PREDICTION, CATEGORICAL, "answer")]

    def answer_columns(self, answers: list) -> dict:
        return {PREDICTION: np.array([int(value) for value in answers], dtype=np.int64)}


class Cluster(ClassId):
    """A cluster id per row; drift: the cluster, categorical."""

    name = "cluster"


class Vector(TableKind):
    """A vector of components per row (decomposition); drift: its first component."""

    name = "vector"
    output = list[float]
    method = "transform"

    def to_json(self, value):
        return [float(v) for v in value]

    def answer_columns(self, answers: list) -> dict:
        return {PREDICTION: np.array([float(value[0]) if len(value) else math.nan for value in answers])}


class TokenIds(TableKind):
    """The token ids of each text (an encoder); drift: how many tokens, numerical."""

    name = "token_ids"
    output = list[int]
    method = "transform"
    finite = False  # integers by construction, and ragged

    def to_json(self, value):
        return [int(v) for v in value]

    def answer_columns(self, answers: list) -> dict:
        return {PREDICTION: np.array([len(value) for value in answers], dtype=np.float64)}


class Neighbours(TokenIds):
    """The row ids of the nearest indexed rows; drift: which row answers first, categorical."""

    name = "neighbours"

    def answer_descriptors(self) -> list[Descriptor]:
        return [Descriptor(PREDICTION, CATEGORICAL, "answer")]

    def answer_columns(self, answers: list) -> dict:
        return {PREDICTION: np.array([int(value[0]) if len(value) else -1 for value in answers], dtype=np.int64)}


class Continuation(TableKind):
    """A text continued (text in, text out); feedback: thumbs up/down; drift: the text's length."""

    name = "continuation"
    output = str
    finite = False
    labels_are_targets = False

    def feedback_type(self) -> Any:
        return bool

    def check(self, model, request: BaseModel) -> None:
        """A model with ``check_inputs(X)`` (a ValueError naming what it cannot read: a character it does not
        know) refuses a row here, a 400 naming the row, before any row is answered."""
        judge = getattr(model, "check_inputs", None)
        if judge is None:
            return
        for index, row in enumerate(request.rows):
            try:
                judge(self.model_input([row.model_dump()]))
            except ValueError as error:
                raise RequestRefused(f"rows[{index}]", str(error)) from None

    def to_json(self, value):
        return str(value)

    def answer_descriptors(self) -> list[Descriptor]:
        return text_descriptor_names(PREDICTION, False, "answer")

    def answer_columns(self, answers: list) -> dict:
        return text_descriptors(answers, PREDICTION)


class SequenceOut(TableKind):
    """A transformed sequence (of the target's shape); feedback: the true sequence."""

    name = "sequence"
    output = list
    labels_are_targets = False  # an array: kept as JSON, not in the label column

    def to_json(self, value):
        return np.asarray(value).tolist()

    def answer_descriptors(self) -> list[Descriptor]:
        return [
            Descriptor(f"{PREDICTION}_mean", NUMERICAL, "answer"),
            Descriptor(f"{PREDICTION}_std", NUMERICAL, "answer"),
        ]

    def answer_columns(self, answers: list) -> dict:
        return spread(answers, PREDICTION)


class Image(SequenceOut):
    """An image drawn for each row (a generator); feedback: thumbs up/down; drift: mean and spread."""

    name = "image"

    def feedback_type(self) -> Any:
        return bool


class DiffusionImage(Image):
    """An image drawn by a diffusion model for each row, with the sampler and its number of denoising
    steps chosen per request: ``{"rows": [...], "sampler": "ddim", "steps": 20}``, both optional (the
    model's own). ``steps`` is bounded by MAX_STEPS in the schema and by the model's training steps
    (a 400 naming it). Served model: ``sample(X, sampler=, steps=)`` and ``check_sampling(sampler,
    steps)`` (a ValueError naming what is out of bounds)."""

    name = "diffusion_image"
    MAX_STEPS: ClassVar[int] = 1000

    @cached_property
    def Request(self) -> type[BaseModel]:
        rows = Annotated[list[self.Features], Field(min_length=1, max_length=self.max_rows)]
        steps = Annotated[int, Field(ge=1, le=self.MAX_STEPS, description="denoising steps (DDIM)")]
        return create_model(
            "DiffusionRows",
            __config__=STRICT,
            rows=(rows, ...),
            sampler=(Literal["ddpm", "ddim"] | None, Field(None, description="ddpm: all steps; ddim: `steps`")),
            steps=(steps | None, None),
        )

    def check(self, model, request: BaseModel) -> None:
        try:
            model.check_sampling(request.sampler, request.steps)
        except ValueError as error:
            raise RequestRefused("steps" if request.steps is not None else "sampler", str(error)) from None

    def answer(self, model, request: BaseModel) -> Answer:
        records = [row.model_dump() for row in request.rows]
        images = model.sample(self.model_input(records), sampler=request.sampler, steps=request.steps)
        if not np.isfinite(np.asarray(images, dtype=float)).all():
            raise AnswerError("produced a non-finite prediction")
        return Answer(records, [self.to_json(image) for image in images])


# -- requests that are not rows ---------------------------------------------------------------------


class TextGeneration(Kind):
    """A prompt continued token by token (POST /predict the whole text, POST /stream one server-sent
    event per token). Served model: ``stream_text(prompt, max_new_tokens, temperature, top_k, top_p,
    seed) -> Iterator[str]`` (one chunk per token) and ``check_prompt(prompt)`` (ValueError naming
    what it cannot encode); optional ``vocab_size`` and ``vocabulary``. Feedback: thumbs up/down."""

    name = "text_generation"

    @classmethod
    def declared(cls, features: list[dict]) -> dict:
        """The prompt column's declared length bounds the prompt."""
        prompt = features[0] if features else {}
        return {"generation": {"max_new_tokens": 256, "max_prompt_chars": int(prompt.get("max") or 2000)}}

    streams = True

    def __init__(self, spec: dict):
        super().__init__(spec)
        generation = spec.get("generation") or {}
        self.max_new_tokens = int(generation.get("max_new_tokens", 256))
        self.max_prompt_chars = int(generation.get("max_prompt_chars", 2000))
        self.vocab_size = generation.get("vocab_size")

    @cached_property
    def Request(self) -> type[BaseModel]:
        top_k = {"ge": 1} | ({"le": int(self.vocab_size)} if self.vocab_size else {})
        return create_model(
            "GenerationRequest",
            __config__=STRICT,
            prompt=(str, Field(min_length=1, max_length=self.max_prompt_chars, description="the text to continue")),
            max_new_tokens=(int, Field(min(50, self.max_new_tokens), ge=1, le=self.max_new_tokens)),
            temperature=(float, Field(1.0, ge=0.0, le=5.0, description="0: greedy")),
            top_k=(int | None, Field(None, **top_k, description="sample among the k likeliest tokens")),
            top_p=(float, Field(1.0, gt=0.0, le=1.0, description="sample within this probability mass")),
            seed=(int | None, Field(None, ge=0, description="the same seed, the same text")),
        )

    @cached_property
    def Response(self) -> type[BaseModel]:
        return create_model(
            "Generation",
            id=(int, Field(description="quote it in POST /feedback with a thumbs up (true) or down")),
            text=(str, ...),
            tokens=(int, ...),
            model_version=(str, ...),
        )

    def feedback_type(self) -> Any:
        return bool

    def check(self, model, request: BaseModel) -> None:
        try:
            model.check_prompt(request.prompt)
        except ValueError as error:
            raise RequestRefused("prompt", str(error)) from None
        vocab_size = self.vocab_size or getattr(model, "vocab_size", None)
        if request.top_k is not None and vocab_size is not None and request.top_k > int(vocab_size):
            raise RequestRefused("top_k", f"must be at most the vocabulary size {vocab_size}, got {request.top_k}")

    def stream(self, model, request: BaseModel) -> Iterator[str]:
        return model.stream_text(
            request.prompt, request.max_new_tokens, request.temperature, request.top_k, request.top_p, request.seed
        )

    def finish(self, request: BaseModel, chunks: list[str]) -> Answer:
        text = "".join(chunks)
        return Answer([request.model_dump()], [{"text": text, "tokens": len(chunks)}], logged=[text])

    def answer(self, model, request: BaseModel) -> Answer:
        return self.finish(request, [str(chunk) for chunk in self.stream(model, request)])

    def respond(self, ids: list[int], answer: Answer, version: str):
        return self.Response(id=ids[0], model_version=version, **answer.values[0])

    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        return [
            *text_descriptor_names("prompt", vocabulary),
            Descriptor("max_new_tokens"),
            Descriptor("temperature"),
            *text_descriptor_names(PREDICTION, False, "answer"),
        ]

    def request_columns(self, requests, vocabulary) -> dict:
        return {
            **text_descriptors(requests["prompt"].tolist(), "prompt", vocabulary),
            "max_new_tokens": self.parameter(requests, "max_new_tokens"),
            "temperature": self.parameter(requests, "temperature"),
        }

    def answer_columns(self, answers: list) -> dict:
        return text_descriptors(answers, PREDICTION)


def sse(data: dict, event: str | None = None) -> str:
    """One server-sent event: ``event: NAME`` when named, then ``data: JSON`` and a blank line."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


class Action(Kind):
    """An action per observation (a policy). Request ``{"observations": [[...], ...]}``, each of
    ``observation.size`` floats within ``observation.low`` / ``high`` per dimension (None or an
    infinity: unbounded). Served model: ``act(np.ndarray (n, d)) -> ints``. Feedback: a reward."""

    name = "action"

    @classmethod
    def declared(cls, features: list[dict]) -> dict:
        """Each declared feature is one dimension of the observation, with its bounds."""
        low, high = [column.get("min") for column in features], [column.get("max") for column in features]
        return {"observation": {"size": len(features), "low": low, "high": high}}

    def __init__(self, spec: dict):
        super().__init__(spec)
        observation = spec.get("observation") or {}
        if "size" not in observation:
            raise KindError("kind action needs spec['observation']['size'] (the observation's dimensions)")
        self.size = int(observation["size"])
        self.low = _limits(observation.get("low"), self.size, "low")
        self.high = _limits(observation.get("high"), self.size, "high")

    @cached_property
    def Request(self) -> type[BaseModel]:
        row = Annotated[list[float], Field(min_length=self.size, max_length=self.size)]
        low, high = self.low, self.high

        def within_bounds(observations: list[list[float]]) -> list[list[float]]:
            for i, observation in enumerate(observations):
                for j, value in enumerate(observation):
                    if value < low[j]:
                        raise ValueError(
                            f"observations[{i}][{j}] = {value} is below dimension {j}'s low bound {low[j]}"
                        )
                    if value > high[j]:
                        raise ValueError(
                            f"observations[{i}][{j}] = {value} is above dimension {j}'s high bound {high[j]}"
                        )
            return observations

        return create_model(
            "ObservationRequest",
            __config__=STRICT,
            __validators__={"bounds": field_validator("observations")(within_bounds)},
            observations=(Annotated[list[row], Field(min_length=1, max_length=self.max_rows)], ...),
        )

    @cached_property
    def ActionAnswer(self) -> type[BaseModel]:
        return create_model(
            "ActionAnswer",
            id=(int, Field(description="quote it in POST /feedback with the reward that followed")),
            action=(int, ...),
            model_version=(str, ...),
        )

    @cached_property
    def Response(self) -> Any:
        return list[self.ActionAnswer]

    def feedback_type(self) -> Any:
        return float

    def feedback_summary(self, feedback: list, answers: list) -> dict | None:
        """The mean reward that followed the served actions."""
        rewards = [float(value) for value in feedback if isinstance(value, int | float) and not isinstance(value, bool)]
        if not rewards:
            return None
        return {"measure": "mean_reward", "rows": len(rewards), "value": float(np.mean(rewards))}

    def answer(self, model, request: BaseModel) -> Answer:
        observations = np.asarray(request.observations, dtype=np.float64)  # (n, d)
        actions = np.asarray(model.act(observations))
        if actions.shape != (len(observations),) or not np.issubdtype(actions.dtype, np.integer):
            raise AnswerError(f"answered {actions.dtype} of shape {actions.shape}, not one integer action each")
        records = [{"observation": observation} for observation in request.observations]
        return Answer(records, [int(action) for action in actions])

    def respond(self, ids: list[int], answer: Answer, version: str) -> list:
        return [
            self.ActionAnswer(id=i, action=a, model_version=version) for i, a in zip(ids, answer.values, strict=True)
        ]

    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        return [
            *(Descriptor(f"observation_{j}") for j in range(self.size)),
            Descriptor(PREDICTION, CATEGORICAL, "answer"),
        ]

    def request_columns(self, requests, vocabulary) -> dict:
        observations = _stack(requests["observation"], (self.size,), "observation")
        return {f"observation_{j}": observations[:, j] for j in range(self.size)}

    def answer_columns(self, answers: list) -> dict:
        return {PREDICTION: np.array([int(value) for value in answers], dtype=np.int64)}


def _limits(values, size: int, which: str) -> list[float]:
    """Per-dimension bounds, an infinity where none is given."""
    unbounded = math.inf if which == "high" else -math.inf
    if values is None:
        return [unbounded] * size
    if len(values) != size:
        raise KindError(f"spec['observation']['{which}'] has {len(values)} values for {size} dimensions")
    return [unbounded if value is None or not math.isfinite(value) else float(value) for value in values]


class RankedDocuments(Kind):
    """The k best documents for a query. Request ``{"query": "...", "k": 10}``; answer
    ``{"id", "documents": [{"doc_id", "score", "snippet"}], "model_version"}``. Served model:
    ``search([query], k) -> [[(doc_id, score), ...]]`` and ``snippet(doc_id, query) -> str``;
    optional ``vocabulary``. Feedback: the ids of the relevant documents, or a thumbs up/down."""

    name = "ranked_documents"

    @classmethod
    def declared(cls, features: list[dict]) -> dict:
        """The query column's declared length bounds the query."""
        query = features[0] if features else {}
        return {"retrieval": {"max_k": 100, "max_query_chars": int(query.get("max") or 1000)}}

    def __init__(self, spec: dict):
        super().__init__(spec)
        retrieval = spec.get("retrieval") or {}
        self.max_k = int(retrieval.get("max_k", 100))
        self.max_query_chars = int(retrieval.get("max_query_chars", 1000))

    @cached_property
    def Request(self) -> type[BaseModel]:
        def has_words(query: str) -> str:
            if not query.strip():
                raise ValueError("the query is blank")
            return query

        return create_model(
            "SearchRequest",
            __config__=STRICT,
            __validators__={"words": field_validator("query")(has_words)},
            query=(str, Field(min_length=1, max_length=self.max_query_chars)),
            k=(int, Field(min(10, self.max_k), ge=1, le=self.max_k, description="how many documents")),
        )

    @cached_property
    def Document(self) -> type[BaseModel]:
        return create_model("Document", doc_id=(int | str, ...), score=(float, ...), snippet=(str, ...))

    @cached_property
    def Response(self) -> type[BaseModel]:
        return create_model(
            "Ranking",
            id=(int, Field(description="quote it in POST /feedback with the relevant doc ids (or a thumb)")),
            documents=(list[self.Document], ...),
            model_version=(str, ...),
        )

    def feedback_type(self) -> Any:
        return bool | Annotated[list[int | str], Field(max_length=self.max_rows)]

    def feedback_summary(self, feedback: list, answers: list) -> dict | None:
        """Recall of the served rankings: the share of the documents named relevant that were in the
        answer (thumbs alone: their share up)."""
        named = [(set(map(json_id, value)), answer) for value, answer in zip(feedback, answers, strict=True)
                 if isinstance(value, list) and value]  # fmt: skip
        if not named:
            return super().feedback_summary(feedback, answers)
        recalls = [len(relevant & {json_id(d["doc_id"]) for d in answer}) / len(relevant) for relevant, answer in named]
        return {"measure": "recall_of_served_rankings", "rows": len(named), "value": float(np.mean(recalls))}

    def answer(self, model, request: BaseModel) -> Answer:
        ranking = model.search([request.query], request.k)[0]
        documents = [{"doc_id": json_id(doc_id), "score": float(score)} for doc_id, score in ranking]
        if not all(math.isfinite(document["score"]) for document in documents):
            raise AnswerError("produced a non-finite score")
        shown = [
            {**d, "snippet": str(model.snippet(doc_id, request.query))}
            for d, (doc_id, _) in zip(documents, ranking, strict=True)
        ]
        return Answer([request.model_dump()], [shown], logged=[documents])

    def respond(self, ids: list[int], answer: Answer, version: str):
        return self.Response(id=ids[0], documents=answer.values[0], model_version=version)

    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        return [
            *text_descriptor_names("query", vocabulary),
            Descriptor("k"),
            Descriptor(f"{PREDICTION}_top_score", NUMERICAL, "answer"),
        ]

    def request_columns(self, requests, vocabulary) -> dict:
        return {
            **text_descriptors(requests["query"].tolist(), "query", vocabulary),
            "k": self.parameter(requests, "k"),
        }

    def answer_columns(self, answers: list) -> dict:
        top = [float(documents[0]["score"]) if len(documents) else 0.0 for documents in answers]  # none found: 0
        return {f"{PREDICTION}_top_score": np.array(top)}


class CrossModal(Kind):
    """An image or a text in, the k nearest items of the other kind out (an image-text model: CLIP).
    Request ``{"image": [...], "k": 5}`` (nested lists of the image column's shape, each value within its
    bounds) or ``{"text": "...", "k": 5}`` (within the caption column's length), exactly one of the two;
    answer ``{"id", "query": "image" | "text", "matches": [{"caption", "image_id", "score"}],
    "model_version"}``: captions for an image (``image_id`` null), the model's indexed images for a text
    (their id and caption), best first. Served model: ``retrieve_captions(images (1, *shape), k) ->
    [[(caption, score)]]``, ``retrieve_images([text], k) -> [[(image_id, caption, score)]]`` and
    ``check_text(text)`` (a ValueError naming what it cannot read). In the pipeline the rows are pairs:
    the image column is the input, the caption the target, ``predict`` (each image's best caption) the
    output. Feedback: thumbs up/down. Drift: the query kind (categorical), an image's mean and spread, a
    text's length in characters and words, and k; the caption of the best match (categorical, as a class
    answer's). The training pairs are the reference traffic, even rows as image queries and odd rows as
    text queries, answered by their best caption. A descriptor of the kind a request does not carry is
    missing (NaN); one a whole window lacks (no image query at all) reads -1, so a change of the query mix
    shows as drift instead of breaking the report."""

    name = "cross_modal"
    reference_is_training_set = True

    @classmethod
    def declared(cls, features: list[dict]) -> dict:
        return {"cross_modal": {"max_k": 50}}

    def __init__(self, spec: dict):
        super().__init__(spec)
        image = next((column for column in spec.get("features") or [] if column["dtype"] == "tensor"), None)
        text = spec.get("target")
        if image is None or text is None or text["dtype"] != "text":
            raise KindError("kind cross_modal needs a tensor feature (the image) and a text target (the caption)")
        self.image, self.text = image, text
        self.max_k = int((spec.get("cross_modal") or {}).get("max_k", 50))

    @cached_property
    def Request(self) -> type[BaseModel]:
        def not_blank(text: str | None) -> str | None:
            if text is not None and not text.strip():
                raise ValueError("the text is blank")
            return text

        def one_query(request):
            if (request.image is None) == (request.text is None):
                raise ValueError("give exactly one of image or text")
            return request

        image = _nested(self.image["shape"], Annotated[float, Field(**_bounds(self.image))])
        lengths = {"min_length": int(self.text.get("min") or 1), "max_length": int(self.text.get("max") or 1000)}
        validators = {"words": field_validator("text")(not_blank), "one": model_validator(mode="after")(one_query)}
        return create_model(
            "CrossModalRequest",
            __config__=STRICT,
            __validators__=validators,
            image=(image | None, Field(None, description="an image: its nearest captions")),
            text=(Annotated[str, Field(**lengths)] | None, Field(None, description="a text: its nearest images")),
            k=(int, Field(min(5, self.max_k), ge=1, le=self.max_k, description="how many of the other kind")),
        )

    @cached_property
    def Features(self) -> type[BaseModel]:
        """A pipeline row's features: the image column (the caption is the target)."""
        return create_model("Features", __config__=STRICT, **{self.image["name"]: _field(self.image)})

    @cached_property
    def Match(self) -> type[BaseModel]:
        return create_model("Match", caption=(str, ...), image_id=(int | None, None), score=(float, ...))

    @cached_property
    def Response(self) -> type[BaseModel]:
        return create_model(
            "CrossModalAnswer",
            id=(int, Field(description="quote it in POST /feedback with a thumbs up (true) or down")),
            query=(Literal["image", "text"], ...),
            matches=(list[self.Match], ...),
            model_version=(str, ...),
        )

    def feedback_type(self) -> Any:
        return bool

    def check(self, model, request: BaseModel) -> None:
        if request.text is not None:
            try:
                model.check_text(request.text)
            except ValueError as error:
                raise RequestRefused("text", str(error)) from None

    def answer(self, model, request: BaseModel) -> Answer:
        if request.image is not None:
            image = np.asarray(request.image, dtype=np.float64)[None]  # (1, *shape)
            found = [(caption, None, score) for caption, score in model.retrieve_captions(image, request.k)[0]]
        else:
            ranked = model.retrieve_images([request.text], request.k)[0]
            found = [(caption, image_id, score) for image_id, caption, score in ranked]
        matches = [
            {"caption": str(caption), "image_id": None if image_id is None else int(image_id), "score": float(score)}
            for caption, image_id, score in found
        ]
        if not all(math.isfinite(match["score"]) for match in matches):
            raise AnswerError("produced a non-finite score")
        query = "image" if request.image is not None else "text"
        return Answer([request.model_dump()], [{"query": query, "matches": matches}], logged=[matches])

    def respond(self, ids: list[int], answer: Answer, version: str):
        return self.Response(id=ids[0], model_version=version, **answer.values[0])

    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        return [
            Descriptor("query", CATEGORICAL),
            Descriptor("image_mean"),
            Descriptor("image_std"),
            Descriptor("text_chars"),
            Descriptor("text_words"),
            Descriptor("k"),
            Descriptor(PREDICTION, CATEGORICAL, "answer"),
        ]

    def request_columns(self, requests, vocabulary) -> dict:
        n = len(requests)
        if "image" in requests.columns and self.text["name"] in requests.columns:  # training pairs
            images = [value if row % 2 == 0 else None for row, value in enumerate(requests["image"])]
            texts = [value if row % 2 == 1 else None for row, value in enumerate(requests[self.text["name"]])]
        else:
            images = requests["image"].tolist() if "image" in requests.columns else [None] * n
            texts = requests["text"].tolist() if "text" in requests.columns else [None] * n
        columns = {"query": np.array(["image" if _carried(image) else "text" for image in images], dtype=object)}
        arrays = [np.asarray(image, dtype=np.float64).ravel() if _carried(image) else None for image in images]
        columns["image_mean"] = np.array([math.nan if a is None else a.mean() for a in arrays])
        columns["image_std"] = np.array([math.nan if a is None else a.std() for a in arrays])
        texts = [text if isinstance(text, str) else None for text in texts]
        columns["text_chars"] = np.array([math.nan if t is None else len(t) for t in texts], dtype=np.float64)
        columns["text_words"] = np.array([math.nan if t is None else len(t.split()) for t in texts], dtype=np.float64)
        for name in ("image_mean", "image_std", "text_chars", "text_words"):
            if n and np.isnan(columns[name]).all():  # no query of that kind in the window
                columns[name] = np.full(n, -1.0)
        columns["k"] = self.parameter(requests, "k")
        return columns

    def answer_columns(self, answers: list) -> dict:
        """The best match's caption: logged answers are lists of matches, the pipeline's a caption each."""
        best = [
            answer if isinstance(answer, str) else (str(answer[0]["caption"]) if len(answer) else "")
            for answer in answers
        ]
        return {PREDICTION: np.array(best, dtype=object)}

    # -- the pipeline's rows: pairs of an image and its caption -----------------------------------------
    def model_input(self, rows) -> np.ndarray:
        return _stack(_values(rows, self.image["name"]), self.image["shape"], self.image["name"])

    def model_target(self, rows) -> np.ndarray:
        """The captions, as fixed-width strings (their bytes identify a training job)."""
        return np.array([str(value) for value in _values(rows, self.text["name"])], dtype=str)

    def outputs(self, model, X) -> np.ndarray:
        return model.predict(X)

    def to_json(self, value):
        return str(value)


def _carried(value) -> bool:
    """Whether a logged request field holds a value (not None, not a missing-value NaN)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


class Transcript(TableKind):
    """Speech to text. Request ``{"audio": [floats in [-1, 1]], "sample_rate": 16000}``: at most
    ``audio.max_samples`` samples, at the model's ``audio.sample_rate`` (another rate is a 400 naming
    ``sample_rate``), neither silent (RMS below ``audio.min_rms``) nor clipped (a share above
    ``audio.max_clipping`` of samples at full scale), each a 400 naming ``audio``. Answer ``{"id",
    "transcript", "model_version"}``. Served model: ``predict(utterances)`` -> one str per utterance,
    where utterances is a record array (``audio`` float32 zero-padded to ``max_samples``, ``length``,
    ``voice``; "" when served); the pipeline's rows (the table's ``audio``, ``length``, ``voice``
    columns) give the same. The log keeps the request's ``length``, ``sample_rate`` and ``rms``, not
    its samples. Feedback: the true transcript (kept as sent). Drift: duration, RMS level, and the
    transcript's length in characters and words."""

    name = "transcript"
    output = str
    finite = False
    labels_are_targets = False  # a transcript is text: the log keeps it as feedback, not as a number

    @classmethod
    def declared(cls, features: list[dict]) -> dict:
        """The audio's bounds from the declaration's columns: ``audio`` (a tensor: its length bounds the
        samples), ``sample_rate`` (its one value), ``rms`` (its min: silence) and ``clipping`` (its max)."""
        by_name = {column["name"]: column for column in features}
        audio = {"max_samples": int(by_name["audio"]["shape"][0])} if "audio" in by_name else {}
        if (by_name.get("sample_rate") or {}).get("values"):
            audio["sample_rate"] = int(by_name["sample_rate"]["values"][0])
        if (by_name.get("rms") or {}).get("min") is not None:
            audio["min_rms"] = float(by_name["rms"]["min"])
        if (by_name.get("clipping") or {}).get("max") is not None:
            audio["max_clipping"] = float(by_name["clipping"]["max"])
        return {"audio": audio}

    def __init__(self, spec: dict):
        super().__init__(spec)
        audio = {**self.declared(self.columns)["audio"], **(spec.get("audio") or {})}
        if "max_samples" not in audio or "sample_rate" not in audio:
            raise KindError("kind transcript needs an audio tensor column and a sample_rate column with its one value")
        self.max_samples, self.sample_rate = int(audio["max_samples"]), int(audio["sample_rate"])
        self.min_rms, self.max_clipping = float(audio.get("min_rms", 0.0)), float(audio.get("max_clipping", 1.0))

    @cached_property
    def Request(self) -> type[BaseModel]:
        rate, min_rms, max_clipping = self.sample_rate, self.min_rms, self.max_clipping

        def same_rate(value: int) -> int:
            if value != rate:
                raise ValueError(f"the model reads audio at {rate} Hz, got {value} Hz: resample it first")
            return value

        def audible(samples: list[float]) -> list[float]:
            array = np.asarray(samples, dtype=np.float64)
            rms = float(np.sqrt(np.mean(array**2)))
            if rms < min_rms:
                raise ValueError(f"silent audio: RMS level {rms:.2g} is below {min_rms}")
            clipped = float(np.mean(np.abs(array) >= 0.999))
            if clipped > max_clipping:
                raise ValueError(
                    f"clipped audio: {clipped:.1%} of the samples are at full scale (at most {max_clipping:.1%})"
                )
            return samples

        sample = Annotated[float, Field(ge=-1.0, le=1.0)]
        return create_model(
            "AudioRequest",
            __config__=STRICT,
            __validators__={
                "rate": field_validator("sample_rate")(same_rate),
                "audible": field_validator("audio")(audible),
            },
            audio=(list[sample], Field(min_length=1, max_length=self.max_samples, description="samples in [-1, 1]")),
            sample_rate=(int, Field(description=f"samples per second: {rate}")),
        )

    @cached_property
    def Response(self) -> type[BaseModel]:
        return create_model(
            "Transcription",
            id=(int, Field(description="quote it in POST /feedback with the true transcript")),
            transcript=(str, ...),
            model_version=(str, ...),
        )

    def feedback_type(self) -> Any:
        return Annotated[str, Field(max_length=10_000)]

    def utterances(self, audio: Sequence, lengths: Sequence[int], voices: Sequence[str]) -> np.ndarray:
        """A record array of utterances: ``audio`` zero-padded to ``max_samples``, ``length``, ``voice``."""
        dtype = np.dtype([("audio", np.float32, (self.max_samples,)), ("length", np.int64), ("voice", "U40")])
        out = np.zeros(len(lengths), dtype=dtype)
        for i, (samples, length) in enumerate(zip(audio, lengths, strict=True)):
            array = np.asarray(samples, dtype=np.float32).ravel()[: int(length)]
            out["audio"][i, : len(array)] = array
        out["length"], out["voice"] = [int(n) for n in lengths], [str(v) for v in voices]
        return out

    def answer(self, model, request: BaseModel) -> Answer:
        samples = np.asarray(request.audio, dtype=np.float64)
        X = self.utterances([samples], [len(samples)], [""])
        rms = float(np.sqrt(np.mean(samples**2)))
        record = {"length": len(samples), "sample_rate": request.sample_rate, "rms": rms}
        return Answer([record], [str(text) for text in model.predict(X)])

    def respond(self, ids: list[int], answer: Answer, version: str):
        return self.Response(id=ids[0], transcript=answer.values[0], model_version=version)

    def model_input(self, rows) -> np.ndarray:
        """The table's rows as utterances (the audio of each row, stored flat and padded, to its length)."""
        return self.utterances(_values(rows, "audio"), list(_values(rows, "length")), list(_values(rows, "voice")))

    def model_target(self, rows) -> np.ndarray:
        """The transcripts as fixed-width unicode (the same bytes in every process: a training fingerprint)."""
        return np.asarray([str(text) for text in _values(rows, self.target["name"])], dtype=str)

    def to_json(self, value):
        return str(value)

    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        return [Descriptor("duration_seconds"), Descriptor("rms"), *text_descriptor_names(PREDICTION, False, "answer")]

    def request_columns(self, requests, vocabulary) -> dict:
        lengths = requests["length"].astype(float).to_numpy()
        rates = requests["sample_rate"].astype(float).to_numpy() if "sample_rate" in requests else self.sample_rate
        return {"duration_seconds": lengths / rates, "rms": requests["rms"].astype(float).to_numpy()}

    def answer_columns(self, answers: list) -> dict:
        return text_descriptors(answers, PREDICTION)


class Recommendations(Kind):
    """The k best items for a user, from the user's fresh features. Request ``{"user_id": 7, "k": 10}``;
    answer ``{"id", "user_id", "items": [{"item_id", "score"}], "history", "fresh", "model_version"}``:
    ``history`` is how many recent events the online store held for the user, ``fresh`` how many of
    them came after training and were folded in. Served model: ``recommend_user(user_id, k)`` with
    ``.items``, ``.scores``, ``.history``, ``.fresh``; events (``Events``, ``ingest``) go to its
    ``features.apply_events``. Feedback: the ids of the items the user then played, or a thumbs up/down."""

    name = "recommendations"

    @classmethod
    def declared(cls, features: list[dict]) -> dict:
        return {"recommendation": {"max_k": 100}}

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.max_k = int((spec.get("recommendation") or {}).get("max_k", 100))

    @cached_property
    def Request(self) -> type[BaseModel]:
        return create_model(
            "RecommendationRequest",
            __config__=STRICT,
            user_id=(int, Field(ge=0, le=2**62, description="the user to recommend for")),
            k=(int, Field(min(10, self.max_k), ge=1, le=self.max_k, description="how many items")),
        )

    @cached_property
    def Item(self) -> type[BaseModel]:
        return create_model("RecommendedItem", item_id=(int, ...), score=(float, ...))

    @cached_property
    def Response(self) -> type[BaseModel]:
        return create_model(
            "Recommendations",
            id=(int, Field(description="quote it in POST /feedback with the items the user then played")),
            user_id=(int, ...),
            items=(list[self.Item], ...),
            history=(int, Field(description="recent events the online store held for the user")),
            fresh=(int, Field(description="of those, events after training, folded into the user's factors")),
            model_version=(str, ...),
        )

    @cached_property
    def Events(self) -> type[BaseModel]:
        """A batch of interaction events for the online store (a stream consumer's batch)."""
        event = create_model(
            "InteractionEvent",
            __config__=STRICT,
            user_id=(int, Field(ge=0, le=2**62)),
            item_id=(int, Field(ge=0, le=2**62)),
            plays=(int, Field(1, ge=1, le=10_000)),
            timestamp=(float, Field(ge=0, description="epoch seconds")),
        )
        return create_model(
            "InteractionEvents", __config__=STRICT, events=(list[event], Field(min_length=1, max_length=self.max_rows))
        )

    def ingest(self, model, request: BaseModel) -> dict:
        """Push a batch of events into the users' online rows (read, append, push); what was written."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                "user_id": [event.user_id for event in request.events],
                "item_id": [event.item_id for event in request.events],
                "plays": [event.plays for event in request.events],
                "event_timestamp": pd.to_datetime([event.timestamp for event in request.events], unit="s", utc=True),
            }
        )
        pushed = model.features.apply_events(frame)
        return {"users": len(pushed), "events": len(frame)}

    def feedback_type(self) -> Any:
        return bool | Annotated[list[int], Field(max_length=self.max_rows)]

    def feedback_summary(self, feedback: list, answers: list) -> dict | None:
        """Hit rate of the served lists: the share of the items named as played that were recommended."""
        named = [(set(value), answer) for value, answer in zip(feedback, answers, strict=True)
                 if isinstance(value, list) and value]  # fmt: skip
        if not named:
            return super().feedback_summary(feedback, answers)
        hits = [len(played & {item["item_id"] for item in answer}) / len(played) for played, answer in named]
        return {"measure": "hit_rate_of_served_recommendations", "rows": len(named), "value": float(np.mean(hits))}

    def answer(self, model, request: BaseModel) -> Answer:
        found = model.recommend_user(request.user_id, request.k)
        items = [
            {"item_id": int(item), "score": float(score)} for item, score in zip(found.items, found.scores, strict=True)
        ]
        if not all(math.isfinite(item["score"]) for item in items):
            raise AnswerError("produced a non-finite score")
        record = {"user_id": request.user_id, "k": request.k, "history": found.history, "fresh": found.fresh}
        value = {"user_id": request.user_id, "items": items, "history": found.history, "fresh": found.fresh}
        return Answer([record], [value], logged=[items])

    def respond(self, ids: list[int], answer: Answer, version: str):
        return self.Response(id=ids[0], **answer.values[0], model_version=version)

    def descriptors(self, vocabulary: bool = False) -> list[Descriptor]:
        return [Descriptor("k"), Descriptor("history"), Descriptor(f"{PREDICTION}_top_score", NUMERICAL, "answer")]

    def request_columns(self, requests, vocabulary) -> dict:
        return {"k": self.parameter(requests, "k"), "history": requests["history"].astype(float).to_numpy()}

    def answer_columns(self, answers: list) -> dict:
        top = [float(items[0]["score"]) if len(items) else 0.0 for items in answers]  # nothing to recommend: 0
        return {f"{PREDICTION}_top_score": np.array(top)}


KINDS: dict[str, type[Kind]] = {
    kind.name: kind
    for kind in (
        Number,
        ClassId,
        Cluster,
        Vector,
        TokenIds,
        Neighbours,
        Continuation,
        SequenceOut,
        Image,
        DiffusionImage,
        TextGeneration,
        Action,
        RankedDocuments,
        CrossModal,
        Transcript,
        Recommendations,
    )
}


def kind_for(spec: dict) -> Kind:
    """The kind object a spec names (``spec["kind"]``), built on that spec."""
    name = spec.get("kind")
    if name not in KINDS:
        raise KindError(f"unknown answer kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name](spec)
