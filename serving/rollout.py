"""Deployment state of a served bento: which colour is live (blue-green) and whether its canary still
runs, shared by every worker of one `bentoml serve` through one JSON file, and the canary's SLO watch.

- ``DeploymentState``: the file ``<deployment_dir>/<run key>.json``. A change (a
  switch, a rollback) is a read-modify-write under an flock, written to a temporary sibling and
  renamed over the file, so a reader sees the old state or the new one, never half of either. A
  worker checks the file's identity (inode, mtime, size) on each request (one ``stat``, ~1 us) and rereads
  it only when it changed: a switch or a rollback reaches every worker at its next request.
- ``CanaryWatch``: the canary's newest ``window`` outcomes in one worker and the SLO they are judged
  by (an error budget, a p95 latency); ``label_breach`` judges the canary's delayed labels.

Pure standard library: the bento packs this file with the service, nothing of ``s2p``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

COLOURS = ("blue", "green")  # blue: the champion, green: the challenger the bento packs beside it
ACTIVE, ROLLED_BACK = "active", "rolled_back"
MAX_EVENTS = 200  # the state keeps the newest events (switches, rollbacks, starts)


def deployment_dir(inference_db: Path | str) -> Path:
    """Where deployment states live: $S2P_DEPLOYMENT_DIR, else ``deployments/`` beside the inference log
    (a file), else, when the log is a database server's URL, ``s2p-deployments/`` in $BENTOML_HOME. The
    state is one host's: the workers of one `bentoml serve` share it (docs/deployment.md)."""
    if os.environ.get("S2P_DEPLOYMENT_DIR"):
        return Path(os.environ["S2P_DEPLOYMENT_DIR"])
    if "://" in str(inference_db):
        return Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml") / "s2p-deployments"
    return Path(inference_db).parent / "deployments"


def state_path(folder: Path | str, run_key: str) -> Path:
    return Path(folder) / f"{run_key}.json"


@dataclass(frozen=True)
class Slo:
    """When a canary is rolled back (params.yaml ``serving.slo``; see docs/deployment.md)."""

    window: int = 100  # the canary's newest answers judged, per worker
    max_error_rate: float = 0.05  # more than floor(rate * window) failures among them is a breach
    min_requests: int = 20  # latency is judged once the window holds this many answered requests
    max_p95_ms: float | None = None  # p95 answer latency over the window above this is a breach
    min_labels: int = 30  # quality is judged once this many canary answers have labels
    max_label_mae: float | None = None  # regression: mean |prediction - label| above this is a breach
    min_label_accuracy: float | None = None  # classification: share right below this is a breach

    @classmethod
    def from_spec(cls, spec: dict | None) -> Slo:
        return cls(**(spec or {}))

    @property
    def error_budget(self) -> int:
        """Failures tolerated among the last ``window`` canary answers: one more is a breach."""
        return math.floor(self.max_error_rate * self.window + 1e-9)


def p95(values) -> float:
    """The nearest-rank 95th percentile (the value 95% of ``values`` are at or below)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class CanaryWatch:
    """The canary's newest ``slo.window`` outcomes (failed or answered, with its latency) in one
    worker; ``record`` answers the breach it completes, in words, or None."""

    def __init__(self, slo: Slo):
        self.slo = slo
        self.outcomes: deque[tuple[bool, float]] = deque(maxlen=slo.window)
        self.failures = 0
        self.seen = 0

    def record(self, failed: bool, latency_ms: float) -> str | None:
        if len(self.outcomes) == self.outcomes.maxlen and self.outcomes[0][0]:
            self.failures -= 1  # the oldest outcome leaves the window
        self.outcomes.append((failed, latency_ms))
        self.failures += failed
        self.seen += 1
        return self.breach()

    def breach(self) -> str | None:
        slo, n = self.slo, len(self.outcomes)
        if self.failures > slo.error_budget:
            return (
                f"error rate: {self.failures} of the canary's last {n} requests failed "
                f"(budget {slo.error_budget} of {slo.window}, max_error_rate {slo.max_error_rate:g})"
            )
        if slo.max_p95_ms is not None:
            answered = [latency for failed, latency in self.outcomes if not failed]
            if len(answered) >= slo.min_requests and (observed := p95(answered)) > slo.max_p95_ms:
                return (
                    f"latency: p95 {observed:.3g} ms over the canary's last {len(answered)} answers "
                    f"> max_p95_ms {slo.max_p95_ms:g}"
                )
        return None

    def summary(self) -> dict:
        answered = [latency for failed, latency in self.outcomes if not failed]
        return {
            "requests_seen": self.seen,
            "window": len(self.outcomes),
            "failures_in_window": self.failures,
            "p95_ms": round(p95(answered), 3) if answered else None,
        }


def label_breach(slo: Slo, predictions: list, labels: list, task: str) -> str | None:
    """The quality floor on the canary's labeled answers (``labels`` None where none came back yet):
    mean absolute error for a regression, the share right for a classification."""
    pairs = [(p, y) for p, y in zip(predictions, labels, strict=True) if y is not None and not _missing(y)]
    if len(pairs) < slo.min_labels:
        return None
    if task == "regression" and slo.max_label_mae is not None:
        mae = sum(abs(float(p) - float(y)) for p, y in pairs) / len(pairs)
        if mae > slo.max_label_mae:
            return (
                f"quality: MAE {mae:.4g} on {len(pairs)} labeled canary answers > max_label_mae {slo.max_label_mae:g}"
            )
    if task == "classification" and slo.min_label_accuracy is not None:
        accuracy = sum(float(p) == float(y) for p, y in pairs) / len(pairs)
        if accuracy < slo.min_label_accuracy:
            return (
                f"quality: accuracy {accuracy:.3f} on {len(pairs)} labeled canary answers "
                f"< min_label_accuracy {slo.min_label_accuracy:g}"
            )
    return None


def _missing(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


class DeploymentState:
    """The deployment state of one served bento, shared by its workers through one JSON file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._identity: tuple[int, int, int] | None = None
        self._state: dict = {}

    def start(self, fresh: dict) -> dict:
        """The state this bento serves with: the file's when it describes the same deployment (the
        same mode, versions and SLO: a restart keeps the live colour, a rolled-back canary stays so),
        else ``fresh``. Every worker calls it; the first one writes."""
        key = {name: fresh.get(name) for name in ("mode", "versions", "slo")}

        def keep_or_start(state: dict) -> dict:
            if state and all(state.get(name) == value for name, value in key.items()):
                return state
            return {**fresh, "events": [event("start", f"{fresh['mode']} with versions {fresh['versions']}")]}

        return self.update(keep_or_start)[0]

    def current(self) -> dict:
        """The state as the file holds it now; reread only when the file was replaced."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return self._state
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if identity != self._identity:
            self._state, self._identity = json.loads(self.path.read_text()), identity
        return self._state

    def update(self, change: Callable[[dict], dict]) -> tuple[dict, bool]:
        """Apply ``change`` to the state under the lock and replace the file atomically; returns the
        state now and whether this call changed it (``change`` returned another object)."""
        with self._locked():
            before = json.loads(self.path.read_text()) if self.path.exists() else {}
            after = change(before)
            changed = after is not before
            if changed:
                after["events"] = after.get("events", [])[-MAX_EVENTS:]
                _write_atomically(self.path, after)
        return self.current(), changed

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def event(kind: str, detail: str, **fields) -> dict:
    return {"event": kind, "at": time.time(), "detail": detail, **fields}


def roll_back(reason: str, summary: dict, version: str) -> Callable[[dict], dict]:
    """The change that stops the canary (once: a second worker's breach finds it stopped)."""

    def change(state: dict) -> dict:
        if state.get("canary", {}).get("status") != ACTIVE:
            return state
        at = time.time()
        canary = {"status": ROLLED_BACK, "version": version, "at": at, "reason": reason, "watch": summary}
        rolled = event("rollback", reason, version=version, pid=os.getpid(), **summary)
        return {**state, "canary": canary, "events": [*state.get("events", []), rolled]}

    return change


def switch_to(colour: str, versions: dict) -> Callable[[dict], dict]:
    """The change that makes ``colour`` live (a no-op event when it already is)."""
    if colour not in COLOURS:
        raise ValueError(f"colour must be blue or green, got {colour!r}")

    def change(state: dict) -> dict:
        previous = state.get("live")
        moved = event("switch", f"{previous} -> {colour}", previous=previous, live=colour, version=versions[colour])
        return {**state, "live": colour, "switched_at": moved["at"], "events": [*state.get("events", []), moved]}

    return change


def read_state(folder: Path | str, run_key: str) -> dict | None:
    """What the monitor and `s2p deployment` read: the state of ``run_key``, or None before any serve."""
    path = state_path(folder, run_key)
    return json.loads(path.read_text()) if path.exists() else None


def _write_atomically(path: Path, payload: dict) -> None:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as written:
            json.dump(payload, written, indent=2, sort_keys=True)
            written.flush()
            os.fsync(written.fileno())
        os.replace(name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
