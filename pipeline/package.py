"""package: the registry's champion into the BentoML model store, and a bento around it.

The build context is generated beside the run's artifacts: the generic service (serving/), the
deliverable's serving schema (s2p_service.json), the models package the pickle needs, and a
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
from s2p.files import write_json, write_pickle

SERVICE = "serving.service:Predictor"


@dataclass(frozen=True)
class BentoInfo:
    tag: str
    model_tag: str
    model_version: str
    build_context: str
    reused: bool

    def to_dict(self) -> dict:
        return asdict(self)


def serving_spec(ctx: RunContext, model_tag: str, model_version: str, challenger: dict | None) -> dict:
    d = ctx.deliverable
    return {
        "bento_name": ctx.model_name,
        "run_key": ctx.run_key,
        "deliverable": d.id,
        "task": d.task,
        "features": [asdict(column) for column in d.features],
        "target": asdict(d.target),
        "model_tag": model_tag,
        "model_version": model_version,
        "inference_db": str(ctx.stores.inference_db),
        "serving": ctx.params.serving.model_dump(),
        "challenger": challenger,
    }


def write_build_context(ctx: RunContext, spec: dict) -> Path:
    import yaml

    source = Path(__file__).resolve().parents[1]
    build = ctx.paths.bento_build
    shutil.rmtree(build, ignore_errors=True)
    (build / "serving").mkdir(parents=True)
    for module in ("__init__.py", "service.py", "inference_log.py"):
        shutil.copy2(source / "serving" / module, build / "serving" / module)
    shutil.copytree(source / "models", build / "models", ignore=shutil.ignore_patterns("__pycache__"))
    write_json(build / "serving" / "s2p_service.json", spec)
    bentofile = {
        "service": SERVICE,
        "name": spec["bento_name"],
        "labels": {
            "deliverable": spec["deliverable"],
            "model_version": spec["model_version"],
            "model_tag": spec["model_tag"],
        },
        "include": ["serving/*.py", "serving/s2p_service.json", "models/**/*.py"],
        "python": {"packages": ["numpy", "scikit-learn", "pandas", "pydantic"], "lock_packages": False},
    }
    (build / "bentofile.yaml").write_text(yaml.safe_dump(bentofile, sort_keys=False))
    return build


def run_package(ctx: RunContext) -> BentoInfo:
    os.environ["BENTOML_HOME"] = str(ctx.stores.bentoml_home)
    import bentoml
    import mlflow

    from pipeline.registry import CHAMPION, mlflow_client

    client = mlflow_client(ctx.stores)
    champion = client.get_model_version_by_alias(ctx.model_name, CHAMPION)
    challenger = _challenger(client, ctx, champion) if ctx.params.serving.mode != "single" else None
    identity = "|".join(
        [champion.run_id, challenger.run_id if challenger else "", str(ctx.params.serving), _code_digest()]
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
    spec = serving_spec(ctx, str(saved.tag), str(champion.version), challenger_spec)
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
    model = mlflow.sklearn.load_model(f"models:/{ctx.model_name}/{version.version}")
    labels = {"deliverable": ctx.deliverable.id, "mlflow_version": str(version.version)}
    with bentoml.models.create(ctx.model_name, labels=labels, metadata={"mlflow_run_id": version.run_id}) as saved:
        write_pickle(Path(saved.path_of("model.pkl")), model)
    return saved


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


def _code_digest() -> str:
    """The code a bento packs (serving/ and models/): a change to it means a new bento."""
    from scheduler.cache import file_digest

    source = Path(__file__).resolve().parents[1]
    return file_digest(source / "serving")[:12] + file_digest(source / "models")[:12]


def _identity(bento) -> str | None:
    """What a bento serves (champion run, challenger run, serving settings), from its packed spec."""
    import json

    spec = Path(bento.path) / "src" / "serving" / "s2p_service.json"
    return json.loads(spec.read_text()).get("identity") if spec.exists() else None
