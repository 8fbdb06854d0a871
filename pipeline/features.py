"""features: Feast feature views derived from the catalog; apply, materialize, point-in-time join."""

from __future__ import annotations

import contextlib
import os
import string
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from pipeline.context import RunContext
from s2p.backends import named_when_lost, serving
from s2p.catalog import Deliverable
from s2p.feast_locations import online_store_config, registry_config
from s2p.files import write_parquet
from s2p.paths import Stores, is_url
from s2p.tenancy import feast_project


@dataclass(frozen=True)
class FeaturesResult:
    feature_view: str
    features: int
    materialized_rows: int
    training_rows: int
    training_set: str


def feast_fields(deliverable: Deliverable) -> list[tuple[str, str]]:
    """(name, dtype) of what Feast holds: each feature column, or for a tensor column (an image, a
    sequence) its per-sample metadata; the arrays stay in the DVC-versioned dataset file."""
    from s2p.tensors import METADATA

    fields = []
    for column in deliverable.features:
        if column.dtype == "tensor":
            fields += [(f"{column.name}_{stat}", "float") for stat in METADATA]
        else:
            fields.append((column.name, column.dtype))
    return fields


def feature_objects(deliverable: Deliverable, name: str, dataset: Path):
    """The Feast entity and feature view of one run key, read from its validated dataset
    (or, with tensor columns, from its per-sample metadata)."""
    from feast import Entity, FeatureView, Field, FileSource
    from feast.types import Float64, Int64, String
    from feast.value_type import ValueType

    entity = Entity(name=name, join_keys=["entity_id"], value_type=ValueType.INT64)
    source = FileSource(name=f"{name}_source", path=str(dataset), timestamp_field="event_timestamp")
    dtypes = {"float": Float64, "int": Int64, "text": String}
    view = FeatureView(
        name=name,
        entities=[entity],
        ttl=timedelta(0),  # features never expire: the datasets are static snapshots
        schema=[Field(name=field, dtype=dtypes[dtype]) for field, dtype in feast_fields(deliverable)],
        source=source,
        online=True,
        tags={"deliverable": deliverable.id, "phase": deliverable.phase},
    )
    return entity, view


def open_store(stores: Stores):
    """A FeatureStore configured by feature_repo/feature_store.yaml and ``stores`` (feast_config)."""
    from feast import FeatureStore, RepoConfig

    from s2p.backends import Backend, require

    locations = {"Feast registry": stores.feast_registry, "Feast online store": stores.feast_online_store}
    for name, location in locations.items():
        if is_url(location):
            require(Backend(name, location))
        else:
            location.parent.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(**feast_config(stores))
    config.repo_path = stores.feast_repo
    return FeatureStore(config=config)


def feast_config(stores: Stores) -> dict:
    """feature_repo/feature_store.yaml with its ${VARS} filled from ``stores``; a registry given as a
    database URL becomes Feast's SQL registry, an online store given as redis://host:port[/db] Redis."""
    import yaml

    values = dict(os.environ) | {
        "S2P_FEAST_REGISTRY": str(stores.feast_registry),
        "S2P_FEAST_ONLINE_STORE": str(stores.feast_online_store),
    }
    text = (stores.feast_repo / "feature_store.yaml").read_text()
    config = yaml.safe_load(string.Template(text).substitute(values))
    config["project"] = feast_project(config["project"], stores.tenant)  # a tenant's own project
    if is_url(stores.feast_registry):
        config["registry"] = registry_config(stores.feast_registry, config["registry"].get("cache_ttl_seconds", 60))
    if is_url(stores.feast_online_store):
        config["online_store"] = online_store_config(stores.feast_online_store)
    return config


def registry_lock(stores: Stores):
    """One run at a time applies and materializes: a lock file beside a local registry, an advisory
    lock in a PostgreSQL registry (concurrent first applies would both insert the project's rows)."""
    from s2p.backends import advisory_lock
    from s2p.files import file_lock

    if is_url(stores.feast_registry):
        return advisory_lock(stores.feast_registry, "s2p feast registry")
    stores.feast_registry.parent.mkdir(parents=True, exist_ok=True)
    return file_lock(stores.feast_registry.with_name(stores.feast_registry.name + ".lock"))


def offline_source(ctx: RunContext, dataset: pd.DataFrame) -> Path:
    """The file Feast reads: the dataset itself, or the per-sample metadata of its tensor columns."""
    from s2p.tensors import metadata

    d = ctx.deliverable
    if not d.tensor_columns:
        return ctx.paths.dataset
    fields = [name for name, _ in feast_fields(d)]
    frame = dataset[["entity_id", "event_timestamp"]].copy()
    for column in d.features:
        tensor = column.dtype == "tensor"
        frame = frame.join(metadata(dataset[column.name], column.name) if tensor else dataset[column.name])
    write_parquet(ctx.paths.sample_metadata, frame[["entity_id", "event_timestamp", *fields]])
    return ctx.paths.sample_metadata


def run_features(ctx: RunContext) -> FeaturesResult:
    d = ctx.deliverable
    dataset = pd.read_parquet(ctx.paths.dataset)
    entity, view = feature_objects(d, ctx.run_key, offline_source(ctx, dataset))
    fields = [name for name, _ in feast_fields(d)]
    entity_rows = dataset[["entity_id", "event_timestamp"]]
    references = [f"{view.name}:{name}" for name in fields]
    start = dataset["event_timestamp"].min().to_pydatetime()
    end = dataset["event_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    # Feast's file registry is read, changed and rewritten whole: two runs applying at once lose each
    # other's views or read a half-written file. One run at a time, each on a freshly read registry
    # (a SQL registry too: two first applies would both create the project).
    # A registry or online store lost mid-step is named (a retry or rerun applies the same objects and
    # materializes the same rows again: both idempotent, docs/backends.md "Faults").
    with registry_lock(ctx.stores), named_when_lost(*serving(ctx.stores, "Feast")):
        store = open_store(ctx.stores)
        store.apply([entity, view])
        with contextlib.redirect_stdout(sys.stderr):  # Feast prints progress; stdout stays for results
            store.materialize(start_date=start, end_date=end, feature_views=[view.name])
        joined = store.get_historical_features(entity_df=entity_rows, features=references).to_df()
    # Feast neither keeps row order nor integer types: restore both. What Feast does not hold (the
    # target, the split, the arrays of tensor columns) joins from the dataset by entity id.
    carried = [c for c in dataset.columns if c not in (*fields, "event_timestamp")]
    training = joined[["entity_id", "event_timestamp", *fields]].merge(dataset[carried], on="entity_id")
    training = training.sort_values("entity_id").reset_index(drop=True)
    extra = [name for name in fields if name not in d.feature_names]  # tensor metadata
    training = training[["entity_id", "event_timestamp", *d.feature_names, *extra, d.target.name, "split"]]
    if len(training) != len(dataset) or training[fields].isna().any().any():
        raise RuntimeError(
            f"Feast returned {len(training)} of {len(dataset)} rows or missing feature values for {view.name}"
        )
    write_parquet(ctx.paths.training_set, training)
    return FeaturesResult(view.name, len(references), len(dataset), len(training), str(ctx.paths.training_set))
