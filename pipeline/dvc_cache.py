"""Content-hash skipping for flows, decided by DVC itself, so `s2p run` and `dvc repro` agree.

A step is up to date when DVC's status of its stage is clean (deps, params and outs match
dvc.lock) and no step upstream of it ran in this flow. When the last step of a stage succeeds, the
stage is committed to dvc.lock exactly as `dvc repro` would have recorded it: a `dvc repro` after
`s2p run` has nothing to do, and the other way round.

Every DVC call parses dvc.yaml and dvc.lock, which grow with the catalog (35 deliverables: 7,000 and
22,000 lines; 2 s a status question, 5 s a commit, measured). So DVC is asked once per flow, for all
its stages at once, and finished stages are committed in batches by a background thread, every
``COMMIT_EVERY`` seconds and when the flow ends: 173 commits one by one held the flow's scheduler
for about 10 minutes of a 48-minute `make run`. A flow killed meanwhile loses at most the last
batch's records; those stages simply run again next time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.context import RunContext
from scheduler.executor import Step

COMMIT_EVERY = 20.0  # seconds between two batches of dvc.lock records


def why_not_cached(ctx: RunContext) -> str | None:
    """Why DVC cannot decide for this run (None when it can): DVC only knows the repository's own
    outputs of params.yaml's runs."""
    stores = ctx.stores
    if ctx.user_data is not None:
        return "a user's data file is not a DVC stage"
    if not (stores.root / ".dvc").is_dir() or not (stores.root / "dvc.yaml").is_file():
        return f"no DVC repository at {stores.root}"
    if stores.data != stores.root / "data" or stores.artifacts != stores.root / "artifacts":
        return "data or artifacts moved away from the paths dvc.yaml declares"
    return None


class DvcStageCache:
    """The scheduler's cache (scheduler.executor.Cache) for the steps of one flow, by their DVC stages.
    Steps of the groups in ``groups`` only; any other step always runs. Use as a context manager: the
    last records are written when it closes."""

    def __init__(self, root: Path, steps: Iterable[Step], groups: Iterable[str], logger=None):
        self.root = root
        self.logger = logger or logging.getLogger(__name__)
        chosen = set(groups)
        self._steps: dict[str, set[str]] = {}  # stage -> the names of its steps
        for step in steps:
            if step.group in chosen and step.stage:
                self._steps.setdefault(step.stage, set()).add(step.name)
        self._status: dict[str, tuple[bool, str]] | None = None  # stage -> (up to date, why), once asked
        self._ran: set[str] = set()  # steps that ran (not cached) in this flow
        self._done: dict[str, set[str]] = {}
        self._pending: list[str] = []  # finished stages not yet in dvc.lock
        self._lock = threading.Lock()  # guards the fields above
        self._dvc = threading.Lock()  # one DVC call at a time
        self._closing = threading.Event()
        self._writer = threading.Thread(target=self._write_periodically, name="dvc.lock writer", daemon=True)

    def __enter__(self) -> DvcStageCache:
        self._writer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        self._writer.join()
        self._write_pending()

    def lookup(self, step: Step, kwargs: dict[str, Any]) -> tuple[bool, Any, str]:
        """Whether the step need not run: its stage is up to date per DVC and none of its upstreams ran."""
        if step.stage not in self._steps or step.name not in self._steps[step.stage]:
            return False, None, "no cache"
        status = self._statuses()
        with self._lock:
            ran = [name for name in step.upstreams() if name in self._ran]
        if ran:
            return False, None, f"upstream {ran[0]} ran in this flow"
        fresh, why = status[step.stage]
        return fresh, None, why

    def record(self, step: Step, kwargs: dict[str, Any], result: Any) -> None:
        """The step ran and succeeded; its stage is queued for dvc.lock once all its steps did."""
        with self._lock:
            self._ran.add(step.name)
            names = self._steps.get(step.stage)
            if names is None or step.name not in names:
                return
            done = self._done.setdefault(step.stage, set())
            done.add(step.name)
            if done == names:
                self._pending.append(step.stage)

    def _statuses(self) -> dict[str, tuple[bool, str]]:
        with self._dvc:
            if self._status is None:
                self._status = self._ask(sorted(self._steps))
            return self._status

    def _ask(self, stages: list[str]) -> dict[str, tuple[bool, str]]:
        """DVC's status of each stage, from one reading of dvc.yaml and dvc.lock."""
        from dvc.repo import Repo, lock_repo

        answers = {}
        try:
            with Repo(str(self.root)) as repo, lock_repo(repo):
                known = {stage.addressing: stage for stage in repo.index.stages}
                for name in stages:
                    if name not in known:
                        answers[name] = (False, f"DVC does not know the stage {name}")
                        continue
                    status = known[name].status(check_updates=True)
                    answers[name] = (False, f"DVC: {status[name]}") if status else (True, f"DVC: {name} is up to date")
        except Exception as error:  # an unreadable dvc.yaml or dvc.lock: run everything
            return {name: (False, f"DVC cannot tell ({error})") for name in stages}
        return answers

    def _write_periodically(self) -> None:
        while not self._closing.wait(COMMIT_EVERY):
            self._write_pending()

    def _write_pending(self) -> None:
        with self._lock:
            stages, self._pending = self._pending, []
        if not stages:
            return
        with self._dvc:
            self._commit(stages)

    def _commit(self, stages: list[str]) -> None:
        """Record the stages in dvc.lock as `dvc commit --force` would, reading and writing it once. A
        stage DVC cannot record (an output it declares is missing) is logged; `dvc repro` reruns it."""
        from dvc.repo import Repo, lock_repo

        try:
            with Repo(str(self.root)) as repo, lock_repo(repo):
                known = {stage.addressing: stage for stage in repo.index.stages}
                saved = []
                for name in stages:
                    try:
                        known[name].save()
                        known[name].commit(relink=True)
                        saved.append(known[name])
                    except Exception as error:
                        self.logger.warning("%s: not recorded in dvc.lock (%s)", name, error)
                by_file: dict[Any, list] = {}
                for stage in saved:
                    by_file.setdefault(stage.dvcfile, []).append(stage)
                for dvcfile, group in by_file.items():
                    dvcfile.dump_stages(group, update_pipeline=False)
        except Exception as error:
            self.logger.warning("%s: not recorded in dvc.lock (%s)", ", ".join(stages), error)
