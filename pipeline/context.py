"""What a step needs to know about the run it belongs to."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from s2p.catalog import Column, Deliverable
from s2p.config import DeliverableParams
from s2p.paths import RunPaths, Stores, slug


@dataclass(frozen=True)
class UserData:
    path: Path
    target: str


@dataclass(frozen=True)
class RunContext:
    deliverable: Deliverable
    params: DeliverableParams
    stores: Stores
    user_data: UserData | None = None
    new_data: Path | None = None  # labeled served traffic appended to the source (retraining)

    @property
    def run_key(self) -> str:
        """The deliverable id, suffixed with the file's name when it runs on a user's data."""
        if self.user_data is None:
            return self.deliverable.id
        return f"{self.deliverable.id}__{slug(self.user_data.path.stem)}"

    @property
    def paths(self) -> RunPaths:
        return self.stores.run_paths(self.run_key)

    @property
    def model_name(self) -> str:
        """Name of the registered model (MLflow), the BentoML model and the bento."""
        return self.run_key


def make_context(
    deliverable: Deliverable,
    params: DeliverableParams,
    stores: Stores,
    data: Path | None = None,
    target: str | None = None,
) -> RunContext:
    """The context of one run; a user's file replaces the catalog's columns by its own."""
    if data is None:
        if target is not None:
            raise ValueError("--target only makes sense with --data")
        return RunContext(deliverable, params, stores)
    if target is None:
        raise ValueError("--data needs --target COLUMN (the column to predict)")
    columns = _header(Path(data))
    if target not in columns:
        raise ValueError(f"target column {target!r} is not in {data}; its columns are: {', '.join(columns)}")
    if "split" in columns:
        raise ValueError(f"{data}: the column name 'split' is reserved (the train/test split); rename it")
    reserved = {"entity_id", "event_timestamp"}  # kept as keys when given, not used as features
    features = tuple(Column(name) for name in columns if name != target and name not in reserved)
    if not features:
        raise ValueError(f"{data} has no feature columns besides the target {target!r}")
    user_deliverable = dataclasses.replace(
        deliverable,
        source=f"file:{Path(data).resolve()}",
        features=features,
        target=Column(target, deliverable.target.dtype),  # classes stay integers
    )
    return RunContext(user_deliverable, params, stores, UserData(Path(data).resolve(), target))


def _header(path: Path) -> list[str]:
    from s2p.sources import read_table

    return [str(name) for name in read_table(path).columns]


def load_context(
    deliverable_id: str,
    stores: Stores | None = None,
    data: str | Path | None = None,
    target: str | None = None,
    overrides: dict | None = None,
    size: str | None = None,
) -> RunContext:
    """The edge where a run reads its parameters: catalog entry, params.yaml section at ``size``
    (smoke, default or full), overrides."""
    from s2p import catalog
    from s2p.config import params_for, with_overrides

    stores = stores or Stores.from_env()
    deliverable = catalog.get(deliverable_id)
    params = params_for(stores.params_file, deliverable_id, size)
    if overrides:
        params = with_overrides(params, overrides, f"overrides for {deliverable_id}")
    return make_context(deliverable, params, stores, Path(data) if data else None, target)
