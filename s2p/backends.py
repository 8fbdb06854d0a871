"""The production backends a configuration names, and whether each answers before a run uses it.

By default every store is embedded (SQLite files, a file registry, local artifacts): nothing here
connects to anything. A store moved to a server by an environment variable (docs/backends.md) is a
``Backend``; ``check_backends`` connects to each with a short timeout and raises one
``BackendUnavailable`` naming every one that is down, unreachable or refuses our credentials, with
its URL (passwords hidden), instead of the stack trace the library would print mid-run.

A backend lost mid-run: ``transient`` tells a failure worth retrying (connection refused, reset or
timed out, a 5xx answer, a database that went away) from one that is not (credentials refused, bad
data, a bug); ``retry_options`` gives a Prefect task that policy (its ``retry_condition_fn``), and
``named_when_lost`` re-raises a transient failure as a ``BackendUnavailable`` naming the backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from s2p.errors import BackendUnavailable, CredentialsRefused
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
    remote = dvc_remote(stores.root)
    if remote is not None:
        found.append(remote)
    return found


#: A DVC remote's own credential settings: with any of them DVC does not use the environment's.
DVC_CREDENTIALS = ("profile", "access_key_id", "secret_access_key", "credentialpath", "session_token")


def dvc_remote(root: Path) -> Backend | None:
    """The repository's default DVC remote when it is an S3 bucket reached with the environment's AWS
    credentials (.dvc/config, then .dvc/config.local; a remote with credentials of its own is left to
    DVC): `dvc push` and `dvc pull` say only "Forbidden" when it refuses them. Read as plain INI (what
    `dvc remote add` writes), without importing DVC."""
    import configparser

    config = configparser.ConfigParser(interpolation=None)
    config.read([root / ".dvc" / "config", root / ".dvc" / "config.local"])
    name = config.get("core", "remote", fallback=None)
    section = f"'remote \"{name}\"'"
    if not name or not config.has_section(section):
        return None
    url = config.get(section, "url", fallback="")
    if not url.startswith("s3://") or any(config.has_option(section, key) for key in DVC_CREDENTIALS):
        return None
    return Backend("DVC remote", url, config.get(section, "endpointurl", fallback=None))


def check_backends(stores: Stores, timeout: float = TIMEOUT_S) -> list[Backend]:
    """Connect to every configured backend; one BackendUnavailable naming each that fails."""
    backends = configured(stores)
    problems = [problem for problem in (_diagnose(backend, timeout) for backend in backends) if problem]
    if problems:
        refused = any(credentials for _, credentials in problems)
        raise (CredentialsRefused if refused else BackendUnavailable)("; ".join(text for text, _ in problems))
    return backends


def require(backend: Backend, timeout: float = TIMEOUT_S) -> None:
    """Raise BackendUnavailable unless ``backend`` answers (checked once per process and URL)."""
    if backend in _answered:
        return
    problem = _diagnose(backend, timeout)
    if problem:
        text, credentials = problem
        raise (CredentialsRefused if credentials else BackendUnavailable)(text)
    _answered.add(backend)


_answered: set[Backend] = set()


def probe(backend: Backend, timeout: float = TIMEOUT_S) -> str | None:
    """None if ``backend`` answers, else one sentence naming it, its URL and what went wrong."""
    problem = _diagnose(backend, timeout)
    return problem[0] if problem else None


def _diagnose(backend: Backend, timeout: float) -> tuple[str, bool] | None:
    """None if ``backend`` answers, else what went wrong and whether it refused our credentials."""
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
        return f"the {backend.name} at {backend.shown} refused our credentials ({refused})", True
    except Exception as error:
        return f"the {backend.name} at {backend.shown} is unavailable ({_first_line(error)})", False
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
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    once = Retry(NoBackoff(), 0)  # redis-py retries a refused connection 3 times by default: ~3 s to say no
    client = redis.Redis.from_url(backend.url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=once)
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
    session = boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise _Refused("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    client = session.client(
        "s3",
        endpoint_url=backend.endpoint,
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            who = f"access key {credentials.access_key!r}"
            raise _Refused(f"S3 {code} for {who}: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        if code in ("404", "NoSuchBucket"):
            raise ConnectionError(f"no bucket {bucket!r}") from None
        raise


#: Exception classes (by name, anywhere in an exception's class hierarchy: the libraries are not imported
#: to ask) that mean the connection to a backend failed or timed out: the builtins, requests/urllib3,
#: httpx, redis, psycopg and SQLAlchemy (OperationalError: the server went away), botocore.
TRANSIENT_TYPES = frozenset(
    {
        "ConnectionError",  # builtin (refused, reset, aborted, broken pipe), requests, redis
        "TimeoutError",  # builtin (socket.timeout), redis
        "Timeout",  # requests
        "TransportError",  # httpx: connect, read, write, pool, protocol errors
        "ProtocolError",  # urllib3: connection aborted mid-answer
        "NewConnectionError",
        "MaxRetryError",
        "OperationalError",  # psycopg, SQLAlchemy: connection refused, server closed the connection
        "InterfaceError",  # psycopg: the connection is closed
        "DisconnectionError",  # SQLAlchemy
        "EndpointConnectionError",  # botocore
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "BusyLoadingError",  # redis: still loading its data after a restart
    }
)

#: What a failure's message says when the connection failed (MLflow's REST client folds the
#: requests exception into an MlflowException's text; a step's error that could not travel back
#: from a worker process pickled arrives as "TypeName: message").
TRANSIENT_WORDS = (
    "connection refused",
    "connection reset",
    "connection aborted",
    "max retries exceeded",
    "timed out",
    "timeout exception",
    "server closed the connection",
    "terminating connection",
    "could not connect",
    "error 111 connecting",
    "temporarily_unavailable",
)

#: What a failure's message says when a backend refused us or was misconfigured: never retried.
REFUSED_WORDS = (
    "refused our credentials",
    "authentication failed",
    "wrongpass",
    "noauth",
    "invalidaccesskeyid",
    "signaturedoesnotmatch",
    "accessdenied",
    "does not exist",
    "permission denied",
)

#: Server answers worth retrying: MLflow's error code for a store that is down, S3's for a busy one.
TRANSIENT_CODES = frozenset(
    {"TEMPORARILY_UNAVAILABLE", "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}
)


def transient(error: BaseException) -> bool:
    """Whether ``error`` is a backend failing for a moment, worth retrying: a connection refused,
    reset or timed out, a database that went away, a 5xx answer; it or an exception in its chain
    (``raise ... from``, or raised while handling). Never credentials refused (CredentialsRefused,
    or a refusal's wording anywhere in the chain), bad data (ValidationFailed) or a bug."""
    chain = _chain(error)
    if any(isinstance(link, CredentialsRefused) for link in chain):
        return False
    if any(word in str(link).lower() for link in chain for word in REFUSED_WORDS):
        return False
    return any(_transient_link(link) for link in chain)


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it was raised from or while handling, each once."""
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and all(link is not seen for seen in chain):
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def _transient_link(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    if type(error).__name__ == "ValidationFailed":
        return False
    if names & TRANSIENT_TYPES:
        return True
    text = str(error)
    if text.split(":", 1)[0].strip() in TRANSIENT_TYPES:  # "OperationalError: ..." from a worker process
        return True
    if getattr(error, "error_code", None) in TRANSIENT_CODES:  # MlflowException
        return True
    status = _http_status(error)
    if status is not None and (status >= 500 or status in (408, 429)):
        return True
    lowered = text.lower()
    return any(word in lowered for word in TRANSIENT_WORDS)


def _http_status(error: BaseException) -> int | None:
    """The HTTP status of a failed answer: httpx and requests errors carry ``response``, botocore's
    ClientError a ``response`` dict."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code in TRANSIENT_CODES:
            return 503
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def retry_transient(task, task_run, state) -> bool:
    """A Prefect ``retry_condition_fn``: retry the failed task run only when ``transient`` says its
    exception is a backend failing for a moment."""
    from s2p.errors import remember_expected_stop

    try:
        state.result()
    except Exception as error:
        if transient(error):
            return True
        remember_expected_stop(error)  # bad data, a refused setting: not retried, and told once
    return False


def retry_options(count: int, delay_s: float) -> dict:
    """Prefect task options: up to ``count`` retries, ``delay_s`` seconds apart, of a failure that
    ``transient`` judges worth it (``Task.with_options(**retry_options(...))``)."""
    if count < 0 or delay_s < 0:
        raise ValueError(f"retries: count and delay_s must be >= 0, got {count} and {delay_s}")
    return {"retries": count, "retry_delay_seconds": delay_s, "retry_condition_fn": retry_transient}


def serving(stores: Stores, prefix: str) -> list[Backend]:
    """The configured backends whose name starts with ``prefix`` ("MLflow", "Feast"): the servers a step
    of that library writes to (empty for the embedded default)."""
    return [backend for backend in configured(stores) if backend.name.startswith(prefix)]


@contextlib.contextmanager
def named_when_lost(*backends: Backend | None, timeout: float = 1.0):
    """Re-raise a transient failure inside as a BackendUnavailable naming the backend that was lost
    mid-step, with its URL: among ``backends``, the ones that no longer answer (all of them if each
    answers again by then); each is probed again before its next use. Other errors, and any error
    when no backend is given (the embedded stores), pass unchanged."""
    try:
        yield
    except BackendUnavailable:
        raise
    except Exception as error:
        candidates = [backend for backend in backends if backend is not None]
        if not candidates or not transient(error):
            raise
        gone = [backend for backend in candidates if _diagnose(backend, timeout)] or candidates
        _answered.difference_update(candidates)
        names = " and ".join(f"the {backend.name} at {backend.shown}" for backend in gone)
        verb = "was" if len(gone) == 1 else "were"
        raise BackendUnavailable(f"{names} {verb} lost mid-step ({_first_line(error)})") from error


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
