"""Typed parameters, read once from params.yaml at the edge and passed down.

Unknown keys and wrong types fail loudly, naming the offending key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """params.yaml (or a --set override) does not fit the typed configuration."""


@dataclass(frozen=True)
class GateParams:
    min_improvement: float = 0.0  # how much better than the champion a challenger must be


@dataclass(frozen=True)
class MonitorParams:
    window: int = 1000  # the newest inference-log rows compared with the training reference
    min_rows: int = 30  # fewer logged rows than this is not enough traffic to judge drift
    drift_share: float = 0.5  # dataset drift when at least this share of columns drifted
    quality_tolerance: float = 0.2  # quality drift when the gate metric on labeled traffic is this much worse
    retrain_on_drift: bool = True  # the monitoring flow starts retraining when it finds drift


@dataclass(frozen=True)
class ServingParams:
    mode: str = "single"  # single | shadow (challenger mirrored, logged only) | canary
    canary_fraction: float = 0.1  # share of requests a canary challenger answers
    workers: int = 2  # worker processes of `bentoml serve` (one per core of this 2-core machine)
    access_log: bool = False  # BentoML's line per request; the inference log already records each one
    metrics: bool = True  # BentoML's Prometheus /metrics (request counts, latency histograms)
    # OpenTelemetry spans per request, for BentoML's tracing exporter (its `tracing` config). Off, the
    # SDK is disabled in the server: BentoML's default samples no request yet builds every span.
    tracing: bool = False

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"serving.workers must be at least 1, got {self.workers}")
        if self.mode not in ("single", "shadow", "canary"):
            raise ConfigError(f"serving.mode must be single, shadow or canary, got {self.mode!r}")
        if not 0.0 <= self.canary_fraction <= 1.0:
            raise ConfigError(f"serving.canary_fraction must lie in [0, 1], got {self.canary_fraction}")


@dataclass(frozen=True)
class ScheduleParams:
    retrain: str = "0 3 * * 0"  # cron (UTC): the deployment's retraining schedule
    monitor: str = "0 * * * *"  # cron (UTC): the deployment's monitoring schedule


@dataclass(frozen=True)
class DeliverableParams:
    seed: int = 42
    test_size: float = 0.2
    size: int | None = None  # rows to keep from the source (None: all)
    checkpoint_every: int = 100  # epochs between checkpoints of epoch-trained models
    model: dict[str, Any] = field(default_factory=dict)  # the estimator's constructor arguments
    reference: dict[str, Any] = field(default_factory=dict)
    gate: GateParams = field(default_factory=GateParams)
    monitor: MonitorParams = field(default_factory=MonitorParams)
    serving: ServingParams = field(default_factory=ServingParams)
    schedule: ScheduleParams = field(default_factory=ScheduleParams)

    def __post_init__(self) -> None:
        if not 0.0 < self.test_size < 1.0:
            raise ConfigError(f"test_size must lie strictly between 0 and 1, got {self.test_size}")
        if self.size is not None and self.size < 2:
            raise ConfigError(f"size must be at least 2 rows (or null for all), got {self.size}")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be at least 1, got {self.checkpoint_every}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _coerce(value, inner, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ConfigError(f"{where} must be {hint.__name__}, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {hint}")


def build(cls: type, values: Any, where: str):
    """Construct dataclass ``cls`` from a mapping, refusing unknown keys and wrong types."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    kwargs = {key: _coerce(value, hints[key], f"{where}.{key}") for key, value in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def load_params(params_file: Path) -> dict[str, DeliverableParams]:
    """Every deliverable's parameters from params.yaml (the ``deliverables`` mapping)."""
    import yaml

    from s2p import catalog

    if not params_file.is_file():
        raise ConfigError(f"parameters file not found: {params_file}")
    raw = yaml.safe_load(params_file.read_text()) or {}
    sections = raw.get("deliverables") or {}
    if not isinstance(sections, dict):
        raise ConfigError(f"{params_file}: 'deliverables' must be a mapping of deliverable id to parameters")
    params = {}
    for deliverable_id, section in sections.items():
        try:
            catalog.get(deliverable_id)
        except catalog.UnknownDeliverable as error:
            raise ConfigError(f"{params_file}: {error}") from None
        params[deliverable_id] = build(DeliverableParams, section, f"deliverables.{deliverable_id}")
    return params


def params_for(params_file: Path, deliverable_id: str) -> DeliverableParams:
    return load_params(params_file).get(deliverable_id, DeliverableParams())


def with_overrides(params: DeliverableParams, overrides: dict[str, Any], where: str) -> DeliverableParams:
    """A copy of ``params`` with keys replaced; nested sections (model, gate, ...) are merged key by key."""
    merged = dataclasses.asdict(params)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merged[key] | value
        else:
            merged[key] = value
    return build(DeliverableParams, merged, where)
