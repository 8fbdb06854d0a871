"""The environment recipe's steps: an environment factory -> rollouts -> policy training -> evaluation episodes.

    rollouts   the declaration's environment made by its factory (an unknown id stops here, named) and
               episodes of a random policy recorded, one row per step
    validate   Great Expectations on the recorded rollouts: every observation within the space's
               declared bounds (finite stand-ins where gymnasium says infinite), actions in the action
               space, finite rewards; on success they become rollouts.parquet (the drift monitor's
               reference for served observations), on failure the last good rollouts stay
    train      ours and the reference (stable-baselines3) with the same step budget and seed
    evaluate   the mean return over evaluation episodes (same seeds for both), training returns plotted

Register and package are the shared steps; the service takes observations and answers actions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pipeline.artifacts import load_fitted, save_fitted
from pipeline.context import RunContext
from pipeline.evaluate import Evaluation, record_evaluation
from pipeline.train import TrainResult, fit_timed, seed_everything, select_device, side
from pipeline.validate import Failure, ValidationFailed, ValidationReport, accept_candidate, check_frame
from s2p.files import atomic_path, read_json, write_json
from s2p.imports import import_object
from s2p.metrics import compute

ROLLOUT_EPISODES = 50  # random-policy episodes recorded for validation and as the monitor's reference


@dataclass(frozen=True)
class RolloutsResult:
    environment: str
    episodes: int
    steps: int
    observation_size: int

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.episodes} random-policy episodes of {self.environment}: {self.steps} steps recorded"


def _factory(ctx: RunContext, name: str):
    """A function of the declaration's environment module (``source`` names its factory, ``make_env``;
    beside it ``record_rollouts``, ``observation_bounds`` and ``evaluate_policy``)."""
    return import_object(f"{ctx.deliverable.source.partition(':')[0]}:{name}")


def _candidate(ctx: RunContext):
    return ctx.paths.data / "candidate_rollouts.parquet"


def record(ctx: RunContext) -> RolloutsResult:
    env_id = ctx.deliverable.environment
    try:
        _factory(ctx, "make_env")(env_id).close()
    except ValueError as error:  # an id gymnasium does not know: a validation stop, named
        report = ValidationReport(False, 0, 1, [Failure("environment_exists", None, None, str(error))])
        write_json(ctx.paths.failed_validation_report, report.to_dict())
        raise ValidationFailed(report, str(ctx.paths.failed_validation_report)) from None
    frame = _factory(ctx, "record_rollouts")(env_id, None, ROLLOUT_EPISODES, seed=ctx.params.seed)
    with atomic_path(_candidate(ctx)) as temporary:
        frame.to_parquet(temporary, index=False)
    size = sum(column.startswith("obs_") for column in frame.columns)
    return RolloutsResult(env_id, ROLLOUT_EPISODES, len(frame), size)


def rollout_expectations(low: np.ndarray, high: np.ndarray, actions: int) -> list:
    import great_expectations.expectations as E

    bounds = [
        E.ExpectColumnValuesToBeBetween(column=f"obs_{i}", min_value=float(lo), max_value=float(hi))
        for i, (lo, hi) in enumerate(zip(low, high, strict=True))
    ]
    return [
        E.ExpectTableRowCountToBeBetween(min_value=ROLLOUT_EPISODES),
        *bounds,
        E.ExpectColumnValuesToBeBetween(column="action", min_value=0, max_value=actions - 1),
        E.ExpectColumnValuesToBeBetween(column="reward", min_value=-1e6, max_value=1e6),  # finite
    ]


def validate_rollouts(ctx: RunContext) -> ValidationReport:
    import pandas as pd

    env_id = ctx.deliverable.environment
    low, high = _factory(ctx, "observation_bounds")(env_id)
    env = _factory(ctx, "make_env")(env_id)
    actions = int(env.action_space.n)
    env.close()
    frame = pd.read_parquet(_candidate(ctx))
    report = check_frame(frame, ctx.deliverable.id, rollout_expectations(low, high, actions))
    accept_candidate(ctx, report, _candidate(ctx), ctx.paths.rollouts, ctx.paths.data / "rejected_rollouts.parquet")
    observations = frame[[c for c in frame.columns if c.startswith("obs_")]].to_numpy()
    requests = pd.DataFrame({"observation": list(observations)})  # as the action kind logs a request
    with atomic_path(ctx.paths.reference_requests) as temporary:  # what served observations are compared with
        requests.to_parquet(temporary, index=False)
    return report


def _fit(ctx: RunContext, who: str) -> TrainResult:
    seed_everything(ctx.params.seed, uses_torch=True)
    device = select_device(uses_torch=True)
    chosen = side(ctx, who)
    extra = {"device": chosen.params.get("device", device)}
    estimator, elapsed = fit_timed(ctx, chosen, lambda agent: agent.fit(ctx.deliverable.environment), extra)
    save_fitted(estimator, chosen.pickle_path, chosen.directory)
    returns = [float(r) for r in estimator.episode_returns_]
    result = TrainResult(
        estimator=chosen.import_path,
        device=str(getattr(estimator, "device_", device)),
        fit_seconds=elapsed,
        epochs=len(returns),  # training episodes
        resumed_from_epoch=0,
        final_loss=None,
        loss_history=[float(loss) for loss in getattr(estimator, "loss_history_", [])][-2000:],
        samples_per_second=getattr(estimator, "steps_per_second_", None),  # environment steps
    )
    write_json(chosen.report, result.to_dict() | {"episode_returns": returns})
    return result


def train_policy(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "ours")


def train_reference_policy(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "reference")


def evaluate_policies(ctx: RunContext) -> Evaluation:
    from pipeline.plots import PlotData, draw

    d, paths = ctx.deliverable, ctx.paths
    models = {
        "ours": load_fitted(paths.model, paths.model_dir),
        "reference": load_fitted(paths.reference_model, paths.reference_dir),
    }
    episodes = {"env_id": d.environment, "seed": ctx.params.seed + 1000}  # evaluation seeds unseen in training
    scores = {name: compute(d.metrics, None, None, episodes, model, d) for name, model in models.items()}
    reports = {"ours": read_json(paths.training_report), "reference": read_json(paths.reference_report)}
    data = PlotData(d, None, None, None, None, models, {}, reports["ours"]["loss_history"], ctx.params.seed, reports)
    return record_evaluation(ctx, scores, 20, draw(d.plots, data, paths.plots))
