"""Real backends for the production-configuration tests, each started once per session on a free port
in a temporary folder and stopped afterwards: PostgreSQL (initdb + pg_ctl, password authentication),
Redis (no persistence), moto's S3-compatible server, and an MLflow server on PostgreSQL that proxies
artifacts to a moto bucket. Nothing is downloaded: every binary is Debian's or the virtualenv's."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = Path(sys.executable).parent
USER, PASSWORD = "s2p", "s2p-secret"
SUPERUSER_PASSWORD = "postgres-secret"
DATABASES = ("mlflow", "mlflow_direct", "prefect", "feast", "inference", "inference_run")
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
ARTIFACT_BUCKET = "mlflow-artifacts"


def wait_until(ready, what: str, process: subprocess.Popen | None = None, log: Path | None = None, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready in {timeout} s: {_tail(log)}")
        time.sleep(0.2)


def _tail(log: Path | None) -> str:
    return log.read_text()[-3000:] if log and log.exists() else ""


@contextlib.contextmanager
def background(command: list[str], log: Path, env: dict | None = None, cwd: Path | None = None):
    """A server process in its own session (stopped with its children), its output in ``log``."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def answers_http(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class Postgres:
    port: int

    def url(self, database: str, driver: str = "", user: str = USER, password: str = PASSWORD) -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def query(self, database: str, sql: str, *args) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database)) as connection:
            return connection.execute(sql, args).fetchall()


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL 15 cluster in ``base`` listening on ``port``: started and stopped with pg_ctl (a
    stop in mode immediate is a crash: every server process quits at once, no shutdown checkpoint)."""

    base: Path
    port: int

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = [str(PG_BIN / "pg_ctl"), "-D", str(self.base / "data"), "-l", str(self.base / "postgres.log")]
        subprocess.run(_as_postgres([*start, "-o", options, "-w", "start"]), check=True, capture_output=True)

    def stop(self, mode: str = "immediate") -> None:
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(self.base / "data"), "-m", mode, "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True)


@contextlib.contextmanager
def postgres_cluster(databases=DATABASES):
    """A PostgreSQL 15 cluster (scram-sha-256 passwords) with a role s2p owning each of ``databases``,
    started on a free port in a temporary folder; yields (Postgres, Cluster); removed afterwards."""
    import psycopg

    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb): apt-get install postgresql-15")
    base = Path(tempfile.mkdtemp(prefix="s2p-pg-"))
    (base / "pwfile").write_text(SUPERUSER_PASSWORD + "\n")
    if os.getuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(base / "pwfile", "postgres", "postgres")
    initdb = [str(PG_BIN / "initdb"), "-D", str(base / "data"), "-U", "postgres", "-A", "scram-sha-256"]
    subprocess.run(_as_postgres([*initdb, f"--pwfile={base / 'pwfile'}"]), check=True, capture_output=True)
    cluster = Cluster(base, free_port())
    cluster.start()
    try:
        superuser = f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(superuser, autocommit=True) as connection:
            connection.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
            for database in databases:
                connection.execute(f"CREATE DATABASE {database} OWNER {USER}")
        yield Postgres(cluster.port), cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL 15 cluster (scram-sha-256 passwords) with a role s2p owning one database per store."""
    with postgres_cluster() as (server, _):
        yield server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    import redis

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server")
    base = tmp_path_factory.mktemp("redis")
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(base)]
    with background(command, base / "redis.log") as process:
        url = f"redis://127.0.0.1:{port}/0"

        def ready() -> bool:
            try:
                return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            except redis.ConnectionError:
                return False

        wait_until(ready, "redis-server", process, base / "redis.log", timeout=20)
        yield url


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """moto's S3-compatible server (in memory) and its bucket for MLflow's artifacts."""
    base = tmp_path_factory.mktemp("moto")
    port = free_port()
    env = {**os.environ, **S3_CREDENTIALS}
    command = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with background(command, base / "moto.log", env=env) as process:
        endpoint = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                s3_client(endpoint).list_buckets()
                return True
            except Exception:  # not listening yet
                return False

        wait_until(ready, "moto_server", process, base / "moto.log")
        s3_client(endpoint).create_bucket(Bucket=ARTIFACT_BUCKET)
        yield endpoint


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def s3_keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.fixture(scope="session")
def mlflow_server(postgres, s3_endpoint, tmp_path_factory):
    """`mlflow server` on PostgreSQL, proxying artifacts to s3://mlflow-artifacts/ on moto."""
    base = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, **S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint}
    command = [
        str(VENV_BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        postgres.url("mlflow"),
        "--artifacts-destination",
        f"s3://{ARTIFACT_BUCKET}/",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with background(command, base / "mlflow.log", env=env, cwd=base) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers_http(f"{url}/health"), "mlflow server", process, base / "mlflow.log", timeout=120)
        yield url


ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-secret-0123"


def create_database(postgres: Postgres, name: str) -> None:
    """One more database owned by the s2p role on the session's cluster (once: later calls do nothing)."""
    import psycopg

    superuser = f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{postgres.port}/postgres"
    with psycopg.connect(superuser, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall():
            connection.execute(f"CREATE DATABASE {name} OWNER {USER}")


@dataclass(frozen=True)
class AuthServer:
    """An `mlflow server --app-name basic-auth`: its URL and its admin's credentials."""

    url: str
    admin: tuple[str, str] = (ADMIN_USER, ADMIN_PASSWORD)
    log: Path | None = None


@contextlib.contextmanager
def authenticated_mlflow(
    postgres: Postgres,
    s3_endpoint: str,
    base: Path,
    name: str = "mlflow_auth",
    workers: int = 2,
    auth_cache_s: int = 60,
):
    """`mlflow server` with MLflow's basic-auth app: runs and registry in database ``name``, users and
    permissions in ``name``_users (both on ``postgres``), artifacts proxied to s3://mlflow-artifacts/``name``/
    on moto, ``workers`` uvicorn workers. Users other than the admin start with READ on everything
    (MLflow's default_permission); a resource's creator gets MANAGE on it. Each worker caches a verified
    password for ``auth_cache_s`` seconds (MLflow's auth_cache_ttl_seconds; its default 0 runs werkzeug's
    scrypt hash on every request: 180-370 ms a request here instead of ~9 ms, docs/registry_at_scale.md);
    permissions are not cached; after a password change other workers may accept the old one that long."""
    tracking, users = name, f"{name}_users"
    for database in (tracking, users):
        create_database(postgres, database)
    config = base / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {postgres.url(users)}\n"
        f"admin_username = {ADMIN_USER}\n"
        f"admin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {auth_cache_s}\n"
    )
    env = {
        **os.environ,
        **S3_CREDENTIALS,
        "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "s2p-tests-only-secret",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # GenAI scoring jobs: 4 huey consumers we do not use
    }
    for variable in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
        env.pop(variable, None)
    port = free_port()
    command = [
        str(VENV_BIN / "mlflow"),
        "server",
        "--app-name",
        "basic-auth",
        "--backend-store-uri",
        postgres.url(tracking),
        "--artifacts-destination",
        f"s3://{ARTIFACT_BUCKET}/{name}/",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log = base / "mlflow-auth.log"
    with background(command, log, env=env, cwd=base) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers_http(f"{url}/health"), "mlflow server (basic-auth)", process, log, timeout=180)
        yield AuthServer(url, log=log)


@pytest.fixture(scope="session")
def mlflow_auth_server(postgres, s3_endpoint, tmp_path_factory):
    """`mlflow server --app-name basic-auth` on PostgreSQL (its own databases for runs and for users),
    artifacts proxied to moto, on its own port; the admin is ``AuthServer.admin``."""
    with authenticated_mlflow(postgres, s3_endpoint, tmp_path_factory.mktemp("mlflow-auth")) as server:
        yield server


class Restartable:
    """A server process at ``url`` that a test kills (SIGKILL: a crash) and starts again with the same
    command, on the same port; ``ready`` says when it answers. Stopped for good by ``close``."""

    def __init__(self, command: list[str], log: Path, ready, what: str, url: str):
        self.command, self.log, self.ready, self.what, self.url = command, log, ready, what, url
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                self.command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self.ready, self.what, self.process, self.log, timeout=20)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def killable_redis(tmp_path):
    """A redis-server of this test alone, on a free port, that the test may kill and restart: it
    appends every write to its log file (fsync always), so a restart finds what was acknowledged."""
    import redis

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
    command += ["--appendonly", "yes", "--appendfsync", "always"]

    def ready() -> bool:
        try:
            return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.ConnectionError:
            return False

    server = Restartable(command, tmp_path / "redis.log", ready, "redis-server", url)
    server.start()
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True)
class AuthenticatedS3:
    """moto's S3 server enforcing credentials: one IAM user allowed everything, with its key."""

    endpoint: str
    access_key: str
    secret_key: str


#: moto authenticates every request after this many: the IAM calls that create the user, its policy
#: and its access key (moto's INITIAL_NO_AUTH_ACTION_COUNT; unset, moto accepts any credentials).
UNAUTHENTICATED_SETUP_CALLS = 3


@pytest.fixture(scope="module")
def authenticated_s3(tmp_path_factory):
    """moto's S3-compatible server started with INITIAL_NO_AUTH_ACTION_COUNT: after the IAM user, its
    allow-everything policy and its access key are created, a request signed with any other key (or
    a wrong secret) gets 403 InvalidAccessKeyId / SignatureDoesNotMatch, as from AWS."""
    import json
    import socket

    import boto3

    base = tmp_path_factory.mktemp("moto-auth")
    port = free_port()
    env = {**os.environ, **S3_CREDENTIALS, "INITIAL_NO_AUTH_ACTION_COUNT": str(UNAUTHENTICATED_SETUP_CALLS)}
    command = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]

    def listening() -> bool:  # without a request: each one counts against the unauthenticated calls
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    with background(command, base / "moto.log", env=env) as process:
        endpoint = f"http://127.0.0.1:{port}"
        wait_until(listening, "moto_server (authenticating)", process, base / "moto.log")
        iam = boto3.client("iam", endpoint_url=endpoint, **_boto_credentials(S3_CREDENTIALS))
        iam.create_user(UserName="s2p")
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="s2p", PolicyName="everything", PolicyDocument=json.dumps(allow))
        key = iam.create_access_key(UserName="s2p")["AccessKey"]
        yield AuthenticatedS3(endpoint, key["AccessKeyId"], key["SecretAccessKey"])


def _boto_credentials(variables: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": variables["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": variables["AWS_SECRET_ACCESS_KEY"],
        "region_name": variables["AWS_DEFAULT_REGION"],
    }
