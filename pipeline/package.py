"""package: the registry's champion into the BentoML model store, and a bento around it.

The build context is generated beside the run's artifacts: the generic service (serving/*.py: the
service, the answer kinds, the inference log, model loading), the deliverable's serving spec
(s2p_service.json: its answer kind and what that kind reads, ``kind_spec``), the model's code
closure (its own files and the shared modules they import, nothing of other deliverables), and a
bentofile.yaml, so `bentoml build` there reproduces the bento. A bento already built for the
current champion version is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.context import RunContext
from s2p.backends import hidden_password
from s2p.files import read_json, write_json

SERVICE = "serving.service:Predictor"
SERVICE_MODULES = ("serving.service", "serving.inference_log")


@dataclass(frozen=True)
class BentoInfo:
    tag: str | None  # None: no champion yet (the gate refused every version), nothing packaged
    model_tag: str | None
    model_version: str | None
    build_context: str
    reused: bool
    note: str = ""

    def describe(self) -> str:
        return self.note or f"bento {self.tag} ({'reused' if self.reused else 'built'})"

    def to_dict(self) -> dict:
        return asdict(self)


def kind_spec(ctx: RunContext) -> dict:
    """What the deliverable's answer kind reads from s2p_service.json besides its columns
    (serving/kinds.py): ``kind``, and per kind ``generation`` (``max_new_tokens``,
    ``max_prompt_chars``, ``vocab_size``), ``observation`` (``size``, ``low``, ``high``; None or an
    infinity: unbounded) or ``retrieval`` (``max_k``, ``max_query_chars``); each has a default but
    ``observation.size``. How the model loads (``model_format``, ``model_loader``) is ``model_format``'s."""
    from serving.kinds import KINDS

    d = ctx.deliverable
    return {"kind": d.answer_kind, **KINDS[d.answer_kind].declared([asdict(column) for column in d.features])}


def check_slo(ctx: RunContext) -> None:
    """A quality floor the deliverable's answers cannot be judged by is refused before packaging."""
    from s2p.config import ConfigError

    slo, task = ctx.params.serving.slo, ctx.deliverable.task
    if slo.max_label_mae is not None and task != "regression":
        raise ConfigError(f"serving.slo.max_label_mae judges a regression's labels; {ctx.deliverable.id} is {task}")
    if slo.min_label_accuracy is not None and task != "classification":
        raise ConfigError(
            f"serving.slo.min_label_accuracy judges a classification's labels; {ctx.deliverable.id} is {task}"
        )


def serving_spec(ctx: RunContext, model_tag: str, model_version: str, challenger: dict | None) -> dict:
    d = ctx.deliverable
    check_slo(ctx)
    return {
        **kind_spec(ctx),
        "bento_name": ctx.model_name,
        "run_key": ctx.run_key,
        "deliverable": d.id,
        "task": d.task,
        "features": [asdict(column) for column in d.features],
        "target": asdict(d.target) if d.target else None,
        "explains": d.explains,
        "model_tag": model_tag,
        "model_version": model_version,
        # a server's password stays out of the bento: the service takes the URL from S2P_INFERENCE_DB
        "inference_db": hidden_password(str(ctx.stores.inference_db)),
        "serving": ctx.params.serving.model_dump(),
        "challenger": challenger,
    }


def write_build_context(ctx: RunContext, spec: dict) -> Path:
    import yaml

    source = Path(__file__).resolve().parents[1]
    build = ctx.paths.bento_build
    shutil.rmtree(build, ignore_errors=True)
    (build / "serving").mkdir(parents=True)
    for module in sorted((source / "serving").glob("*.py")):  # the service, its kinds, log and loading
        shutil.copy2(module, build / "serving" / module.name)
    # the inference log's Alembic revisions: the service creates or upgrades the log's schema on start
    shutil.copytree(source / "serving" / "migrations", build / "serving" / "migrations", ignore=_NOT_SOURCE)
    for path in code_closure(ctx.deliverable):  # the model's own code and the shared modules it imports
        relative = path.relative_to(source)
        if relative.parts[0] != "serving":
            (build / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, build / relative)
    write_json(build / "serving" / "s2p_service.json", spec)
    bentofile = {
        "service": SERVICE,
        "name": spec["bento_name"],
        "labels": {
            "deliverable": spec["deliverable"],
            "model_version": spec["model_version"],
            "model_tag": spec["model_tag"],
        },
        "include": ["serving/*.py", "serving/s2p_service.json", "serving/migrations/**", "models/**/*.py"],
        "python": {"packages": bento_requirements(ctx.deliverable), "lock_packages": False},
    }
    (build / "bentofile.yaml").write_text(yaml.safe_dump(bentofile, sort_keys=False))
    return build


_NOT_SOURCE = shutil.ignore_patterns("__pycache__", "*.pyc")


def run_package(ctx: RunContext) -> BentoInfo:
    os.environ["BENTOML_HOME"] = str(ctx.stores.bentoml_home)
    import bentoml
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipeline.registry import CHAMPION, mlflow_client

    client = mlflow_client(ctx.stores)
    try:
        champion = client.get_model_version_by_alias(ctx.model_name, CHAMPION)
    except MlflowException:  # the gate refused every version so far: nothing to serve, and no error
        reason = (
            read_json(ctx.paths.registry_decision).get("reason", "") if ctx.paths.registry_decision.exists() else ""
        )
        info = BentoInfo(
            None, None, None, str(ctx.paths.bento_build), reused=False, note=f"no champion to package ({reason})"
        )
        write_json(ctx.paths.bento, info.to_dict())
        return info
    challenger = _challenger(client, ctx, champion) if ctx.params.serving.mode != "single" else None
    identity = "|".join(
        [
            champion.run_id,
            challenger.run_id if challenger else "",
            str(ctx.params.serving),
            code_digest(ctx.deliverable),
        ]
    )
    existing = find_bento(bentoml, ctx.model_name, identity)
    if existing is not None:
        info = BentoInfo(
            str(existing.tag),
            existing.info.labels.get("model_tag", ""),
            str(champion.version),
            str(ctx.paths.bento_build),
            reused=True,
        )
        write_json(ctx.paths.bento, info.to_dict())
        return info
    saved = _to_bento_model(bentoml, mlflow, ctx, champion)
    challenger_spec = None
    if challenger is not None:
        challenger_saved = _to_bento_model(bentoml, mlflow, ctx, challenger)
        challenger_spec = {"tag": str(challenger_saved.tag), "version": str(challenger.version)}
    spec = serving_spec(ctx, str(saved.tag), str(champion.version), challenger_spec) | model_format(saved)
    spec["identity"] = identity
    build = write_build_context(ctx, spec)
    tag = build_bento(build)
    info = BentoInfo(tag, str(saved.tag), str(champion.version), str(build), reused=False)
    write_json(ctx.paths.bento, info.to_dict())
    return info


def _challenger(client, ctx: RunContext, champion):
    """The newest registered version after the champion (the one shadowed or canaried), if any."""
    versions = client.search_model_versions(f"name = '{ctx.model_name}'")
    newer = [v for v in versions if int(v.version) > int(champion.version)]
    return max(newer, key=lambda v: int(v.version)) if newer else None


def _to_bento_model(bentoml, mlflow, ctx: RunContext, version):
    """The registered version into the BentoML model store: its stored files as they are (a state dict
    and config, ``model/``), or the pickle MLflow holds (``model.pkl``)."""
    from pipeline.artifacts import save_fitted, saves_itself
    from pipeline.registry import load_registered

    model = load_registered(ctx.model_name, str(version.version))
    labels = {"deliverable": ctx.deliverable.id, "mlflow_version": str(version.version)}
    metadata = {"mlflow_run_id": version.run_id, "format": "directory" if saves_itself(model) else "pickle"}
    with bentoml.models.create(ctx.model_name, labels=labels, metadata=metadata) as saved:
        save_fitted(model, Path(saved.path_of("model.pkl")), Path(saved.path_of("model")))
    return saved


def model_format(saved) -> dict:
    """How the service loads a BentoML model written by ``_to_bento_model``."""
    from pipeline.artifacts import stored_loader

    loader = stored_loader(Path(saved.path_of("model")))
    return {"model_format": "directory", "model_loader": loader} if loader else {"model_format": "pickle"}


def build_bento(build: Path) -> str:
    """`bentoml build` in the build context, in its own process: the service module it imports must
    be the one in the context, not a `serving` package this process may already have imported."""
    bentoml_cli = Path(sys.executable).with_name("bentoml")
    command = [str(bentoml_cli) if bentoml_cli.exists() else "bentoml", "build", "--output", "tag", "."]
    done = subprocess.run(command, cwd=build, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"bentoml build failed in {build}:\n{done.stderr[-2000:]}")
    tags = [line.removeprefix("__tag__:") for line in done.stdout.splitlines() if line.startswith("__tag__:")]
    if not tags:
        raise RuntimeError(f"bentoml build printed no tag:\n{done.stdout[-2000:]}")
    return tags[-1]


def find_bento(bentoml, name: str, identity: str):
    """The newest bento already built for these models and serving settings, if any."""
    try:
        bentos = bentoml.bentos.list(name)
    except bentoml.exceptions.NotFound:
        return None
    built = [b for b in bentos if _identity(b) == identity]
    return max(built, key=lambda b: b.info.creation_time) if built else None


def served_modules(deliverable) -> list[str]:
    """What the bento imports: the service, the model's code (the class the champion is), what its
    recipe serves it with (a TextGenerator) and the declaration's tokenizer."""
    from pipeline.recipes import recipe_of
    from s2p.closure import module_of

    tokenizer = [module_of(deliverable.tokenizer)] if deliverable.tokenizer else []
    return [*SERVICE_MODULES, module_of(deliverable.model), *recipe_of(deliverable).served_modules, *tokenizer]


def code_closure(deliverable) -> list[Path]:
    """The project files the bento packs: the service and the model's code closure, nothing else."""
    from s2p.closure import closure

    return sorted(closure(served_modules(deliverable)))


def bento_requirements(deliverable) -> list[str]:
    """The packages the bento's code imports, pinned as installed here (torch for a torch model)."""
    from s2p.closure import requirements

    return [r for r in requirements(served_modules(deliverable)) if not r.lower().startswith("bentoml==")]


def code_digest(deliverable) -> str:
    """A digest of the code the bento packs: an edit to another deliverable's code is not a new bento."""
    import hashlib

    source = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    migrations = sorted((source / "serving" / "migrations").rglob("*.py"))  # packed with the service
    for path in [*code_closure(deliverable), *migrations]:
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def _identity(bento) -> str | None:
    """What a bento serves (champion run, challenger run, serving settings), from its packed spec."""
    import json

    spec = Path(bento.path) / "src" / "serving" / "s2p_service.json"
    return json.loads(spec.read_text()).get("identity") if spec.exists() else None
