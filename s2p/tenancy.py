"""Tenants: one deployment of ScratchToProd shared by several teams, each selected by configuration.

``S2P_TENANT=acme`` (unset: no tenant, every name and path as it always was) makes every process of
that tenant name and place things as its own (docs/multitenancy.md):

- MLflow: experiments ``acme/s2p/<run key>``, registered models (and their bentos) ``acme.<run key>``;
  on a shared server the basic-auth app gives each tenant's user permissions on what it created only.
- Feast: the project ``<project>__acme`` (a shared registry and online store keep projects apart).
- Inference log: a SQLite file in the tenant's folder, or on a shared PostgreSQL the tenant's own schema
  ``tenant_acme`` (the URL's ``search_path``).
- Local stores (state, data, artifacts, Prefect and BentoML homes, file URIs): inside a
  ``tenants/acme`` folder of where they would be; an S3 artifact prefix gains ``tenants/acme``. A
  location already inside ``tenants/acme`` is left as it is, so a child process handed the resolved
  locations resolves them to the same places.
- Prefect: the tenant's runs and tasks carry the tag ``tenant:acme``; ``s2p tenant limit`` sets that
  tag's concurrency limit, so a burst of one tenant holds at most its quota of task slots.
- Served bentos answer only the tenant's API keys (serving/api_keys.py); ``s2p tenant key`` issues them.

Pure functions on names and locations; the commands that provision a tenant are at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from serving.api_keys import SEPARATOR, digest

if TYPE_CHECKING:
    from s2p.paths import Stores

VARIABLE = "S2P_TENANT"
KEYS_VARIABLE = "S2P_TENANT_KEYS"
FOLDER = "tenants"
#: Letters and digits, starting with a letter: valid as is in every name it enters (MLflow, BentoML tags,
#: Feast projects, PostgreSQL schemas, Prefect tags, folder names); short enough for BentoML's 63.
_ID = re.compile(r"[a-z][a-z0-9]{0,19}")


class TenantError(ValueError):
    """A tenant id, or a tenant's configuration, that cannot work: the message says why."""


def check_tenant(tenant: str) -> str:
    if not _ID.fullmatch(tenant):
        raise TenantError(
            f"{VARIABLE}={tenant!r}: a tenant id is 1-20 lowercase letters and digits, starting with a letter"
        )
    return tenant


def tenant_from(environ) -> str | None:
    """The configured tenant (``S2P_TENANT``), checked; None when unset or empty."""
    value = environ.get(VARIABLE, "").strip()
    return check_tenant(value) if value else None


# -- names --------------------------------------------------------------------------------------------
def experiment_name(run_key: str, tenant: str | None) -> str:
    base = f"s2p/{run_key}"
    return base if tenant is None else f"{tenant}/{base}"


def model_name(run_key: str, tenant: str | None) -> str:
    """The registered model's name, which is also its BentoML model's and its bento's."""
    return run_key if tenant is None else f"{tenant}{SEPARATOR}{run_key}"


def feast_project(project: str, tenant: str | None) -> str:
    return project if tenant is None else f"{project}__{tenant}"


def schema(tenant: str) -> str:
    """The tenant's PostgreSQL schema for a shared inference-log database."""
    return f"tenant_{tenant}"


def prefect_tag(tenant: str) -> str:
    return f"tenant:{tenant}"


# -- locations ----------------------------------------------------------------------------------------
def _owned(path: Path, tenant: str) -> bool:
    parts = path.parts
    return any(parts[i : i + 2] == (FOLDER, tenant) for i in range(len(parts) - 1))


def folder(path: Path, tenant: str) -> Path:
    """A folder of the tenant's own: ``path/tenants/<tenant>`` (``path`` if already one)."""
    return path if _owned(path, tenant) else path / FOLDER / tenant


def file(path: Path, tenant: str) -> Path:
    """A file of the tenant's own: ``<dir>/tenants/<tenant>/<name>`` (``path`` if already one)."""
    return path if _owned(path, tenant) else path.parent / FOLDER / tenant / path.name


def tracking_uri(uri: str, tenant: str) -> str:
    """A SQLite tracking store moves to the tenant's folder; a server or database is shared (names split it)."""
    if uri.startswith("sqlite:///"):
        return f"sqlite:///{file(Path(uri.removeprefix('sqlite:///')), tenant)}"
    return uri


def artifact_uri(uri: str | None, tenant: str) -> str | None:
    """file:// URIs to the tenant's folder, an object-store URI under a ``tenants/<tenant>`` prefix."""
    if uri is None:
        return None  # the tracking server's proxied store: the server decides
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return folder(Path(parts.path), tenant).as_uri()
    path = Path(parts.path or "/")
    return urlunsplit(parts._replace(path=str(folder(path, tenant)))) if not _owned(path, tenant) else uri


def inference_location(location: Path | str, tenant: str) -> Path | str:
    """A SQLite file to the tenant's folder; a PostgreSQL URL to the tenant's schema (its search_path)."""
    if not isinstance(location, str):
        return file(location, tenant)
    if not location.split("://", 1)[0].startswith("postgresql"):
        raise TenantError(
            f"S2P_INFERENCE_DB with {VARIABLE}: a path or a postgresql:// URL (a schema per tenant), "
            f"got {location.split('://', 1)[0]}://; give each tenant its own database path"
        )
    parts = urlsplit(location)
    query = dict(parse_qsl(parts.query))
    if "options" in query:  # already chosen (by us for a parent process, or by the operator)
        return location
    query["options"] = f"-csearch_path={schema(tenant)}"
    return urlunsplit(parts._replace(query=urlencode(query)))


def scoped(stores: Stores, tenant: str) -> Stores:
    """``stores`` as tenant ``tenant``'s: every location its own (see the module's docstring)."""
    from s2p.paths import is_url

    def local(location: Path | str) -> Path | str:
        return location if is_url(location) else file(Path(location), tenant)

    return dataclasses.replace(
        stores,
        tenant=tenant,
        data=folder(stores.data, tenant),
        artifacts=folder(stores.artifacts, tenant),
        state=folder(stores.state, tenant),
        mlflow_tracking_uri=tracking_uri(stores.mlflow_tracking_uri, tenant),
        mlflow_artifacts=artifact_uri(stores.mlflow_artifacts, tenant),
        prefect_home=folder(stores.prefect_home, tenant),
        feast_registry=local(stores.feast_registry),
        feast_online_store=local(stores.feast_online_store),
        bentoml_home=folder(stores.bentoml_home, tenant),
        inference_db=inference_location(stores.inference_db, tenant),
    )


@contextlib.contextmanager
def run_tags(tenant: str | None):
    """Prefect runs (and their tasks) started inside carry ``tenant:<id>``: its concurrency limit applies."""
    if tenant is None:
        yield
        return
    from prefect import tags

    with tags(prefect_tag(tenant)):
        yield


# -- provisioning: keys, Prefect limits, the inference log's schema -----------------------------------
def _read_keys(path: Path) -> list[dict]:
    return json.loads(path.read_text()).get("keys", []) if path.exists() else []


def _write_keys(path: Path, entries: list[dict]) -> None:
    """Written whole to a temporary file and renamed: a serving process never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    partial.write_text(json.dumps({"keys": entries}, indent=2))
    partial.chmod(0o600)
    partial.replace(path)


def issue_key(keys_file: Path, tenant: str) -> tuple[str, str]:
    """A new API key for ``tenant``: (the key, shown once and never stored; its id, to revoke it).
    Only its SHA-256 digest is written to ``keys_file``."""
    from s2p.files import file_lock

    check_tenant(tenant)
    key = f"s2p_{tenant}_{secrets.token_urlsafe(32)}"
    key_id = "k" + digest(key)[len("sha256:") :][:12]
    entry = {"id": key_id, "tenant": tenant, "digest": digest(key), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(keys_file.with_name(keys_file.name + ".lock")):
        _write_keys(keys_file, [*_read_keys(keys_file), entry])
    return key, key_id


def revoke_key(keys_file: Path, key_id: str) -> dict:
    """Remove the key ``key_id`` (serving processes stop accepting it within a second); its entry."""
    from s2p.files import file_lock

    with file_lock(keys_file.with_name(keys_file.name + ".lock")):
        entries = _read_keys(keys_file)
        found = [entry for entry in entries if entry["id"] == key_id]
        if not found:
            raise TenantError(f"no API key {key_id!r} in {keys_file}")
        _write_keys(keys_file, [entry for entry in entries if entry["id"] != key_id])
    return {key: value for key, value in found[0].items() if key != "digest"}


def list_keys(keys_file: Path, tenant: str | None = None) -> list[dict]:
    """Ids, tenants and creation times of the keys (never digests)."""
    entries = _read_keys(keys_file)
    return [
        {key: value for key, value in entry.items() if key != "digest"}
        for entry in entries
        if tenant is None or entry["tenant"] == tenant
    ]


def set_concurrency_limit(tenant: str, limit: int) -> dict:
    """The Prefect server's concurrency limit on ``tenant:<id>``: at most ``limit`` of the tenant's tasks
    hold a slot at once; the others wait in Pending until one frees. Set on the server PREFECT_API_URL names."""
    import os

    from prefect.client.orchestration import get_client

    if limit < 1:
        raise TenantError(f"a concurrency limit is at least 1 task, got {limit} (0 would block every task)")
    if not os.environ.get("PREFECT_API_URL"):
        raise TenantError(
            "a concurrency limit lives on a Prefect server: set PREFECT_API_URL (a temporary one forgets it)"
        )
    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag=prefect_tag(check_tenant(tenant)), concurrency_limit=limit)
        current = client.read_concurrency_limit_by_tag(prefect_tag(tenant))
    return {"tag": current.tag, "limit": current.concurrency_limit, "active_slots": len(current.active_slots)}


def create_schema(url: str) -> str | None:
    """CREATE SCHEMA for a tenant's PostgreSQL inference-log URL (its search_path); None for a SQLite file."""
    if not url.startswith("postgresql"):
        return None
    import sqlalchemy as sa

    options = dict(parse_qsl(urlsplit(url).query)).get("options", "")
    name = options.removeprefix("-csearch_path=")
    if not re.fullmatch(r"tenant_[a-z][a-z0-9]*", name):
        raise TenantError(f"the inference log URL names no tenant schema (options={options!r})")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))
    finally:
        engine.dispose()
    return name
