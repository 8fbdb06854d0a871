"""Feature definitions for `feast apply` from the CLI: one entity and feature view per deliverable.

Run `s2p feast -- apply` (or export the variables of `s2p env` and run `feast apply` here). The
pipeline builds the same objects through pipeline.features.feature_objects.
"""

from pipeline.features import feature_objects
from s2p import catalog
from s2p.paths import Stores

_stores = Stores.from_env()
for _deliverable in catalog.CATALOG:
    if _deliverable.recipe != "supervised":  # the other recipes have no per-entity features to serve (run summary)
        continue
    _entity, _view = feature_objects(_deliverable, _deliverable.id, _stores.run_paths(_deliverable.id).dataset)
    globals()[f"{_deliverable.id}_entity"] = _entity
    globals()[f"{_deliverable.id}_features"] = _view
