"""The shape of a deliverable's pipeline: its recipe's steps (pipeline/recipes.py), their DVC stages,
and what a change to a file or a params key reruns.

The Prefect flows, `s2p stage` (what dvc.yaml calls), `s2p dag` and `s2p impact` all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.recipes import recipe_of


def stage_address(deliverable_id: str, stage: str) -> str:
    """A deliverable's DVC stage in the generated dvc.yaml: ``linear_regression.train``."""
    return f"{deliverable_id}.{stage}"


def stages(deliverable) -> dict[str, tuple[str, ...]]:
    """DVC stage name -> the steps it runs, in order, for ``deliverable``'s recipe."""
    return recipe_of(deliverable).stages()


def step_name(deliverable_id: str, step: str, qualified: bool) -> str:
    return f"{deliverable_id}.{step}" if qualified else step


def step_edges(deliverables, qualified: bool = True) -> list[tuple[str, str]]:
    """Edges between the steps of ``deliverables`` (catalog entries), cross-deliverable ones included."""
    selected = {d.id for d in deliverables}
    edges = []
    for d in deliverables:
        for step in recipe_of(d).steps:
            edges += [(step_name(d.id, u, qualified), step_name(d.id, step.name, qualified)) for u in step.upstreams]
        for upstream in d.depends_on:  # after the upstream's model is registered (its data preparation earlier)
            if upstream in selected:
                edges.append((f"{upstream}.register", f"{d.id}.{recipe_of(d).waits_for_upstream}"))
    return edges


def step_dag(deliverables, qualified: bool = True):
    from scheduler import DAG

    dag = DAG()
    for d in deliverables:
        for step in recipe_of(d).steps:
            dag.add_node(step_name(d.id, step.name, qualified), deliverable=d.id, stage=step.stage)
    for upstream, downstream in step_edges(deliverables, qualified):
        dag.add_edge(upstream, downstream)
    return dag


@dataclass(frozen=True)
class DvcStage:
    address: str  # e.g. linear_regression.train
    name: str
    key: str
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]


def dvc_stages(root: Path) -> list[DvcStage]:
    """dvc.yaml's stages with foreach resolved, read through DVC itself."""
    from dvc.repo import Repo

    found = []
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            key, _, name = stage.addressing.rpartition(".")
            deps, params = [], []
            for dep in stage.deps:
                if hasattr(dep, "params"):
                    params += list(dep.params)
                else:
                    deps.append(str(dep.def_path))
            outs = tuple(str(out.def_path) for out in stage.outs)
            found.append(DvcStage(stage.addressing, name, key, tuple(deps), tuple(params), outs))
    return found


def _touches_path(changed: str, declared: str) -> bool:
    changed, declared = changed.strip("/"), declared.strip("/")
    return changed == declared or changed.startswith(declared + "/") or declared.startswith(changed + "/")


def _touches_param(changed: str, declared: str) -> bool:
    return changed == declared or declared.startswith(changed + ".") or changed.startswith(declared + ".")


def impact(root: Path, changed: str) -> dict[str, list[str]]:
    """Deliverable -> the steps a change to ``changed`` (a repo path or a params.yaml key) reruns."""
    dvc = dvc_stages(root)
    path = Path(changed)
    relative = str(path.resolve().relative_to(root)) if path.is_absolute() or path.exists() else changed
    direct = {
        s.address
        for s in dvc
        if any(_touches_path(relative, dep) for dep in s.deps) or any(_touches_param(changed, p) for p in s.params)
    }
    if relative == "params.yaml":
        direct |= {s.address for s in dvc if s.params}
    by_address = {s.address: s for s in dvc}
    affected = set(direct)
    frontier = list(direct)
    while frontier:  # downstream stages: those whose deps are this stage's outs
        current = by_address[frontier.pop()]
        for other in dvc:
            if other.address not in affected and any(_touches_path(o, d) for o in current.outs for d in other.deps):
                affected.add(other.address)
                frontier.append(other.address)
    from s2p import catalog

    result: dict[str, list[str]] = {}
    for stage in dvc:
        if stage.address in affected and stage.key:  # the parity stage over all of them follows any change
            steps_of = stages(catalog.get(stage.key))
            result.setdefault(stage.key, []).extend(steps_of.get(stage.name, (stage.name,)))
    return {key: sorted(names, key=_rank(key)) for key, names in result.items()}


def _rank(deliverable_id: str):
    from s2p import catalog

    order = [step.name for step in recipe_of(catalog.get(deliverable_id)).steps]
    return lambda name: order.index(name) if name in order else len(order)


def changes_since(root: Path, ref: str) -> list[str]:
    """Files changed since git ``ref`` (working tree included), params.yaml as the keys that changed."""
    import subprocess

    import yaml

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise ValueError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    files = [line for line in git("diff", "--name-only", ref).splitlines() if line]
    if "params.yaml" not in files:
        return files
    before = yaml.safe_load(git("show", f"{ref}:params.yaml")) or {}
    after = yaml.safe_load((root / "params.yaml").read_text()) or {}
    keys = sorted(_changed_keys(before, after))
    return [f for f in files if f != "params.yaml"] + keys


def _changed_keys(before, after, prefix: str = "") -> set[str]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return {prefix.rstrip(".")} if before != after else set()
    changed = set()
    for key in set(before) | set(after):
        changed |= _changed_keys(before.get(key), after.get(key), f"{prefix}{key}.")
    return changed


def impact_since(root: Path, ref: str) -> dict[str, list[str]]:
    """Deliverable -> steps that the changes since ``ref`` rerun (what CI runs on a pull request)."""
    merged: dict[str, set[str]] = {}
    for change in changes_since(root, ref):
        for key, names in impact(root, change).items():
            merged.setdefault(key, set()).update(names)
    return {key: sorted(names, key=_rank(key)) for key, names in sorted(merged.items())}
