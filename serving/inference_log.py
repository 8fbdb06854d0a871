"""The inference log: every served prediction, one row each, in SQLite (WAL) so it survives restarts.

Shipped inside each bento (the service writes it) and read by the monitor. Rows hold the
request (its rows' features, a prompt and its parameters, an observation, a query) as JSON so one
table serves every answer kind. ``role`` says who answered: the champion, a canary challenger, or
a shadow challenger whose prediction was only logged. Delayed feedback arrives later (POST
/feedback) and fills ``feedback`` (as sent, of the kind's type: a value, a class, a thumb, a
reward, relevant documents) and ``label`` (the target's true value, where the feedback is one).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    deliverable   TEXT    NOT NULL,
    model_version TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'champion',
    ts            REAL    NOT NULL,
    latency_ms    REAL    NOT NULL,
    features      TEXT    NOT NULL,
    prediction    TEXT    NOT NULL,
    label         REAL,
    labeled_at    REAL,
    feedback      TEXT
);
CREATE INDEX IF NOT EXISTS predictions_by_deliverable ON predictions (deliverable, id);
"""
SERVED = ("champion", "canary")  # roles whose prediction was the answer
#: Columns added since the first version of the table: an older log gains them on open.
ADDED_COLUMNS = {
    "role": "TEXT NOT NULL DEFAULT 'champion'",
    "label": "REAL",
    "labeled_at": "REAL",
    "feedback": "TEXT",
}


class UnknownPredictions(KeyError):
    pass


class InferenceLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        with self._lock, self._connection:
            present = {row[1] for row in self._connection.execute("PRAGMA table_info(predictions)")}
            for column, declaration in ADDED_COLUMNS.items():
                if column not in present:
                    self._connection.execute(f"ALTER TABLE predictions ADD COLUMN {column} {declaration}")

    def append(
        self,
        deliverable: str,
        model_version: str,
        rows: list[dict],
        predictions: list,
        latency_ms: float,
        role: str = "champion",
    ) -> list[int]:
        """Insert one row per prediction (one transaction); returns their ids."""
        now = time.time()
        ids = []
        with self._lock, self._connection:
            for row, prediction in zip(rows, predictions, strict=True):
                cursor = self._connection.execute(
                    "INSERT INTO predictions (deliverable, model_version, role, ts, latency_ms, features, prediction)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (deliverable, model_version, role, now, latency_ms, json.dumps(row), json.dumps(prediction)),
                )
                ids.append(cursor.lastrowid)
        return ids

    def add_labels(
        self, deliverable: str, labels: dict[int, float | None], feedback: dict[int, object] | None = None
    ) -> int:
        """Attach delayed labels to served predictions, all or none: unknown ids raise UnknownPredictions.
        ``labels`` are the targets' true values (None where the feedback is no target), ``feedback``
        the values as sent (default: the labels)."""
        if not labels:
            return 0
        with self._lock, self._connection:
            marks = ",".join("?" * len(labels))
            found = {
                row[0]
                for row in self._connection.execute(
                    f"SELECT id FROM predictions WHERE deliverable = ? AND id IN ({marks})",
                    (deliverable, *labels),
                )
            }
            unknown = sorted(set(labels) - found)
            if unknown:
                raise UnknownPredictions(unknown)
            now = time.time()
            sent = labels if feedback is None else feedback
            self._connection.executemany(
                "UPDATE predictions SET label = ?, labeled_at = ?, feedback = ? WHERE id = ?",
                [(label, now, json.dumps(sent[key]), key) for key, label in labels.items()],
            )
        return len(labels)

    def recent(self, deliverable: str, limit: int, roles: tuple[str, ...] = SERVED):
        """The newest ``limit`` rows of ``roles`` as a DataFrame: features as columns, oldest first."""
        import pandas as pd

        marks = ",".join("?" * len(roles))
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, model_version, role, ts, latency_ms, features, prediction, label, feedback FROM predictions"
                f" WHERE deliverable = ? AND role IN ({marks}) ORDER BY id DESC LIMIT ?",
                (deliverable, *roles, limit),
            ).fetchall()
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
        query, args = "SELECT COUNT(*) FROM predictions WHERE deliverable = ?", [deliverable]
        if role is not None:
            query, args = query + " AND role = ?", [*args, role]
        with self._lock:
            (n,) = self._connection.execute(query, args).fetchone()
        return n

    def close(self) -> None:
        self._connection.close()
