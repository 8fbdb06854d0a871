"""dvc.yaml is generated from the catalog and params.yaml, and each stage depends on exactly its code,
inputs and parameters; the catalog collects one declaration per folder; params have typed defaults and sizes."""

from pathlib import Path

import yaml

from pipeline.dvcgen import generate
from s2p import catalog
from s2p.config import ConfigError, load_params, params_for, resolve
from tests.conftest import ROOT


def stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_dvc_yaml_is_generated_from_the_catalog_and_is_not_stale():
    assert (ROOT / "dvc.yaml").read_text() == generate(ROOT), "dvc.yaml is stale: run `s2p dvc-yaml`"


def test_every_deliverable_has_its_recipes_stages_and_the_parity_stage_reads_their_reports():
    found = stages()
    for d in catalog.deliverables():
        assert f"{d.id}.prepare" in found and f"{d.id}.package" in found
        assert f"artifacts/{d.id}/training.json" in found["parity"]["deps"]


def test_a_stage_depends_on_its_own_folder_and_the_shared_modules_it_imports_only():
    found = stages()
    train = found["linear_regression.train"]["deps"]
    assert "models/phase1/linear_regression/model.py" in train and "models/base.py" in train
    folders = {d.id: str(d.folder.relative_to(ROOT)) + "/" for d in catalog.deliverables()}
    others = [
        dep for dep in train for key, folder in folders.items() if key != "linear_regression" and dep.startswith(folder)
    ]
    assert others == []
    features = [dep for dep in found["linear_regression.features"]["deps"] if dep.startswith("models/")]
    assert all(dep.endswith(("__init__.py", "linear_regression/deliverable.py")) for dep in features), features


def test_editing_the_reference_glue_is_a_dependency_of_train():
    """The old wiring missed it: editing FaissIndex left train@knn_search up to date with a stale model."""
    assert "models/dsa/knn_search/reference.py" in stages()["knn_search.train"]["deps"]
    assert "models/phase1/logistic_regression/reference.py" in stages()["logistic_regression.train"]["deps"]


def test_a_shared_module_is_a_dependency_of_the_deliverables_that_import_it():
    found = stages()
    users = {
        key.partition(".")[0] for key, stage in found.items() if "models/phase2/trainer.py" in stage.get("deps", ())
    }
    assert {"attention", "autoencoder", "gan", "mlp"} <= users and "linear_regression" not in users


def test_stages_read_the_defaults_block_unless_their_section_sets_the_key():
    prepare = stages()["linear_regression.prepare"]["params"]
    assert "defaults.seed" in prepare and "deliverables.linear_regression.size" in prepare
    assert stages()["optimizers.package"]["params"] == ["defaults.serving"]


def test_stage_commands_do_not_need_the_virtualenv_on_path():
    assert all(stage["cmd"].startswith("bin/s2p ") for stage in stages().values())
    assert (ROOT / "bin/s2p").stat().st_mode & 0o111


def test_the_catalog_collects_one_declaration_per_folder():
    found = catalog.deliverables()
    assert len({d.id for d in found}) == len(found)
    for d in found:
        assert d.folder == ROOT.joinpath(*d.package.split(".")) and d.folder.name == d.id
        assert (d.folder / "deliverable.py").is_file()
        assert d.summary()["recipe"] == d.recipe and d.summary()["kind"] == d.answer_kind


def test_params_merge_the_defaults_and_name_sizes(tmp_path):
    params = load_params(ROOT / "params.yaml")
    assert params["mlp"].size == 6000 and params["mlp"].monitor.window == 1000  # from the defaults block
    assert params_for(ROOT / "params.yaml", "mlp", "smoke").size == 600
    long_run = params_for(ROOT / "params.yaml", "seq2seq", "cpu")  # a size only some deliverables have
    assert long_run.size is None and long_run.model["max_epochs"] == 12 == long_run.reference["max_epochs"]
    merged = resolve(
        {"seed": 1, "model": {"a": 1, "b": 2}}, {"model": {"b": 3}, "sizes": {"full": {"model": {"a": 9}}}}, "x", "full"
    )
    assert merged.seed == 1 and merged.model == {"a": 9, "b": 3}


def test_bad_sizes_and_defaults_fail_naming_the_key(tmp_path):
    import pytest

    with pytest.raises(ConfigError, match="x: has no 'full' size"):
        resolve({}, {}, "x", "full")
    with pytest.raises(ConfigError, match=r"deliverables.mlp: has no 'cpu' size \(known: default, full, smoke\)"):
        params_for(ROOT / "params.yaml", "mlp", "cpu")
    with pytest.raises(ConfigError, match="unknown size 'huge'"):
        resolve({}, {"sizes": {"full": {}}}, "x", "huge")
    with pytest.raises(ConfigError, match=r"x.sizes.smoke.model must be a mapping"):
        resolve({}, {"sizes": {"smoke": {"model": 3}}}, "x", "smoke")
    file = tmp_path / "params.yaml"
    file.write_text("defaults:\n  sede: 1\ndeliverables: {}\n")
    with pytest.raises(ConfigError, match="defaults: unknown key\\(s\\) sede"):
        load_params(file)


def test_adding_a_deliverable_touches_its_folder_its_params_section_and_its_test_module_only(tmp_path):
    """In a copy of the repository: a new deliverable (a folder with its declaration, a params section, a
    test module) appears in the catalog and in the regenerated dvc.yaml with its own stages; the only
    other file that changes is dvc.yaml, which is generated."""
    import json
    import shutil
    import subprocess
    import sys

    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in listed.splitlines():
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)
    git = ["git", "-c", "user.email=ci@s2p", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=tmp_path, check=True)

    folder = tmp_path / "models/phase1/ridge_regression"
    folder.mkdir()
    (folder / "__init__.py").write_text('"""Ridge regression (a deliverable added by a test)."""\n')
    (folder / "deliverable.py").write_text(
        "from s2p.catalog import Column, Deliverable, Gate\n"
        "from s2p.columns import diabetes_columns\n\n"
        "DELIVERABLE = Deliverable(\n"
        '    id="ridge_regression", order=13, phase="1", title="Ridge", task="regression",\n'
        '    source="s2p.sources:diabetes", features=diabetes_columns(),\n'
        '    target=Column("progression", "float", 0, 400),\n'
        '    model="models.phase1.linear_regression.model:LinearRegression",\n'
        '    reference="sklearn.linear_model:Ridge", metrics=("rmse",), gate=Gate("rmse", False),\n'
        ")\n"
    )
    with (tmp_path / "params.yaml").open("a") as params:
        params.write("  ridge_regression:\n    model: {solver: ols}\n    reference: {alpha: 0.0}\n")
    (tmp_path / "tests/deliverables/test_ridge_regression.py").write_text("def test_nothing_yet():\n    pass\n")

    env = {"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    run = [sys.executable, "-m", "s2p.cli"]
    assert subprocess.run([*run, "dvc-yaml"], cwd=tmp_path, env=env, capture_output=True).returncode == 0
    listed = json.loads(subprocess.run([*run, "list", "--json"], cwd=tmp_path, env=env, capture_output=True).stdout)
    assert "ridge_regression" in [entry["id"] for entry in listed]
    assert "ridge_regression.train" in yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True).stdout
    changed = sorted(line[3:] for line in status.splitlines())
    assert changed == ["dvc.yaml", "models/phase1/ridge_regression/", "params.yaml",
                       "tests/deliverables/test_ridge_regression.py"]  # fmt: skip
