"""The inference log: every served prediction, one row each, in a database that survives restarts.

A SQLite file by default (WAL), or any SQLAlchemy URL (``S2P_INFERENCE_DB=postgresql://...``): the
queries are SQLAlchemy Core, and the schema is created and upgraded by Alembic's revisions in
serving/migrations/ (an older log is upgraded in place on open, its rows kept).

Shipped inside each bento (the service writes it) and read by the monitor. Rows hold the
request (its rows' features, a prompt and its parameters, an observation, a query) as JSON so one
table serves every answer kind. ``role`` says who answered: the champion, a canary challenger, or
a shadow challenger whose prediction was only logged. Delayed feedback arrives later (POST
/feedback) and fills ``feedback`` (as sent, of the kind's type: a value, a class, a thumb, a
reward, relevant documents) and ``label`` (the target's true value, where the feedback is one).
``request_id`` is the served request's id (serving/telemetry.py: its X-Request-ID), which joins a row
to that request's JSON log line and trace.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import sqlalchemy as sa

from serving import telemetry

SERVED = ("champion", "canary")  # roles whose prediction was the answer
MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest Alembic revision in MIGRATIONS: a log stamped with it is opened without running Alembic.
HEAD = "0003"
#: Postgres advisory lock key that serializes concurrent upgrades (several workers opening a new log).
_UPGRADE_LOCK = int.from_bytes(b"s2p-log", "big")

#: The table as the newest revision leaves it: what the queries read and write (the DDL is Alembic's).
PREDICTIONS = sa.Table(
    "predictions",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("deliverable", sa.Text(), nullable=False),
    sa.Column("model_version", sa.Text(), nullable=False),
    sa.Column("role", sa.Text(), nullable=False, server_default="champion"),
    sa.Column("ts", sa.Float(), nullable=False),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("features", sa.Text(), nullable=False),
    sa.Column("prediction", sa.Text(), nullable=False),
    sa.Column("label", sa.Float()),
    sa.Column("labeled_at", sa.Float()),
    sa.Column("feedback", sa.Text()),
    sa.Column("request_id", sa.Text()),
    sqlite_autoincrement=True,
)


class UnknownPredictions(KeyError):
    pass


class InferenceLogUnavailable(ConnectionError):
    """The log's database does not answer or refuses us: the message names it (password hidden)."""


def database_url(location: str | Path) -> str:
    """A SQLAlchemy URL: a URL as given, a path as a SQLite file."""
    if isinstance(location, str) and "://" in location:
        return location
    return f"sqlite:///{Path(location).resolve()}"


def engine_for(url: str) -> sa.Engine:
    """An engine on ``url``; SQLite files in WAL mode, waiting up to 30 s for a writer's lock."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection, _record):
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")

        return engine
    connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def upgrade(connection: sa.Connection) -> None:
    """Bring the log's schema to HEAD with Alembic. A log written before Alembic (the table without
    an alembic_version) is first stamped with the first revision, so only the later ones run."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    tables = set(sa.inspect(connection).get_table_names())
    if "predictions" in tables and "alembic_version" not in tables:
        command.stamp(config, "0001")
    command.upgrade(config, "head")


def current_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def upgrade_lock(engine: sa.Engine, url: str):
    """One upgrade at a time across processes: a Postgres advisory lock, or a lock file beside SQLite."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _UPGRADE_LOCK})
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _UPGRADE_LOCK})
                connection.commit()
    elif engine.dialect.name == "sqlite" and engine.url.database:
        import fcntl

        with open(f"{engine.url.database}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield


class InferenceLog:
    def __init__(self, location: str | Path):
        """``location``: a SQLite file's path, or a SQLAlchemy URL (postgresql://user:pass@host/db)."""
        self.url = database_url(location)
        self.path = None if "://" in str(location) else Path(location)  # a SQLite file, for tools and messages
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = engine_for(self.url)
        try:
            with self._engine.connect() as connection:
                current = current_revision(connection)
            if current != HEAD:
                with upgrade_lock(self._engine, self.url), self._engine.begin() as connection:
                    upgrade(connection)
        except sa.exc.OperationalError as error:
            self._engine.dispose()
            shown = sa.engine.make_url(self.url).render_as_string(hide_password=True)
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise InferenceLogUnavailable(f"the inference log at {shown} is unavailable ({reason})") from None

    def append(
        self,
        deliverable: str,
        model_version: str,
        rows: list[dict],
        predictions: list,
        latency_ms: float,
        role: str = "champion",
    ) -> list[int]:
        """Insert one row per prediction (one transaction), with the id of the request being served;
        returns their ids."""
        now = time.time()
        request_id = telemetry.request_id()
        values = [
            {
                "deliverable": deliverable,
                "model_version": model_version,
                "role": role,
                "ts": now,
                "latency_ms": latency_ms,
                "features": json.dumps(row),
                "prediction": json.dumps(prediction),
                "request_id": request_id,
            }
            for row, prediction in zip(rows, predictions, strict=True)
        ]
        if not values:
            return []
        with telemetry.span("inference_log.write", rows=len(values), role=role), self._engine.begin() as connection:
            if len(values) == 1:  # the common request: 20% faster than a RETURNING executemany
                return [connection.execute(sa.insert(PREDICTIONS), values[0]).inserted_primary_key[0]]
            insert = sa.insert(PREDICTIONS).returning(PREDICTIONS.c.id, sort_by_parameter_order=True)
            return list(connection.execute(insert, values).scalars())

    def add_labels(
        self, deliverable: str, labels: dict[int, float | None], feedback: dict[int, object] | None = None
    ) -> int:
        """Attach delayed labels to served predictions, all or none: unknown ids raise UnknownPredictions.
        ``labels`` are the targets' true values (None where the feedback is no target), ``feedback``
        the values as sent (default: the labels)."""
        if not labels:
            return 0
        table = PREDICTIONS
        with self._engine.begin() as connection:
            found = set(
                connection.execute(
                    sa.select(table.c.id).where(table.c.deliverable == deliverable, table.c.id.in_(list(labels)))
                ).scalars()
            )
            unknown = sorted(set(labels) - found)
            if unknown:
                raise UnknownPredictions(unknown)
            now = time.time()
            sent = labels if feedback is None else feedback
            update = (
                sa.update(table)
                .where(table.c.id == sa.bindparam("key"))
                .values(label=sa.bindparam("new_label"), labeled_at=now, feedback=sa.bindparam("sent"))
            )
            connection.execute(
                update,
                [{"key": key, "new_label": label, "sent": json.dumps(sent[key])} for key, label in labels.items()],
            )
        return len(labels)

    def recent(self, deliverable: str, limit: int, roles: tuple[str, ...] = SERVED):
        """The newest ``limit`` rows of ``roles`` as a DataFrame: features as columns, oldest first."""
        import pandas as pd

        table = PREDICTIONS
        query = (
            sa.select(
                table.c.id,
                table.c.model_version,
                table.c.role,
                table.c.ts,
                table.c.latency_ms,
                table.c.features,
                table.c.prediction,
                table.c.label,
                table.c.feedback,
            )
            .where(table.c.deliverable == deliverable, table.c.role.in_(list(roles)))
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        rows.reverse()
        features = pd.DataFrame([json.loads(row[5]) for row in rows])
        meta = pd.DataFrame(
            {
                "id": [row[0] for row in rows],
                "model_version": [row[1] for row in rows],
                "role": [row[2] for row in rows],
                "timestamp": pd.to_datetime([row[3] for row in rows], unit="s", utc=True),
                "latency_ms": [row[4] for row in rows],
                "prediction": [json.loads(row[6]) for row in rows],
                "label": pd.array([row[7] for row in rows], dtype="Float64"),
                "feedback": [None if row[8] is None else json.loads(row[8]) for row in rows],
            }
        )
        return pd.concat([meta, features], axis=1)

    def count(self, deliverable: str, role: str | None = None) -> int:
        table = PREDICTIONS
        query = sa.select(sa.func.count()).select_from(table).where(table.c.deliverable == deliverable)
        if role is not None:
            query = query.where(table.c.role == role)
        with self._engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def close(self) -> None:
        self._engine.dispose()
