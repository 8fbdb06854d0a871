"""Torch estimators stored as files, no pickled modules: each network's weights in safetensors, the
rest (estimator class, hyperparameters, network config, fitted attributes) in one JSON document.

    save:  store(directory, self, {"model": self.module_}, network=asdict(self.config_), fitted=...)
    load:  document = stored_document(directory, cls); estimator = cls(**document["hyperparameters"])
           ...; estimator.module_ = restored(directory, "model", estimator._network(config))
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

DOCUMENT = "config.json"


def store(directory, estimator, networks: Mapping, **document) -> Path:
    """Write each of ``networks`` (name -> module) as ``<name>.safetensors`` and the document, which
    starts with the estimator's class name and its hyperparameters."""
    from safetensors.torch import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, module in networks.items():
        save_model(module, str(directory / f"{name}.safetensors"))  # tied weights are stored once
    header = {"estimator": type(estimator).__name__, "hyperparameters": estimator.get_params()}
    (directory / DOCUMENT).write_text(json.dumps({**header, **document}, indent=1))
    return directory


def stored_document(directory, cls) -> dict:
    """The JSON document of ``directory``, refused when it holds another estimator than ``cls``."""
    document = json.loads((Path(directory) / DOCUMENT).read_text())
    if document.get("estimator") != cls.__name__:
        raise ValueError(f"{directory} holds a {document.get('estimator')!r}, not a {cls.__name__}")
    return document


def restored(directory, name: str, module):
    """``module`` with the weights stored as ``name``, in eval mode."""
    from safetensors.torch import load_model

    load_model(module, str(Path(directory) / f"{name}.safetensors"))
    return module.eval()


def stored(directory, name: str) -> bool:
    return (Path(directory) / f"{name}.safetensors").is_file()
