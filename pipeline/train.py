"""train: our model and the reference, each fitted on the same training split.

Epoch-trained models (models.base.EpochTrainable) are driven here with a progress bar and a
checkpoint every ``checkpoint_every`` epochs; a rerun after a crash resumes from it. Torch models
run on the best device present (cuda > mps > cpu).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.context import RunContext
from s2p.config import ConfigError
from s2p.files import read_pickle, write_json, write_pickle
from s2p.imports import import_object


@dataclass(frozen=True)
class TrainResult:
    estimator: str
    device: str
    fit_seconds: float
    epochs: int
    resumed_from_epoch: int
    final_loss: float | None
    loss_history: list[float] = field(default_factory=list)
    samples_per_second: float | None = None  # training rows x epochs / fit seconds, for epoch-trained models

    def to_dict(self) -> dict:
        return asdict(self)


def select_device(uses_torch: bool) -> str:
    """cuda > mps > cpu for torch models; NumPy models run on the CPU."""
    if not uses_torch:
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def seed_everything(seed: int, uses_torch: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    if uses_torch:
        import torch

        torch.manual_seed(seed)


def build_estimator(import_path: str, params: dict[str, Any], seed: int, where: str):
    """Instantiate ``import_path`` with ``params``, refusing parameters it does not take."""
    cls = import_object(import_path)
    signature = inspect.signature(cls).parameters
    accepted = set(signature)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())  # a factory
    unknown = [] if takes_any else sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(f"{where}: {cls.__name__} has no parameter(s) {unknown}; it takes {sorted(accepted)}")
    if "random_state" in accepted and "random_state" not in params:
        params = {**params, "random_state": seed}
    return cls(**params)


def split_xy(frame: pd.DataFrame, deliverable, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Features as the model reads them and the target in its declared type (pipeline/kinds.py)."""
    from pipeline import kinds

    part = frame[frame["split"] == split]
    return kinds.inputs(deliverable, part), kinds.targets(deliverable, part)


def fingerprint(estimator, X: np.ndarray, y: np.ndarray) -> str:
    """Identifies a training job: hyperparameters and data. A checkpoint resumes only the same job."""
    digest = hashlib.sha256(json.dumps(estimator.get_params(), sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()


def fit_epochs(estimator, X, y, *, checkpoint, every: int, progress: bool = True) -> tuple[Any, int]:
    """Drive an EpochTrainable estimator epoch by epoch; returns it and the epoch it resumed from."""
    from tqdm.auto import tqdm

    job = fingerprint(estimator, X, y)
    resumed = 0
    saved = read_pickle(checkpoint) if checkpoint.exists() else None
    if saved is not None and saved["fingerprint"] == job:
        estimator, rng = saved["estimator"], saved["rng"]
        resumed = len(estimator.loss_history_)
    else:
        rng = np.random.default_rng(estimator.random_state)
        estimator._init_state(X, y)
    bar = tqdm(
        total=estimator.max_epochs,
        initial=resumed,
        desc="train",
        unit="epoch",
        mininterval=0.5,
        disable=None if progress else True,  # None: shown on a terminal only
    )
    converged = resumed > 0 and estimator._converged()
    while not converged and len(estimator.loss_history_) < estimator.max_epochs:
        estimator._epoch(X, y, rng)
        converged = estimator._converged()
        epoch = len(estimator.loss_history_)
        bar.update(1)
        if epoch % every == 0:
            bar.set_postfix(loss=f"{estimator.loss_history_[-1]:.4g}")
            write_pickle(checkpoint, {"fingerprint": job, "estimator": estimator, "rng": rng})
    bar.close()
    estimator._finish()
    return estimator, resumed


def throughput(rows: int, epochs: int, seconds: float) -> float | None:
    """Training samples per second over the epochs run here (None for a model without epochs)."""
    return rows * epochs / seconds if epochs > 0 and seconds > 0 else None


def train_model(ctx: RunContext, progress: bool = True) -> TrainResult:
    """Fit our model on the training split; writes the model and a training report."""
    from models.base import EpochTrainable

    d = ctx.deliverable
    uses_torch = d.framework == "torch"
    seed_everything(ctx.params.seed, uses_torch)
    device = select_device(uses_torch)
    frame = pd.read_parquet(ctx.paths.training_set)
    X, y = split_xy(frame, d, "train")
    params = dict(ctx.params.model)
    if uses_torch:
        params.setdefault("device", device)
    estimator = build_estimator(d.model, params, ctx.params.seed, f"deliverables.{d.id}.model")
    started = time.perf_counter()
    resumed = 0
    if isinstance(estimator, EpochTrainable) and estimator._trains_in_epochs():
        estimator, resumed = fit_epochs(
            estimator, X, y, checkpoint=ctx.paths.checkpoint, every=ctx.params.checkpoint_every, progress=progress
        )
    else:
        estimator.fit(X, y)
    elapsed = time.perf_counter() - started
    write_pickle(ctx.paths.model, estimator)
    ctx.paths.checkpoint.unlink(missing_ok=True)
    history = [float(loss) for loss in getattr(estimator, "loss_history_", [])]
    result = TrainResult(
        estimator=d.model,
        device=device,
        fit_seconds=elapsed,
        epochs=len(history),
        resumed_from_epoch=resumed,
        final_loss=history[-1] if history else None,
        loss_history=history,
        samples_per_second=throughput(len(X), len(history) - resumed, elapsed),
    )
    write_json(ctx.paths.training_report, result.to_dict())
    return result


def fit_reference(ctx: RunContext) -> TrainResult:
    """Fit the reference implementation on the same training split."""
    d = ctx.deliverable
    frame = pd.read_parquet(ctx.paths.training_set)
    X, y = split_xy(frame, d, "train")
    reference = build_estimator(
        d.reference, dict(ctx.params.reference), ctx.params.seed, f"deliverables.{d.id}.reference"
    )
    started = time.perf_counter()
    reference.fit(X, y)
    elapsed = time.perf_counter() - started
    write_pickle(ctx.paths.reference_model, reference)
    history = [float(loss) for loss in getattr(reference, "loss_history_", [])]  # a torch reference's epochs
    device = getattr(reference, "device_", "cpu")
    result = TrainResult(
        d.reference, device, elapsed, len(history), 0, history[-1] if history else None, history,
        throughput(len(X), len(history), elapsed),
    )  # fmt: skip
    write_json(ctx.paths.reference_report, result.to_dict())
    return result


@dataclass(frozen=True)
class Side:
    """One of the two models a run fits, ours or the reference: what to build and where it goes."""

    who: str  # "ours" | "reference"
    import_path: str
    params: dict
    where: str  # the params.yaml key, for error messages
    pickle_path: Any
    directory: Any
    report: Any


def side(ctx: RunContext, who: str) -> Side:
    d, paths = ctx.deliverable, ctx.paths
    if who == "ours":
        return Side(who, d.model, dict(ctx.params.model), f"deliverables.{d.id}.model", paths.model, paths.model_dir,
                    paths.training_report)  # fmt: skip
    return Side(who, d.reference, dict(ctx.params.reference), f"deliverables.{d.id}.reference",
                paths.reference_model, paths.reference_dir, paths.reference_report)  # fmt: skip


def fit_timed(ctx: RunContext, chosen: Side, fit, extra: dict | None = None):
    """Build ``chosen``'s estimator (``extra`` over its params), run ``fit(estimator)`` and time it."""
    estimator = build_estimator(chosen.import_path, {**chosen.params, **(extra or {})}, ctx.params.seed, chosen.where)
    started = time.perf_counter()
    fit(estimator)
    return estimator, time.perf_counter() - started
