"""Writes that are never seen half-done: write to a temporary sibling, then rename atomically."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (flock on ``path``), released on exit or process death."""
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_json(target: Path, payload: Any) -> Path:
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return Path(target)


def read_json(source: Path) -> Any:
    return json.loads(Path(source).read_text())


def write_pickle(target: Path, obj: Any) -> Path:
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(target)


def read_pickle(source: Path) -> Any:
    with open(source, "rb") as handle:
        return pickle.load(handle)


def write_parquet(target: Path, frame) -> Path:
    with atomic_path(target) as temporary:
        frame.to_parquet(temporary, index=False)
    return Path(target)
