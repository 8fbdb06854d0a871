"""`dvc repro` end to end in a temporary copy of the repository: the second repro is a no-op and a
change to one parameter reruns only the stages that read it. One deliverable's stages (and the
parity stage's own test in test_catalog) keep this in minutes; every stage is alike."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, store_variables

pytestmark = pytest.mark.slow


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    )
    return [line for line in listed.stdout.splitlines() if line and (ROOT / line).is_file()]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    copy = tmp_path_factory.mktemp("repo")
    for name in tracked_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    git = ["git", "-c", "user.email=ci@s2p", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q"], cwd=copy, check=True)
    subprocess.run([*git, "add", "-A"], cwd=copy, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=copy, check=True)
    (copy / ".venv").symlink_to(Path(sys.executable).parents[1])  # as `make install` leaves a clone
    return copy


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run_in(repo, ".venv/bin/dvc", *args)  # as README shows it


def s2p(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run_in(repo, ".venv/bin/s2p", *args)


def repo_env(repo: Path) -> dict:
    """Stores inside the copy, data and artifacts where dvc.yaml declares them. PATH is left without
    the virtualenv, as a user's shell is: README's `.venv/bin/dvc repro` must work as written."""
    env = {k: v for k, v in os.environ.items() if k not in ("S2P_ROOT", "S2P_DATA_DIR", "S2P_ARTIFACTS_DIR")}
    stores = store_variables(repo / ".s2p")
    del stores["S2P_DATA_DIR"], stores["S2P_ARTIFACTS_DIR"]
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(part for part in env["PATH"].split(os.pathsep) if part != venv_bin)
    return {**env, **stores, "PATH": path, "BENTOML_HOME": str(repo / ".s2p" / "bentoml")}


def run_in(repo: Path, *command: str) -> subprocess.CompletedProcess:
    env = repo_env(repo)
    return subprocess.run(list(command), cwd=repo, env=env, capture_output=True, text=True)


STAGES = [f"linear_regression.{stage}" for stage in ("prepare", "features", "train", "evaluate", "package")]


def test_repro_builds_everything_then_is_a_no_op(repo):
    first = dvc(repo, "repro", *STAGES)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    metrics = json.loads((repo / "artifacts/linear_regression/metrics.json").read_text())
    assert metrics["ours"]["rmse"] == pytest.approx(metrics["reference"]["rmse"], rel=1e-3)
    assert json.loads((repo / "artifacts/linear_regression/bento.json").read_text())["tag"]
    assert (repo / "artifacts/linear_regression/plots/residuals.png").stat().st_size > 0

    second = dvc(repo, "repro", *STAGES)
    assert second.returncode == 0
    assert "Data and pipelines are up to date" in second.stdout
    shown = dvc(repo, "metrics", "show", "--json")
    assert "linear_regression" in shown.stdout


def test_a_model_parameter_change_reruns_training_but_not_data_preparation(repo):
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("learning_rate: 0.2", "learning_rate: 0.15"))
    status = dvc(repo, "status", "--json", *STAGES)
    changed = set(json.loads(status.stdout))
    assert "linear_regression.train" in changed
    assert not {"linear_regression.prepare", "linear_regression.features"} & changed
    rerun = dvc(repo, "repro", *STAGES)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Stage 'linear_regression.prepare' didn't change, skipping" in rerun.stdout
    assert "Running stage 'linear_regression.train'" in rerun.stdout


def test_the_flow_skips_what_dvc_holds_up_to_date_and_leaves_dvc_up_to_date(repo):
    cached = s2p(repo, "run", "linear_regression", "--json")
    assert cached.returncode == 0, cached.stderr[-3000:]
    assert cached.stdout.lstrip().startswith("{"), cached.stdout[:1500]
    summary = json.loads(cached.stdout)
    assert set(summary["steps"].values()) == {"cached"}
    assert "up to date" in summary["notes"]["train"]

    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("learning_rate: 0.15", "learning_rate: 0.18"))
    second = s2p(repo, "run", "linear_regression", "--json")
    assert second.returncode == 0, second.stderr[-3000:]
    rerun = json.loads(second.stdout)
    assert {step: rerun["steps"][step] for step in ("etl", "validate", "features")} == dict.fromkeys(
        ("etl", "validate", "features"), "cached"
    )
    assert rerun["steps"]["train"] == rerun["steps"]["reference"] == "completed"
    status = dvc(repo, "status", *STAGES)
    assert "Data and pipelines are up to date" in status.stdout, status.stdout


def test_a_killed_dvc_repro_reruns_cleanly(repo):
    import signal
    import time

    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("learning_rate: 0.18", "learning_rate: 0.19"))
    env = repo_env(repo)
    process = subprocess.Popen(
        [".venv/bin/dvc", "repro", *STAGES],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(4)  # inside a stage
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    rerun = dvc(repo, "repro", *STAGES)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "Data and pipelines are up to date" in dvc(repo, "status", *STAGES).stdout
    assert json.loads((repo / "artifacts/linear_regression/metrics.json").read_text())["ours"]["rmse"] > 0


WIRED = [f"logistic_regression.{stage}" for stage in ("prepare", "features", "train", "evaluate", "package")]


def test_an_edit_to_one_deliverables_model_reruns_that_deliverable_only(repo):
    built = dvc(repo, "repro", *STAGES, *WIRED)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    model = repo / "models/phase1/linear_regression/model.py"
    model.write_text(model.read_text() + "# a comment\n")
    changed = set(json.loads(dvc(repo, "status", "--json", *STAGES, *WIRED).stdout))
    assert changed == {f"linear_regression.{stage}" for stage in ("train", "evaluate", "package")}


def test_an_edit_to_the_reference_glue_reruns_its_train(repo):
    glue = repo / "models/phase1/logistic_regression/reference.py"
    glue.write_text(glue.read_text() + "# a comment\n")
    changed = set(json.loads(dvc(repo, "status", "--json", *WIRED).stdout))
    assert "logistic_regression.train" in changed
    assert not {"logistic_regression.prepare", "logistic_regression.features"} & changed
