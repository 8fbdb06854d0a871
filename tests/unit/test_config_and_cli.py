"""Typed parameters, the catalog, and a CLI that starts without heavy imports."""

import json
import subprocess
import sys

import pytest

from s2p import catalog
from s2p.config import ConfigError, DeliverableParams, build, load_params
from tests.conftest import ROOT

HEAVY = ("prefect", "mlflow", "feast", "bentoml", "torch", "pandas", "great_expectations", "evidently", "sklearn")


def test_params_yaml_loads_typed():
    params = load_params(ROOT / "params.yaml")
    lr = params["linear_regression"]
    assert isinstance(lr, DeliverableParams)
    assert lr.seed == 42 and lr.model["solver"] == "ols" and lr.gate.min_improvement == 0.0


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"sede": 1}, "deliverables.x: unknown key\\(s\\) sede"),
        ({"seed": "42"}, "seed must be int"),
        ({"test_size": 1.5}, "test_size must lie strictly between 0 and 1"),
        ({"gate": {"min_improvment": 0.1}}, "deliverables.x.gate: unknown key"),
        ({"monitor": {"window": 1.5}}, "monitor.window must be int"),
        ({"model": [1, 2]}, "model must be a mapping"),
    ],
)
def test_bad_params_fail_loudly_naming_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        build(DeliverableParams, section, "deliverables.x")


def test_unknown_deliverable_in_params(tmp_path):
    file = tmp_path / "params.yaml"
    file.write_text("deliverables:\n  linear_regresion: {}\n")
    with pytest.raises(ConfigError, match="unknown deliverable 'linear_regresion'"):
        load_params(file)


def test_catalog_entries_resolve():
    from s2p.imports import import_object
    from s2p.metrics import known_metrics

    ids = [d.id for d in catalog.CATALOG]
    assert len(ids) == len(set(ids))
    for d in catalog.CATALOG:
        assert callable(import_object(d.model)) and callable(import_object(d.reference))
        metrics = known_metrics(d)
        assert set(d.metrics) <= set(metrics) and d.gate.metric in d.metrics
        assert metrics[d.gate.metric][1] == d.gate.greater_is_better


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "s2p.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_list_json_has_the_catalog_fields():
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["id"] for row in rows] == [d.id for d in catalog.CATALOG]
    for key in ("id", "phase", "title", "task", "model", "reference", "metrics"):
        assert key in rows[0]
    table = run_cli("list").stdout
    assert "linear_regression" in table and "sklearn.linear_model:LinearRegression" in table


def test_cli_imports_no_heavy_library_to_start():
    code = f"import sys, s2p.cli; s2p.cli.parser().format_help(); print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_unknown_deliverable_is_one_clear_line():
    result = run_cli("run", "no_such_model")
    assert result.returncode == 1
    assert "unknown deliverable 'no_such_model'" in result.stderr
    assert "Traceback" not in result.stderr


def test_target_without_data_is_refused():
    result = run_cli("run", "linear_regression", "--target", "y")
    assert result.returncode == 1 and "--target only makes sense with --data" in result.stderr


def test_dag_prints_waves_critical_path_and_mermaid():
    result = run_cli("dag", "linear_regression")
    assert result.returncode == 0, result.stderr
    assert "wave 4: linear_regression.train, linear_regression.reference" in result.stdout
    assert "critical path (7 steps): linear_regression.etl -> " in result.stdout
    assert "graph TD" in result.stdout


EVERY = [d.id for d in catalog.CATALOG]
SUPERVISED = [d.id for d in catalog.CATALOG if d.recipe == "supervised"]
FROM_TRAIN = ["train", "reference", "evaluate", "register", "package"]


def all_steps(deliverable_id: str) -> list[str]:
    from pipeline.recipes import recipe_of

    return [step.name for step in recipe_of(catalog.get(deliverable_id)).steps]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # the other recipes' step modules import pipeline/train.py (TrainResult): all their steps follow it
        ("pipeline/train.py", {d: FROM_TRAIN if d in SUPERVISED else all_steps(d) for d in EVERY}),
        ("models/phase1/linear_regression/model.py", {"linear_regression": FROM_TRAIN}),
        # the audit reads its upstream's registry decision, which a gate change rewrites: all its steps follow
        ("defaults.gate.min_improvement", {d: ["evaluate", "register", "package"] for d in EVERY}
         | {"fairness_audit": all_steps("fairness_audit")}),
        ("deliverables.kmeans.model", {"kmeans": FROM_TRAIN}),
        ("defaults.seed", {d: all_steps(d) for d in EVERY}),
        ("serving/service.py", {d: ["package"] for d in EVERY}),
    ],
)  # fmt: skip
def test_impact_lists_the_steps_a_change_reruns(change, expected):
    result = run_cli("impact", change, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_impact_of_an_unrelated_file_is_nothing():
    assert "nothing would rerun" in run_cli("impact", "README.md").stdout


def test_github_workflows_are_valid_and_ci_runs_the_readme_test_command():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    checker = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    result = subprocess.run([*checker, *map(str, workflows)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text() and "make run" in (ROOT / "README.md").read_text()


def test_the_parity_stage_reads_every_deliverables_metrics():
    import yaml

    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["parity"]
    assert {f"artifacts/{d.id}/metrics.json" for d in catalog.CATALOG} <= set(stage["deps"])
