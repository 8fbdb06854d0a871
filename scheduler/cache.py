"""Content-hash skipping: a step whose inputs (its code, its arguments including upstream results,
the files it declares) are unchanged since its last success is not rerun.

HashCache keeps its own records (one file per step); flows over DVC-declared stages use
pipeline.dvc_cache.DvcStageCache instead, which asks DVC, so both entry points agree.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
from pathlib import Path
from typing import Any

from s2p.files import read_pickle, write_pickle
from scheduler.executor import Step


def file_digest(path: Path) -> str:
    """MD5 of a file, or of a folder's files (names and contents); 'missing' if absent."""
    path = Path(path)
    if path.is_file():
        return hashlib.md5(path.read_bytes()).hexdigest()
    if path.is_dir():
        digest = hashlib.md5()
        for child in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(child.relative_to(path)).encode())
            digest.update(file_digest(child).encode())
        return digest.hexdigest()
    return "missing"


def code_digest(function: Any) -> str:
    """The source file of the function a step runs (a Prefect task's wrapped function included)."""
    function = getattr(function, "fn", function)
    try:
        return file_digest(Path(inspect.getsourcefile(function)))
    except (TypeError, OSError):
        return getattr(function, "__qualname__", repr(function))


class HashCache:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _record_path(self, step: Step) -> Path:
        return self.folder / f"{hashlib.sha1(step.name.encode()).hexdigest()[:16]}.pkl"

    def fingerprint(self, step: Step, kwargs: dict[str, Any]) -> str:
        digest = hashlib.sha256()
        digest.update(step.name.encode())
        digest.update(code_digest(step.run).encode())
        digest.update(json.dumps(step.params, sort_keys=True, default=str).encode())
        digest.update(pickle.dumps(sorted(kwargs.items()), protocol=4))
        for dep in step.deps:
            digest.update(f"{dep}:{file_digest(dep)}".encode())
        return digest.hexdigest()

    def lookup(self, step: Step, kwargs: dict[str, Any]) -> tuple[bool, Any, str]:
        record_path = self._record_path(step)
        if not record_path.exists():
            return False, None, "never ran"
        record = read_pickle(record_path)
        if record["fingerprint"] != self.fingerprint(step, kwargs):
            return False, None, "inputs changed"
        changed = [str(out) for out, digest in record["outs"].items() if file_digest(Path(out)) != digest]
        if changed:
            return False, None, f"outputs changed or missing: {', '.join(changed)}"
        return True, record["result"], "inputs unchanged since its last success"

    def record(self, step: Step, kwargs: dict[str, Any], result: Any) -> None:
        outs = {str(out): file_digest(out) for out in step.outs}
        write_pickle(
            self._record_path(step), {"fingerprint": self.fingerprint(step, kwargs), "result": result, "outs": outs}
        )
