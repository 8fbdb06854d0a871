"""Typed parameters, read once from params.yaml at the edge and passed down.

params.yaml holds a ``defaults`` block (what deliverables share: seed, split, gate margin, monitor,
serving, schedules) and one section per deliverable under ``deliverables``. A deliverable's
parameters are the defaults with its section merged over them key by key; its ``sizes`` name
overrides merged on top when a run asks for one (``smoke`` for the test suite, ``full`` for a GPU;
no size is the default size that `make run` and `dvc repro` use). Unknown keys and wrong types fail
loudly, naming the offending key (pydantic models that forbid extra keys).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """params.yaml (or a --set override) does not fit the typed configuration."""


class Params(BaseModel):
    """A section of params.yaml: unknown keys are refused, "42" is not an int, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class GateParams(Params):
    min_improvement: float = 0.0  # how much better than the champion a challenger must be

    @field_validator("min_improvement", mode="before")
    @classmethod
    def _ints_are_floats(cls, value):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class MonitorParams(Params):
    window: int = 1000  # the newest inference-log rows compared with the training reference
    min_rows: int = 30  # fewer logged rows than this is not enough traffic to judge drift
    drift_share: float = 0.5  # dataset drift when at least this share of columns drifted
    quality_tolerance: float = 0.2  # quality drift when the gate metric on labeled traffic is this much worse
    retrain_on_drift: bool = True  # the monitoring flow starts retraining when it finds drift

    @field_validator("drift_share", "quality_tolerance", mode="before")
    @classmethod
    def _ints_are_floats(cls, value):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class SloParams(Params):
    """When a canary is rolled back: its own answers judged in each worker (docs/deployment.md)."""

    window: int = 100  # the canary's newest answers judged (per worker)
    max_error_rate: float = 0.05  # a breach: more than floor(max_error_rate * window) failures among them
    min_requests: int = 20  # the p95 latency is judged once the window holds this many answers
    max_p95_ms: float | None = None  # a breach: the canary's p95 answer latency above this (null: not judged)
    min_labels: int = 30  # quality is judged once this many canary answers have delayed labels
    max_label_mae: float | None = None  # regression: a breach when the labeled answers' MAE is above this
    min_label_accuracy: float | None = None  # classification: a breach when their accuracy is below this

    @field_validator("max_error_rate", "max_p95_ms", "max_label_mae", "min_label_accuracy", mode="before")
    @classmethod
    def _ints_are_floats(cls, value):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check(self):
        if self.window < 1:
            raise ValueError(f"serving.slo.window must be at least 1 request, got {self.window}")
        if not 0.0 <= self.max_error_rate < 1.0:
            raise ValueError(f"serving.slo.max_error_rate must lie in [0, 1), got {self.max_error_rate}")
        if not 1 <= self.min_requests <= self.window:
            raise ValueError(f"serving.slo.min_requests must lie in [1, window={self.window}], got {self.min_requests}")
        if self.max_p95_ms is not None and self.max_p95_ms <= 0:
            raise ValueError(f"serving.slo.max_p95_ms must be positive (or null), got {self.max_p95_ms}")
        if self.min_labels < 1:
            raise ValueError(f"serving.slo.min_labels must be at least 1, got {self.min_labels}")
        if self.max_label_mae is not None and self.max_label_mae <= 0:
            raise ValueError(f"serving.slo.max_label_mae must be positive (or null), got {self.max_label_mae}")
        if self.min_label_accuracy is not None and not 0.0 < self.min_label_accuracy <= 1.0:
            raise ValueError(
                f"serving.slo.min_label_accuracy must lie in (0, 1] (or null), got {self.min_label_accuracy}"
            )
        return self


MODES = ("single", "shadow", "canary", "blue_green")


class ServingParams(Params):
    # single | shadow (challenger mirrored, logged only) | canary | blue_green (champion blue, challenger
    # green, both loaded; `live` answers everything until a switch: POST /deployment/switch, `s2p deployment`)
    mode: str = "single"
    canary_fraction: float = 0.1  # share of requests a canary challenger answers
    slo: SloParams = Field(default_factory=SloParams)  # a canary that breaches it is rolled back at once
    live: str = "blue"  # blue_green: the colour that answers when the server starts (a switch persists)
    workers: int = 2  # worker processes of `bentoml serve` (one per core of this 2-core machine)
    access_log: bool = False  # BentoML's line per request; the inference log already records each one
    metrics: bool = True  # BentoML's Prometheus /metrics (request counts, latency histograms)
    # OpenTelemetry spans per request, for BentoML's tracing exporter (its `tracing` config). Off, the
    # SDK is disabled in the server: BentoML's default samples no request yet builds every span.
    tracing: bool = False

    @field_validator("canary_fraction", mode="before")
    @classmethod
    def _ints_are_floats(cls, value):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check(self):
        if self.workers < 1:
            raise ValueError(f"serving.workers must be at least 1, got {self.workers}")
        if self.mode not in MODES:
            raise ValueError(f"serving.mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0.0 <= self.canary_fraction <= 1.0:
            raise ValueError(f"serving.canary_fraction must lie in [0, 1], got {self.canary_fraction}")
        if self.live not in ("blue", "green"):
            raise ValueError(f"serving.live must be blue (the champion) or green (the challenger), got {self.live!r}")
        return self


class ScheduleParams(Params):
    retrain: str = "0 3 * * 0"  # cron (UTC): the deployment's retraining schedule
    monitor: str = "0 * * * *"  # cron (UTC): the deployment's monitoring schedule


class RetryParams(Params):
    """Prefect task retries of a step whose backend failed for a moment (s2p.backends.transient:
    connection refused, reset or timed out, a 5xx answer); never of bad data or a bug."""

    count: int = 2  # retries after the first attempt
    delay_s: float = 1.0  # seconds between attempts

    @field_validator("delay_s", mode="before")
    @classmethod
    def _ints_are_floats(cls, value):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check(self):
        if self.count < 0 or self.delay_s < 0:
            raise ValueError(f"retries: count and delay_s must be >= 0, got {self.count} and {self.delay_s}")
        return self


#: The sizes a section may name besides the default one: ``smoke`` (the tests'), ``cpu`` (a long run on one
#: CPU for a target the default size cannot reach in make run's budget), ``full`` (a GPU run).
SIZES = ("smoke", "cpu", "full")


class DeliverableParams(Params):
    seed: int = 42
    test_size: float = 0.2
    size: int | None = None  # rows to keep from the source (None: all)
    checkpoint_every: int = 100  # epochs between checkpoints of epoch-trained models
    model: dict[str, Any] = Field(default_factory=dict)  # the estimator's constructor arguments
    reference: dict[str, Any] = Field(default_factory=dict)
    gate: GateParams = Field(default_factory=GateParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)
    serving: ServingParams = Field(default_factory=ServingParams)
    schedule: ScheduleParams = Field(default_factory=ScheduleParams)
    retries: RetryParams = Field(default_factory=RetryParams)  # of a step whose backend failed for a moment
    #: Named overrides merged over the section, one of ``SIZES``.
    sizes: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("test_size", mode="before")
    @classmethod
    def _ints_are_floats(cls, value):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check(self):
        if not 0.0 < self.test_size < 1.0:
            raise ValueError(f"test_size must lie strictly between 0 and 1, got {self.test_size}")
        if self.size is not None and self.size < 2:
            raise ValueError(f"size must be at least 2 rows (or null for all), got {self.size}")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {self.checkpoint_every}")
        unknown = sorted(set(self.sizes) - set(SIZES))
        if unknown:
            raise ValueError(f"sizes: unknown size(s) {', '.join(unknown)}; known: {', '.join(SIZES)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def _describe(error: ValidationError, where: str) -> str:
    """pydantic's errors, one clause each, each naming its key: ``deliverables.x.gate: unknown key(s) ...``."""
    clauses = []
    for item in error.errors():
        location = ".".join(str(part) for part in (where, *item["loc"]))
        if item["type"] == "extra_forbidden":
            parent = ".".join(str(part) for part in (where, *item["loc"][:-1]))
            clauses.append(f"{parent}: unknown key(s) {item['loc'][-1]}")
        elif item["type"].endswith("_type"):
            expected = {"dict": "a mapping", "model": "a mapping"}.get(item["type"].removesuffix("_type"))
            expected = expected or item["type"].removesuffix("_type").removesuffix("_parsing")
            clauses.append(f"{location} must be {expected}, got {item['input']!r}")
        else:
            clauses.append(f"{location}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(clauses)


def build(cls: type[Params], values: Any, where: str):
    """``cls`` from a mapping, refusing unknown keys and wrong types with the key's full name."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    try:
        return cls.model_validate(values)
    except ValidationError as error:
        raise ConfigError(_describe(error, where)) from None


def merge(base: dict, override: dict) -> dict:
    """``override`` over ``base``, mappings merged key by key (a model's arguments, say)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_params(params_file: Path) -> tuple[dict, dict[str, dict]]:
    """params.yaml's raw ``defaults`` block and deliverable sections, checked for shape."""
    import yaml

    if not params_file.is_file():
        raise ConfigError(f"parameters file not found: {params_file}")
    raw = yaml.safe_load(params_file.read_text()) or {}
    unknown = sorted(set(raw) - {"defaults", "deliverables"})
    if unknown:
        raise ConfigError(
            f"{params_file}: unknown top-level key(s) {', '.join(unknown)}; known: defaults, deliverables"
        )
    defaults, sections = raw.get("defaults") or {}, raw.get("deliverables") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{params_file}: 'defaults' must be a mapping of parameters every deliverable shares")
    if not isinstance(sections, dict):
        raise ConfigError(f"{params_file}: 'deliverables' must be a mapping of deliverable id to parameters")
    return defaults, {key: value or {} for key, value in sections.items()}


def resolve(defaults: dict, section: dict, where: str, size: str | None = None) -> DeliverableParams:
    """A deliverable's parameters: its section over the defaults, then the named size over both."""
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(section).__name__}")
    merged = merge(defaults, section)
    params = build(DeliverableParams, merged, where)  # checks the sizes block too
    if size in (None, "default"):
        return params
    if size not in SIZES:
        raise ConfigError(f"unknown size {size!r}; known: default, {', '.join(SIZES)}")
    override = params.sizes.get(size)
    if override is None:
        raise ConfigError(f"{where}: has no {size!r} size (known: default, {', '.join(sorted(params.sizes))})")
    return build(DeliverableParams, merge(merged, override), f"{where}.sizes.{size}")


def load_params(params_file: Path, size: str | None = None) -> dict[str, DeliverableParams]:
    """Every deliverable's parameters from params.yaml, at ``size`` (None: the default size)."""
    from s2p import catalog

    defaults, sections = read_params(params_file)
    build(DeliverableParams, defaults, "defaults")
    params = {}
    for deliverable_id, section in sections.items():
        try:
            catalog.get(deliverable_id)
        except catalog.UnknownDeliverable as error:
            raise ConfigError(f"{params_file}: {error}") from None
        params[deliverable_id] = resolve(defaults, section, f"deliverables.{deliverable_id}", size)
    return params


def params_for(params_file: Path, deliverable_id: str, size: str | None = None) -> DeliverableParams:
    defaults, sections = read_params(params_file)
    return resolve(defaults, sections.get(deliverable_id, {}), f"deliverables.{deliverable_id}", size)


def with_overrides(params: DeliverableParams, overrides: dict[str, Any], where: str) -> DeliverableParams:
    """A copy of ``params`` with keys replaced; nested sections (model, gate, ...) are merged key by key."""
    return build(DeliverableParams, merge(params.model_dump(), overrides), where)
