"""Fitted models on disk: files where a model saves itself, a pickle otherwise.

A model with ``save(directory)`` and a classmethod ``load(directory)`` (the torch models: a
safetensors state dict and a JSON config, no pickled modules) is stored as a directory with a
``loader.json`` naming the class that loads it; any other (the NumPy and scikit-learn estimators)
is pickled. Either way the file or directory is replaced in one rename, so a crash leaves the
last good model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from s2p.files import read_pickle, write_pickle
from s2p.imports import import_object

LOADER = "loader.json"


def saves_itself(model) -> bool:
    return callable(getattr(model, "save", None)) and callable(getattr(type(model), "load", None))


def loader_path(model) -> str:
    return f"{type(model).__module__}:{type(model).__qualname__}"


def save_fitted(model, pickle_path: Path, directory: Path) -> str:
    """Store ``model`` (replacing the other form if it was there); returns "directory" or "pickle"."""
    if not saves_itself(model):
        write_pickle(pickle_path, model)
        shutil.rmtree(directory, ignore_errors=True)
        return "pickle"
    staging = directory.with_name(f".{directory.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    model.save(staging)
    (staging / LOADER).write_text(json.dumps({"loader": loader_path(model)}))
    retired = directory.with_name(f".{directory.name}.retired")
    shutil.rmtree(retired, ignore_errors=True)
    if directory.exists():
        directory.rename(retired)
    staging.rename(directory)
    shutil.rmtree(retired, ignore_errors=True)
    pickle_path.unlink(missing_ok=True)
    return "directory"


def load_fitted(pickle_path: Path, directory: Path):
    """The model stored by ``save_fitted``."""
    if (directory / LOADER).is_file():
        return import_object(json.loads((directory / LOADER).read_text())["loader"]).load(directory)
    return read_pickle(pickle_path)


def stored_loader(directory: Path) -> str | None:
    """The class that loads a directory-stored model, or None for a pickle."""
    return json.loads((directory / LOADER).read_text())["loader"] if (directory / LOADER).is_file() else None
