"""Switching stores by environment variables: the embedded default is unchanged, a URL moves a store to
its server, and a server that is down or refuses our credentials is named with its URL."""

import socket

import pytest

from pipeline.features import feast_config
from s2p.backends import Backend, advisory_lock, check_backends, configured, hidden_password, probe, require
from s2p.errors import BackendUnavailable, explain
from s2p.feast_locations import redis_connection_string, sql_registry_url
from s2p.paths import Stores
from tests.backends.conftest import PASSWORD
from tests.conftest import ROOT, free_port

PRODUCTION = (
    "MLFLOW_TRACKING_URI",
    "S2P_MLFLOW_ARTIFACTS",
    "S2P_FEAST_REGISTRY",
    "S2P_FEAST_ONLINE_STORE",
    "S2P_INFERENCE_DB",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_API_URL",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in PRODUCTION:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("S2P_STATE_DIR", str(tmp_path / "state"))
    return monkeypatch


def closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


def test_the_embedded_default_names_no_backend_and_keeps_its_files(clean_env, tmp_path):
    stores = Stores.from_env(ROOT)
    state = tmp_path / "state"
    assert stores.mlflow_tracking_uri == f"sqlite:///{state / 'mlflow' / 'mlflow.db'}"
    assert stores.mlflow_artifacts == (state / "mlflow" / "artifacts").as_uri()
    assert stores.feast_registry == state / "feast" / "registry.db"
    assert stores.feast_online_store == state / "feast" / "online.db"
    assert stores.inference_db == state / "inference" / "inference.db"
    assert stores.prefect_database is None
    assert configured(stores) == [] and check_backends(stores) == []
    config = feast_config(stores)
    assert config["registry"] == {"path": str(state / "feast" / "registry.db"), "cache_ttl_seconds": 60}
    assert config["online_store"] == {"type": "sqlite", "path": str(state / "feast" / "online.db")}


def test_urls_move_each_store_to_its_server(clean_env):
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    clean_env.setenv("S2P_FEAST_REGISTRY", "postgresql://u:p@db/feast")
    clean_env.setenv("S2P_FEAST_ONLINE_STORE", "redis://:secret@cache:6380/2")
    clean_env.setenv("S2P_INFERENCE_DB", "postgresql://u:p@db/inference")
    clean_env.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://u:p@db/prefect")
    stores = Stores.from_env(ROOT)
    assert stores.mlflow_artifacts is None  # the tracking server's proxied artifact store decides
    assert stores.inference_db == "postgresql://u:p@db/inference"
    assert [b.name for b in configured(stores)] == [
        "MLflow tracking store",
        "Feast registry",
        "Feast online store",
        "inference log",
        "Prefect server database",
    ]
    config = feast_config(stores)
    assert config["registry"]["registry_type"] == "sql"
    assert config["registry"]["path"] == "postgresql+psycopg://u:p@db/feast"
    assert config["online_store"] == {"type": "redis", "connection_string": "cache:6380,db=2,password=secret"}
    from feast import RepoConfig

    parsed = RepoConfig(**config)  # Feast accepts what we compose
    assert parsed.registry.registry_type == "sql" and parsed.online_store.type == "redis"


def test_feast_url_helpers():
    assert redis_connection_string("redis://localhost:6379") == "localhost:6379"
    assert redis_connection_string("rediss://h:1/0") == "h:1,db=0,ssl=true"
    with pytest.raises(ValueError, match="S2P_FEAST_ONLINE_STORE"):
        redis_connection_string("memcached://h:1")
    assert sql_registry_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert hidden_password("postgresql://u:p@h:5/d") == "postgresql://u:***@h:5/d"


def test_a_backend_that_is_down_is_named_with_its_url_and_no_password(clean_env):
    port, other = closed_port(), closed_port()
    clean_env.setenv("MLFLOW_TRACKING_URI", f"postgresql://s2p:{PASSWORD}@127.0.0.1:{port}/mlflow")
    clean_env.setenv("S2P_FEAST_ONLINE_STORE", f"redis://127.0.0.1:{other}/0")
    with pytest.raises(BackendUnavailable) as caught:
        check_backends(Stores.from_env(ROOT), timeout=1.0)
    message = str(caught.value)
    assert f"the MLflow tracking store at postgresql://s2p:***@127.0.0.1:{port}/mlflow is unavailable" in message
    assert f"the Feast online store at redis://127.0.0.1:{other}/0 is unavailable" in message
    assert PASSWORD not in message and "Traceback" not in message
    assert explain(caught.value) == message  # `s2p` prints it as one line, without a traceback


def test_an_unreachable_address_fails_within_the_timeout():
    import time

    with socket.socket() as listener:  # accepts nothing: a connect to it would hang without a timeout
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        started = time.monotonic()
        problem = probe(Backend("Feast online store", f"redis://127.0.0.1:{port}/0"), timeout=1.0)
    assert problem is not None and f"127.0.0.1:{port}" in problem
    assert time.monotonic() - started < 5


@pytest.mark.slow  # a real PostgreSQL
def test_wrong_credentials_are_refused_and_named(postgres, redis_url):
    wrong = postgres.url("mlflow", password="not-the-password")
    problem = probe(Backend("MLflow tracking store", wrong))
    assert problem.startswith(f"the MLflow tracking store at {hidden_password(wrong)} refused our credentials")
    assert 'password authentication failed for user "s2p"' in problem
    unknown_user = postgres.url("feast", driver="psycopg", user="nobody")
    assert "refused our credentials" in probe(Backend("Feast registry", unknown_user))
    assert probe(Backend("MLflow tracking store", postgres.url("mlflow"))) is None
    assert probe(Backend("Feast online store", redis_url)) is None
    require(Backend("Feast online store", redis_url))  # answers: no error


def test_the_mlflow_client_names_a_tracking_store_that_is_down(clean_env):
    from pipeline.registry import mlflow_client

    port = closed_port()
    clean_env.setenv("MLFLOW_TRACKING_URI", f"postgresql://s2p:x@127.0.0.1:{port}/mlflow")
    with pytest.raises(
        BackendUnavailable, match=f"MLflow tracking store at postgresql://s2p:\\*\\*\\*@127.0.0.1:{port}"
    ):
        mlflow_client(Stores.from_env(ROOT))


@pytest.mark.slow  # a real PostgreSQL
def test_mlflow_runs_directly_on_postgres(clean_env, postgres):
    from pipeline.registry import mlflow_client

    clean_env.setenv("MLFLOW_TRACKING_URI", postgres.url("mlflow_direct"))
    client = mlflow_client(Stores.from_env(ROOT))
    experiment = client.create_experiment("s2p/direct")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "rmse", 1.5)
    rows = postgres.query("mlflow_direct", "SELECT key, value FROM metrics WHERE run_uuid = %s", run.info.run_id)
    assert rows == [("rmse", 1.5)]


@pytest.mark.slow  # a real PostgreSQL
def test_the_advisory_lock_is_held_across_connections(postgres):
    import psycopg

    url = postgres.url("feast", driver="psycopg")
    with advisory_lock(url, "s2p feast registry"), psycopg.connect(postgres.url("feast")) as other:
        held = other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()
        assert held == (1,)
    with psycopg.connect(postgres.url("feast")) as other:
        assert other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() == (0,)
