"""Feast's registry and online-store settings from the locations s2p names them by.

``S2P_FEAST_REGISTRY`` is a file or a database URL (Feast's SQL registry), ``S2P_FEAST_ONLINE_STORE``
a SQLite file or ``redis://host:port[/db]``. The pipeline (pipeline/features.py) and a served model
that reads features at request time (the recommender's online.py, packed in its bento) both build
their Feast configuration here: standard library only, so a bento packs nothing more.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def sql_registry_url(url: str) -> str:
    """Feast's SQL registry speaks psycopg 3: a plain postgresql:// URL names that driver."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def redis_connection_string(url: str) -> str:
    """redis://[:password@]host:port[/db] (rediss:// for TLS) as Feast writes it: host:port,db=N,password=..."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"S2P_FEAST_ONLINE_STORE: a Redis URL (redis://host:port/db) or a SQLite path, got {url!r}")
    options = [f"{parts.hostname or 'localhost'}:{parts.port or 6379}"]
    if parts.path.strip("/"):
        options.append(f"db={int(parts.path.strip('/'))}")
    if parts.password:
        options.append(f"password={parts.password}")
    if parts.scheme == "rediss":
        options.append("ssl=true")
    return ",".join(options)


def registry_config(registry: str, cache_ttl_seconds: int) -> dict:
    """The ``registry`` block: Feast's SQL registry for a database URL, else its file registry."""
    if "://" not in registry:
        return {"path": registry, "cache_ttl_seconds": cache_ttl_seconds}
    return {
        "registry_type": "sql",
        "path": sql_registry_url(registry),
        "cache_ttl_seconds": cache_ttl_seconds,
        "sqlalchemy_config_kwargs": {"pool_pre_ping": True},
    }


def online_store_config(online_store: str) -> dict:
    """The ``online_store`` block: Redis for a redis:// URL, else a SQLite file."""
    if "://" in online_store:
        return {"type": "redis", "connection_string": redis_connection_string(online_store)}
    return {"type": "sqlite", "path": online_store}
