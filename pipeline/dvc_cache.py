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
        self._known: dict[str, tuple[bool, str]] = {}  # stage -> (up to date, why), once asked
        self._stale = ""  # the first stage of this deliverable found out of date, once one is

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
        """Whether DVC holds the step's stage up to date. DVC is asked once per stage, and not at all
        once an earlier stage of the deliverable is out of date (its stages form a chain, so that one
        reruns and this one reads what it writes): on a fresh clone one question a deliverable instead
        of one a step, each of which parses dvc.yaml and dvc.lock."""
        with self._lock:
            if step.stage not in self._known:
                self._known[step.stage] = self._ask(step.stage)
                if not self._known[step.stage][0] and not self._stale:
                    self._stale = step.stage
            fresh, why = self._known[step.stage]
        return fresh, None, why

    def _ask(self, stage: str) -> tuple[bool, str]:
        if self._stale:
            return False, f"{self._stale} is out of date and runs before it"
        with self._repo() as repo:
            try:
                status = repo.status(targets=[stage], with_deps=False)
            except Exception as error:  # a stage DVC does not know: run it
                return False, f"DVC cannot tell ({error})"
        if status:
            return False, f"DVC: {status[stage]}"
        return True, f"DVC: {stage} is up to date"

    def record(self, step: Step, kwargs: dict[str, Any], result: Any) -> None:
        """Commit the stage to dvc.lock once all its steps (train and reference run in parallel) succeeded."""
        with self._lock:
            done = self._done.setdefault(step.stage, set())
            done.add(step.name.rpartition(".")[2])
            if done != self._steps[step.stage]:
                return
            with self._repo() as repo:
                repo.commit(step.stage, force=True)
