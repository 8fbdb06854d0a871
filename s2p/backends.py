"""The production backends a configuration names, and whether each answers before a run uses it.

By default every store is embedded (SQLite files, a file registry, local artifacts): nothing here
connects to anything. A store moved to a server by an environment variable (docs/backends.md) is a
``Backend``; ``check_backends`` connects to each with a short timeout and raises one
``BackendUnavailable`` naming every one that is down, unreachable or refuses our credentials, with
its URL (passwords hidden), instead of the stack trace the library would print mid-run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from s2p.errors import BackendUnavailable
from s2p.paths import Stores, is_url

TIMEOUT_S = 3.0
MLFLOW_TRACKING = "MLflow tracking store"


@dataclass(frozen=True)
class Backend:
    name: str  # what it is for us: "MLflow tracking store", "Feast online store", ...
    url: str
    endpoint: str | None = None  # an S3-compatible server's URL (s3:// URLs name only the bucket)

    @property
    def shown(self) -> str:
        where = hidden_password(self.url)
        return f"{where} (endpoint {self.endpoint})" if self.endpoint else where


def hidden_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def configured(stores: Stores) -> list[Backend]:
    """The stores ``stores`` puts on a server (an empty list for the embedded default)."""
    found = []
    if not stores.mlflow_tracking_uri.startswith(("sqlite:", "file:")) and "://" in stores.mlflow_tracking_uri:
        found.append(Backend(MLFLOW_TRACKING, stores.mlflow_tracking_uri))
    if stores.mlflow_artifacts and stores.mlflow_artifacts.startswith("s3://"):
        endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
        found.append(Backend("MLflow artifact store", stores.mlflow_artifacts, endpoint))
    if is_url(stores.feast_registry):
        found.append(Backend("Feast registry", str(stores.feast_registry)))
    if is_url(stores.feast_online_store):
        found.append(Backend("Feast online store", str(stores.feast_online_store)))
    if is_url(stores.inference_db):
        found.append(Backend("inference log", str(stores.inference_db)))
    if stores.prefect_database and not stores.prefect_database.startswith("sqlite"):
        found.append(Backend("Prefect server database", stores.prefect_database))
    if os.environ.get("PREFECT_API_URL"):
        found.append(Backend("Prefect API", os.environ["PREFECT_API_URL"]))
    return found


def check_backends(stores: Stores, timeout: float = TIMEOUT_S) -> list[Backend]:
    """Connect to every configured backend; one BackendUnavailable naming each that fails."""
    backends = configured(stores)
    problems = [problem for problem in (probe(backend, timeout) for backend in backends) if problem]
    if problems:
        raise BackendUnavailable("; ".join(problems))
    return backends


def require(backend: Backend, timeout: float = TIMEOUT_S) -> None:
    """Raise BackendUnavailable unless ``backend`` answers (checked once per process and URL)."""
    if backend in _answered:
        return
    problem = probe(backend, timeout)
    if problem:
        raise BackendUnavailable(problem)
    _answered.add(backend)


_answered: set[Backend] = set()


def probe(backend: Backend, timeout: float = TIMEOUT_S) -> str | None:
    """None if ``backend`` answers, else one sentence naming it, its URL and what went wrong."""
    scheme = backend.url.split("://", 1)[0].split("+", 1)[0].lower()
    checks = {"postgresql": _postgres, "postgres": _postgres, "redis": _redis, "rediss": _redis}
    checks |= {"http": _http, "https": _http, "s3": _s3}
    check = checks.get(scheme)
    if check is _http and backend.name == MLFLOW_TRACKING:
        check = _mlflow_server
    if check is None:
        return None  # a backend we cannot probe (mysql, gs://, ...) is left to its library
    try:
        check(backend, timeout)
    except _Refused as refused:
        return f"the {backend.name} at {backend.shown} refused our credentials ({refused})"
    except Exception as error:
        return f"the {backend.name} at {backend.shown} is unavailable ({_first_line(error)})"
    return None


class _Refused(Exception):
    """The server answered and refused the credentials."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _postgres(backend: Backend, timeout: float) -> None:
    import psycopg

    rest = backend.url.split("://", 1)[1]  # postgresql+asyncpg://, +psycopg2: libpq reads the plain URL
    try:
        psycopg.connect(f"postgresql://{rest}", connect_timeout=max(1, round(timeout))).close()
    except psycopg.OperationalError as error:
        message = str(error)
        if "authentication failed" in message or ("role" in message and "does not exist" in message):
            raise _Refused(_first_line(error).split("FATAL:  ")[-1]) from None
        raise


def _redis(backend: Backend, timeout: float) -> None:
    import redis

    client = redis.Redis.from_url(backend.url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.AuthenticationError as error:
        raise _Refused(_first_line(error)) from None
    except redis.ResponseError as error:
        if "NOAUTH" in str(error) or "WRONGPASS" in str(error):
            raise _Refused(_first_line(error)) from None
        raise
    finally:
        client.close()


def _http(backend: Backend, timeout: float) -> None:
    """An MLflow server (/health) or a Prefect API (/health under /api)."""
    import httpx

    base = backend.url.rstrip("/")
    response = httpx.get(f"{base}/health", timeout=timeout)
    if response.status_code in (401, 403):
        raise _Refused(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise ConnectionError(f"HTTP {response.status_code} from {base}/health")


def _mlflow_server(backend: Backend, timeout: float) -> None:
    """An MLflow server: /health (open even with authentication on), then one authenticated read
    (search one experiment) with MLflow's own credentials (MLFLOW_TRACKING_USERNAME and _PASSWORD,
    ~/.mlflow/credentials, or MLFLOW_TRACKING_TOKEN): a 401 or 403 names the user we sent."""
    import httpx

    _http(backend, timeout)
    from mlflow.utils.credentials import read_mlflow_creds

    credentials = read_mlflow_creds()
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    auth = (credentials.username, credentials.password or "") if credentials.username else None
    headers = {"Authorization": f"Bearer {token}"} if token and auth is None else {}
    base = backend.url.rstrip("/")
    response = httpx.get(
        f"{base}/api/2.0/mlflow/experiments/search",
        params={"max_results": 1},
        auth=auth,
        headers=headers,
        timeout=timeout,
    )
    if response.status_code in (401, 403):
        who = f"user {credentials.username!r}" if auth else "a token" if headers else "no credentials"
        raise _Refused(f"HTTP {response.status_code} for {who}: check MLFLOW_TRACKING_USERNAME and _PASSWORD")
    if response.status_code >= 400:
        raise ConnectionError(f"HTTP {response.status_code} from {base}/api/2.0/mlflow/experiments/search")


def _s3(backend: Backend, timeout: float) -> None:
    """The bucket of an s3://bucket/prefix URL, at the backend's endpoint (else AWS's)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    bucket = urlsplit(backend.url).netloc
    client = boto3.client(
        "s3",
        endpoint_url=backend.endpoint,
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise _Refused(f"S3 {code}") from None
        if code in ("404", "NoSuchBucket"):
            raise ConnectionError(f"no bucket {bucket!r}") from None
        raise


@contextlib.contextmanager
def advisory_lock(url: str, name: str):
    """One holder at a time across processes and machines: a PostgreSQL session advisory lock named
    ``name`` on the database at ``url`` (what a lock file is for a local store). Other databases: no lock."""
    if not url.split("://", 1)[0].startswith("postgres"):
        yield
        return
    import sqlalchemy as sa

    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()
