"""How a bento loads its model from the BentoML model store, by the spec's ``model_format``.

- ``pickle`` (the default): ``model.pkl`` in the BentoML model, the estimator pickled as fitted;
- ``directory``: a folder ``model/`` in the BentoML model (torch state dicts or safetensors and a
  config, no pickles), loaded by ``import_object(spec["model_loader"]).load(path)``.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Callable
from pathlib import Path

MODEL_FILE, MODEL_DIRECTORY = "model.pkl", "model"


def import_object(path: str):
    """The object an import path ``package.module:name`` (or ``package.module.name``) names."""
    module, separator, name = path.partition(":")
    if not separator:
        module, _, name = path.rpartition(".")
    if not module or not name:
        raise ValueError(f"model_loader must look like 'package.module:Name', got {path!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"model_loader {path!r} cannot be imported: {error}") from None


def _pickled(path_of: Callable[[str], str], spec: dict):
    with open(path_of(MODEL_FILE), "rb") as handle:
        return pickle.load(handle)


def _directory(path_of: Callable[[str], str], spec: dict):
    if not spec.get("model_loader"):
        raise ValueError("model_format 'directory' needs model_loader ('package.module:Class' with a load(path))")
    return import_object(spec["model_loader"]).load(Path(path_of(MODEL_DIRECTORY)))


MODEL_FORMATS = {"pickle": _pickled, "directory": _directory}


def load_model(path_of: Callable[[str], str], spec: dict):
    """The served model in a BentoML model (``path_of`` its ``path_of``), in the spec's format."""
    model_format = spec.get("model_format", "pickle")
    if model_format not in MODEL_FORMATS:
        raise ValueError(f"model_format must be one of {', '.join(MODEL_FORMATS)}, got {model_format!r}")
    return MODEL_FORMATS[model_format](path_of, spec)
