"""Resolve the catalog's "module:attribute" import paths."""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ValueError(f"import path must look like 'module:attribute', got {path!r}")
    return getattr(importlib.import_module(module_name), attribute)
