"""Content-hash skipping for flows, decided by DVC itself, so `s2p run` and `dvc repro` agree.

A step is up to date when DVC's status of its stage is clean (deps, params and outs match
dvc.lock). When the last step of a stage succeeds, the stage is committed to dvc.lock, exactly
as `dvc repro` would have recorded it: a `dvc repro` after `s2p run` has nothing to do, and the
other way round.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pipeline.context import RunContext
from pipeline.stages import stage_address, stages
from scheduler.executor import Step


class DvcStageCache:
    def __init__(self, root: Path, deliverable):
        self.root = root
        self._lock = threading.Lock()
        self._steps = {stage_address(deliverable.id, stage): set(names) for stage, names in stages(deliverable).items()}
        self._done: dict[str, set[str]] = {}

    @classmethod
    def for_context(cls, ctx: RunContext, overridden: bool) -> tuple[DvcStageCache | None, str]:
        """The cache, or None and why: DVC only knows the repository's own outputs of params.yaml's runs."""
        stores = ctx.stores
        if overridden:
            return None, "parameters overridden on the command line"
        if ctx.user_data is not None:
            return None, "a user's data file is not a DVC stage"
        if not (stores.root / ".dvc").is_dir() or not (stores.root / "dvc.yaml").is_file():
            return None, f"no DVC repository at {stores.root}"
        if stores.data != stores.root / "data" or stores.artifacts != stores.root / "artifacts":
            return None, "data or artifacts moved away from the paths dvc.yaml declares"
        return cls(stores.root, ctx.deliverable), "DVC"

    def _repo(self):
        from dvc.repo import Repo

        return Repo(str(self.root))

    def lookup(self, step: Step, kwargs: dict[str, Any]) -> tuple[bool, Any, str]:
        with self._lock, self._repo() as repo:
            try:
                status = repo.status(targets=[step.stage], with_deps=False)
            except Exception as error:  # a stage DVC does not know: run it
                return False, None, f"DVC cannot tell ({error})"
        if status:
            return False, None, f"DVC: {status[step.stage]}"
        return True, None, f"DVC: {step.stage} is up to date"

    def record(self, step: Step, kwargs: dict[str, Any], result: Any) -> None:
        """Commit the stage to dvc.lock once all its steps (train and reference run in parallel) succeeded."""
        with self._lock:
            done = self._done.setdefault(step.stage, set())
            done.add(step.name.rpartition(".")[2])
            if done != self._steps[step.stage]:
                return
            with self._repo() as repo:
                repo.commit(step.stage, force=True)
