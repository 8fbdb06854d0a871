"""register: log the run to MLflow, register the model, and move `champion` only when it wins.

The challenger and the current champion are scored on the same held-out split; the alias moves
when the challenger beats the champion on the catalog's gate metric by more than the margin in
params.yaml (the first version becomes champion) and meets the gate's absolute threshold if any.
The decision and its reason are logged on the run and the model version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from pipeline import kinds
from pipeline.artifacts import load_fitted, stored_loader
from pipeline.context import RunContext
from pipeline.evaluate import Evaluation
from pipeline.train import split_xy
from s2p import metrics as metric_functions
from s2p import telemetry
from s2p.files import file_lock, read_json, read_pickle, write_json
from s2p.paths import Stores
from s2p.tenancy import experiment_name

CHAMPION = "champion"


@dataclass(frozen=True)
class RegistryDecision:
    tracking_uri: str
    experiment: str
    run_id: str
    model_name: str
    version: str
    champion_version: str
    previous_champion: str | None
    promoted: bool
    reason: str
    gate_metric: str
    challenger_score: float
    champion_score: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def mlflow_client(stores: Stores):
    """An MLflow client on ``stores``' tracking URI. A SQLite store is created (schema migrations)
    under an inter-process lock: two runs opening a new database at once would both migrate it.
    A server (postgresql://, http://) is first asked whether it answers (s2p.backends): a clear
    error naming it rather than a stack trace; PostgreSQL migrates under its own advisory lock."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = stores.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    if not uri.startswith("sqlite:///"):
        from s2p.backends import Backend, require

        if "://" in uri and not uri.startswith("file:"):
            require(Backend("MLflow tracking store", uri))
        if uri.startswith("postgresql"):
            return _migrated_postgres_client(uri)
        return MlflowClient(uri)
    database = Path(uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(database.with_name(database.name + ".lock")):
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)  # tracking store: creates and migrates the schema
        client.search_registered_models(max_results=1)  # model registry store: the same
    return client


def _migrated_postgres_client(uri: str):
    """MlflowClient on PostgreSQL: the first client creates the schema (MLflow's Alembic migrations),
    one process at a time (an advisory lock), as the lock file does for SQLite."""
    from mlflow.tracking import MlflowClient

    from s2p.backends import advisory_lock

    with advisory_lock(uri, "s2p mlflow schema"):
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    return client


def tracking(ctx: RunContext):
    """An MLflow client on this run's tracking store, and the deliverable's experiment id."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(ctx.stores)
    name = experiment_name(ctx.run_key, ctx.stores.tenant)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client, client.create_experiment(name, artifact_location=ctx.stores.mlflow_artifacts)
        except MlflowException:  # created meanwhile by a concurrent run
            experiment = client.get_experiment_by_name(name)
    return client, experiment.experiment_id


def load_registered(model_name: str, reference: str):
    """A registered model (``reference``: a version number or ``@alias``) as it was fitted: a
    directory-stored model through its loader (torch state dicts and config), a pickle through MLflow."""
    import mlflow

    uri = f"models:/{model_name}{reference if reference.startswith('@') else '/' + reference}"
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    stored = local / "artifacts" / "model"
    if stored_loader(stored):
        return load_fitted(stored / "model.pkl", stored)
    return mlflow.sklearn.load_model(str(local))


def champion_score(ctx: RunContext, client) -> tuple[str | None, float | None, str]:
    """The current champion's version and gate score (None if no champion): scored on this run's
    held-out data where the recipe can score a model on it, else its logged gate metric."""
    from pipeline.recipes import recipe_of

    gate = ctx.deliverable.gate
    version = champion_version(client, ctx.model_name)
    if version is None:
        return None, None, "no champion yet"
    logged = client.get_run(version.run_id).data.metrics.get(f"ours_{gate.metric}")
    if not recipe_of(ctx.deliverable).scores_on_held_out_rows:
        return version.version, logged, f"its logged {gate.metric} on the same held-out data"
    try:
        frame = pd.read_parquet(ctx.paths.training_set)
        X, y = split_xy(frame, ctx.deliverable, "test")
        champion = load_registered(ctx.model_name, f"@{CHAMPION}")
        outputs = kinds.outputs(ctx.deliverable, champion, X)
        score = metric_functions.compute([gate.metric], y, outputs, X, champion, ctx.deliverable)[gate.metric]
        return version.version, score, "scored on this held-out split"
    except Exception as error:  # a champion that cannot score this data is judged by its logged metric
        return version.version, logged, f"its logged {gate.metric} (cannot score this split: {error})"


def decide(ctx: RunContext, challenger: float, champion_version, champion: float | None, basis: str, scores=None):
    """Whether the challenger becomes champion, and why: the gate's limits and bar first, then the champion."""
    promoted, reason = _decide(ctx, challenger, champion_version, champion, basis, scores or {})
    gate = ctx.deliverable.gate
    within = [
        f"{name} {scores[name]:.4g} within [{low}, {high}]" for name, low, high in gate.limits if name in (scores or {})
    ]
    if gate.threshold is not None and promoted:
        within.insert(0, f"{gate.metric} {challenger:.4g} meets the threshold {gate.threshold}")
    return promoted, f"{reason}; {', '.join(within)}" if within and promoted else reason


def _decide(ctx: RunContext, challenger: float, champion_version, champion: float | None, basis: str, scores: dict):
    gate, margin = ctx.deliverable.gate, ctx.params.gate.min_improvement
    metric = gate.metric
    breached = gate.breached(scores)
    if breached:
        return False, "; ".join(breached)
    if not gate.passes_threshold(challenger):
        bar = ">=" if gate.greater_is_better else "<="
        return False, f"{metric} {challenger:.6g} misses the threshold ({bar} {gate.threshold})"
    if champion_version is None:
        return True, f"first version: no champion yet ({metric} {challenger:.6g})"
    if champion is None:
        return True, f"champion v{champion_version} has no {metric} to compare with"
    if gate.better(challenger, champion, margin):
        return True, f"{metric} {challenger:.6g} beats champion v{champion_version} {champion:.6g} ({basis})"
    return False, (
        f"{metric} {challenger:.6g} does not beat champion v{champion_version} {champion:.6g} "
        f"by more than {margin} ({basis})"
    )


def log_loss_curves(client, run_id: str, ctx: RunContext) -> None:
    """Each model's training loss per epoch as an MLflow metric history (the loss curve)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    for who, report in (("ours", ctx.paths.training_report), ("reference", ctx.paths.reference_report)):
        history = read_json(report).get("loss_history") or []
        metrics = [Metric(f"{who}_train_loss", float(loss), now, step) for step, loss in enumerate(history)]
        for start in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics per batch
            client.log_batch(run_id, metrics=metrics[start : start + 1000])


#: Tags of a registration's writes: its inputs' content key (on the run and the version), the decision
#: as JSON (on the version, written before the alias moves) and, on an attempt that never finished,
#: what the next attempt did with it.
REGISTRATION_TAG = "s2p.registration"
DECISION_TAG = "s2p.decision"
SETTLED_TAG = "s2p.settled"


def run_register(ctx: RunContext) -> RegistryDecision:
    """Log the run, register its version and move `champion` when it wins, idempotently: the run is
    marked FINISHED last, once its version, the decision and the alias are written; an attempt lost
    before that (a backend gone mid-step) is settled by the next attempt at the same registration (a
    Prefect retry or a rerun: the same registration_key) before it writes anything (settle_unfinished)."""
    from s2p.backends import named_when_lost, serving

    evaluation = Evaluation(**read_json(ctx.paths.metrics))
    key = registration_key(ctx)
    with named_when_lost(*serving(ctx.stores, "MLflow")):
        client, experiment_id = tracking(ctx)
        decision = settle_unfinished(client, experiment_id, ctx.model_name, key)
        if decision is None:
            decision = register_once(ctx, client, experiment_id, key, evaluation)
    write_json(ctx.paths.registry_decision, decision.to_dict())
    return decision


def register_once(ctx: RunContext, client, experiment_id: str, key: str, evaluation: Evaluation) -> RegistryDecision:
    """One attempt: judge the challenger, log a run (tagged with ``key``), register one version of it,
    tag the decision on the version, move the alias; leaving the run's block marks it FINISHED."""
    import mlflow

    d = ctx.deliverable
    previous, champion, basis = champion_score(ctx, client)
    challenger = evaluation.ours[d.gate.metric]
    promoted, reason = decide(ctx, challenger, previous, champion, basis, evaluation.ours)
    tags = {REGISTRATION_TAG: key, "s2p.deliverable": d.id, "s2p.promoted": str(promoted), "s2p.reason": reason}
    with mlflow.start_run(experiment_id=experiment_id, run_name=ctx.run_key, tags=tags) as run:
        mlflow.log_params(_flat_params(ctx))
        mlflow.log_metrics({f"ours_{k}": v for k, v in evaluation.ours.items()})
        mlflow.log_metrics({f"reference_{k}": v for k, v in evaluation.reference.items()})
        mlflow.log_metrics({f"fit_seconds_{k}": v for k, v in evaluation.fit_seconds.items()})
        log_loss_curves(client, run.info.run_id, ctx)
        for plot in evaluation.plots:
            mlflow.log_artifact(plot, artifact_path="plots")
        for report in (ctx.paths.validation_report, ctx.paths.training_report, ctx.paths.metrics):
            mlflow.log_artifact(str(report), artifact_path="reports")
        info = log_fitted_model(ctx)
        version = register_version(client, ctx.model_name, run.info.run_id, info.model_uri)
        decision = RegistryDecision(
            tracking_uri=ctx.stores.mlflow_tracking_uri,
            experiment=experiment_name(ctx.run_key, ctx.stores.tenant),
            run_id=run.info.run_id,
            model_name=ctx.model_name,
            version=version,
            champion_version=version if promoted else str(previous),
            previous_champion=previous,
            promoted=promoted,
            reason=reason,
            gate_metric=d.gate.metric,
            challenger_score=challenger,
            champion_score=champion,
        )
        version_tags = {"promoted": str(promoted), "reason": reason, "gate_metric": d.gate.metric}
        version_tags |= {REGISTRATION_TAG: key, DECISION_TAG: json.dumps(decision.to_dict())}
        for name, value in version_tags.items():
            client.set_model_version_tag(ctx.model_name, version, name, value)
        if promoted:
            move_champion(
                client,
                ctx.model_name,
                to_version=version,
                reason=reason,
                metrics={"before": champion, "after": challenger, "metric": d.gate.metric},
                run_id=run.info.run_id,
            )
    return decision


def registration_key(ctx: RunContext) -> str:
    """What identifies one registration across retries and reruns: the run key, the evaluation and
    the fitted model's bytes (a retrained model is a new registration; the same one is not)."""
    digest = hashlib.sha256(ctx.run_key.encode())
    stored = stored_loader(ctx.paths.model_dir)
    files = sorted(p for p in ctx.paths.model_dir.rglob("*") if p.is_file()) if stored else [ctx.paths.model]
    for path in (ctx.paths.metrics, *files):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def register_version(client, model_name: str, run_id: str, model_uri: str) -> str:
    """The one version of ``model_name`` registered from run ``run_id``. A create the client retried
    after a 5xx answer may have landed twice (docs/registry_at_scale.md): the versions of this run
    beyond the first are deleted, so the run keys exactly one version."""
    import mlflow

    mlflow.register_model(model_uri, model_name)
    versions = sorted(_versions_of_run(client, model_name, run_id), key=lambda v: int(v.version))
    if not versions:
        raise RuntimeError(f"MLflow registered {model_name} from run {run_id} but lists no version of that run")
    for duplicate in versions[1:]:
        client.delete_model_version(model_name, duplicate.version)
    return str(versions[0].version)


def _versions_of_run(client, model_name: str, run_id: str) -> list:
    quoted = model_name.replace("'", "\\'")
    return client.search_model_versions(f"name = '{quoted}' and run_id = '{run_id}'")


def settle_unfinished(client, experiment_id: str, model_name: str, key: str) -> RegistryDecision | None:
    """Attempts at registration ``key`` that never finished (their run is RUNNING or FAILED: a backend
    was lost mid-step). One whose version holds `champion` had written everything but its run's end:
    it is completed (its champion move recorded if that was lost too, its run FINISHED) and its
    decision returned. The others' versions are deleted (a version nobody promoted is not left as if
    registered), their runs marked FAILED and tagged; None then: the caller registers afresh."""
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{REGISTRATION_TAG}` = '{key}'")
    current = champion_version(client, model_name)
    champion = None if current is None else str(current.version)
    for run in runs:
        if run.info.status == "FINISHED" or SETTLED_TAG in run.data.tags:
            continue
        run_id = run.info.run_id
        versions = _versions_of_run(client, model_name, run_id)
        if champion is not None and any(str(version.version) == champion for version in versions):
            return _complete(client, model_name, run_id, champion)
        for version in versions:
            client.delete_model_version(model_name, version.version)
        deleted = ", ".join(f"v{version.version}" for version in versions) or "no version"
        client.set_tag(
            run_id, SETTLED_TAG, f"abandoned after a lost backend ({deleted} deleted); a later attempt registers afresh"
        )
        client.set_terminated(run_id, "FAILED")
    return None


def _complete(client, model_name: str, run_id: str, version: str) -> RegistryDecision:
    """An attempt whose ``version`` holds `champion` but whose run never ended: its decision (the
    version's tag), its champion move recorded unless it already is, its run FINISHED."""
    decision = RegistryDecision(**json.loads(client.get_model_version(model_name, version).tags[DECISION_TAG]))
    history = champion_history(client, model_name)
    if not any(move["to_version"] == version and move["run_id"] == run_id for move in history):
        metrics = {
            "before": decision.champion_score,
            "after": decision.challenger_score,
            "metric": decision.gate_metric,
        }
        _record_move(client, model_name, decision.previous_champion, version, decision.reason, metrics, run_id)
    client.set_tag(run_id, SETTLED_TAG, "completed: its version held champion; only the run's end was lost")
    client.set_terminated(run_id, "FINISHED")
    return decision


def model_requirements(ctx: RunContext) -> list[str]:
    """The pinned packages the model's code imports (torch for a torch model), from its code closure."""
    from pipeline.package import served_modules
    from s2p.closure import requirements

    return requirements([module for module in served_modules(ctx.deliverable) if not module.startswith("serving.")])


def _stored_pyfunc():
    import mlflow.pyfunc

    class Stored(mlflow.pyfunc.PythonModel):
        """A model stored as files (loader.json, a safetensors state dict, its config): pyfunc loads it
        through its own loader; predict answers what the model's predict (or act, or generate_text) does."""

        def load_context(self, context):
            path = Path(context.artifacts["model"])
            self.model = load_fitted(path / "model.pkl", path)

        def predict(self, context, model_input, params=None):
            for method in ("predict", "act"):
                if hasattr(self.model, method):
                    return getattr(self.model, method)(model_input)
            return [self.model.generate_text(str(prompt)) for prompt in list(model_input)]

    return Stored()


def log_fitted_model(ctx: RunContext):
    """Log ours to the run: a pickle for the NumPy / scikit-learn estimators, the stored files (state
    dict and config, no pickled modules) for the models that save themselves; real requirements."""
    import mlflow

    d, requirements = ctx.deliverable, model_requirements(ctx)
    if stored_loader(ctx.paths.model_dir):
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=_stored_pyfunc(),
            artifacts={"model": str(ctx.paths.model_dir)},
            pip_requirements=requirements,
        )
    example = None
    if ctx.paths.training_set.exists() and not d.tensor_columns and d.features:
        X, _ = split_xy(pd.read_parquet(ctx.paths.training_set), d, "test")
        example = pd.DataFrame(X[:2], columns=d.feature_names)
    return mlflow.sklearn.log_model(
        read_pickle(ctx.paths.model),
        name="model",
        serialization_format="pickle",
        pip_requirements=requirements,
        input_example=example,
    )


HISTORY_PREFIX = "s2p.champion_move."


def move_champion(client, model_name: str, to_version: str, reason: str, metrics: dict, run_id: str | None) -> dict:
    """Point `champion` at ``to_version`` and record the move on the registered model (a tag each):
    when, from which version to which, why, the gate metric before and after, and the run."""
    champion = champion_version(client, model_name)
    previous = None if champion is None else str(champion.version)
    client.set_registered_model_alias(model_name, CHAMPION, to_version)
    return _record_move(client, model_name, previous, to_version, reason, metrics, run_id)


def _record_move(client, model_name: str, previous, to_version: str, reason: str, metrics: dict, run_id) -> dict:
    import time

    move = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "from_version": previous,
        "to_version": to_version,
        "reason": reason,
        "metrics": metrics,
        "run_id": run_id,
        "run_link": f"runs:/{run_id}" if run_id else None,
    }
    count = len(champion_history(client, model_name))
    client.set_registered_model_tag(model_name, f"{HISTORY_PREFIX}{count:05d}", json.dumps(move))
    telemetry.champion_moved(model_name, move)
    return move


def champion_version(client, model_name: str):
    """The model version `champion` points at, None if none does (or no such model). A store that
    failed to answer raises: "no champion" must not be read into a lost connection."""
    from mlflow.exceptions import MlflowException

    from s2p.backends import transient

    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as error:
        if transient(error):
            raise
        return None


def champion_history(client, model_name: str) -> list[dict]:
    """Every recorded move of the `champion` alias, oldest first."""
    tags = client.get_registered_model(model_name).tags
    return [json.loads(tags[key]) for key in sorted(tags) if key.startswith(HISTORY_PREFIX)]


def rollback(client, model_name: str) -> dict:
    """Move `champion` back to the version it held before its last move (recorded like any move)."""
    history = champion_history(client, model_name)
    if not history:
        raise ValueError(f"{model_name} has no recorded champion moves to roll back")
    last = history[-1]
    if last["from_version"] is None:
        raise ValueError(f"{model_name}: v{last['to_version']} was the first champion; there is nothing before it")
    return move_champion(
        client,
        model_name,
        to_version=last["from_version"],
        reason=f"rollback from v{last['to_version']} (which became champion at {last['at']}: {last['reason']})",
        metrics={"rolled_back_version": last["to_version"]},
        run_id=None,
    )


def _flat_params(ctx: RunContext) -> dict[str, str]:
    params = ctx.params.model_dump(exclude={"sizes"})
    flat = {key: value for key, value in params.items() if not isinstance(value, dict)}
    for section in ("model", "reference", "gate", "monitor"):
        flat.update({f"{section}.{key}": value for key, value in params[section].items()})
    flat["data"] = ctx.deliverable.source
    return {key: json.dumps(value) if not isinstance(value, str) else value for key, value in flat.items()}
