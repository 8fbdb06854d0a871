"""The inference log on SQLAlchemy Core: a SQLite file (WAL) by default, PostgreSQL by URL, its schema
created and upgraded by Alembic (serving/migrations/), an old log upgraded in place with its rows."""

import sqlite3

import pytest

from serving.inference_log import HEAD, MIGRATIONS, InferenceLog, InferenceLogUnavailable, UnknownPredictions
from tests.conftest import free_port

FIRST_SCHEMA = (
    "CREATE TABLE predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, deliverable TEXT NOT NULL, "
    "model_version TEXT NOT NULL, ts REAL NOT NULL, latency_ms REAL NOT NULL, features TEXT NOT NULL, "
    "prediction TEXT NOT NULL)"
)


def test_head_is_the_newest_alembic_revision():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_a_new_sqlite_log_is_created_by_alembic_in_wal_mode(tmp_path):
    log = InferenceLog(tmp_path / "log" / "inference.db")
    ids = log.append("d", "1", [{"x": 1.0}, {"x": 2.0}], [1.5, 2.5], 3.0)
    assert ids == [1, 2] and log.count("d") == 2
    log.close()
    database = sqlite3.connect(tmp_path / "log" / "inference.db")
    assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert database.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


def test_an_old_sqlite_log_is_upgraded_by_alembic_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(FIRST_SCHEMA)
    rows = [(i, "d", "1", float(i), 1.0, f'{{"x": {i}.0}}', f"{i * 2}.0") for i in range(1, 6)]
    old.executemany("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    old.commit()
    old.close()

    log = InferenceLog(path)
    frame = log.recent("d", 10)
    assert list(frame["id"]) == [1, 2, 3, 4, 5] and list(frame["x"]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert list(frame["prediction"]) == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert set(frame["role"]) == {"champion"} and frame["label"].isna().all()
    (new_id,) = log.append("d", "2", [{"x": 6.0}], [12.0], 1.0, role="canary")
    assert new_id == 6  # AUTOINCREMENT kept: ids are never reused
    assert log.add_labels("d", {1: 2.5, new_id: 12.5}, feedback={1: "thumb up", new_id: 12.5}) == 2
    frame = log.recent("d", 10)
    assert list(frame["label"].dropna()) == [2.5, 12.5] and frame["feedback"].iloc[0] == "thumb up"
    log.close()
    upgraded = sqlite3.connect(path)
    columns = [row[1] for row in upgraded.execute("PRAGMA table_info(predictions)")]
    assert columns[-5:] == ["role", "label", "labeled_at", "feedback", "request_id"]
    assert upgraded.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    assert upgraded.execute("SELECT COUNT(*) FROM predictions").fetchone() == (6,)


def test_a_log_with_some_added_columns_gains_only_the_missing_ones(tmp_path):
    path = tmp_path / "partial.db"
    old = sqlite3.connect(path)
    old.execute(FIRST_SCHEMA)
    old.execute("ALTER TABLE predictions ADD COLUMN role TEXT NOT NULL DEFAULT 'champion'")
    old.execute("INSERT INTO predictions VALUES (1, 'd', '1', 0.0, 1.0, '{}', '1.0', 'shadow')")
    old.commit()
    old.close()
    log = InferenceLog(path)
    assert log.count("d", role="shadow") == 1
    log.close()


@pytest.mark.slow  # a real PostgreSQL
def test_the_log_on_postgres(postgres):
    log = InferenceLog(postgres.url("inference"))
    assert log.path is None
    first = log.append("pg_test", "1", [{"a": 1.0}, {"a": 2.0}], [3.0, 4.0], 2.0)
    second = log.append("pg_test", "2", [{"a": 5.0}], [6.0], 2.0, role="shadow")
    assert second[0] > max(first)
    assert log.add_labels("pg_test", {first[0]: 3.5}) == 1
    with pytest.raises(UnknownPredictions):
        log.add_labels("pg_test", {first[0]: 1.0, 10**9: 1.0})
    assert log.count("pg_test") == 3 and log.count("pg_test", role="shadow") == 1
    frame = log.recent("pg_test", 10)  # served roles only: the shadow's row is left out
    assert list(frame["model_version"]) == ["1", "1"] and list(frame["label"].fillna(-1)) == [3.5, -1]
    log.close()
    assert postgres.query("inference", "SELECT version_num FROM alembic_version") == [(HEAD,)]
    reopened = InferenceLog(postgres.url("inference", driver="psycopg"))  # psycopg 3 as well as psycopg2
    assert reopened.count("pg_test") == 3
    reopened.close()


def test_a_log_database_that_is_down_is_named_without_its_password():
    port = free_port()
    with pytest.raises(InferenceLogUnavailable) as caught:
        InferenceLog(f"postgresql://s2p:hidden@127.0.0.1:{port}/inference")
    assert f"the inference log at postgresql://s2p:***@127.0.0.1:{port}/inference is unavailable" in str(caught.value)
    assert "hidden" not in str(caught.value)
