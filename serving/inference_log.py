"""The inference log: every served prediction, one row each, in SQLite (WAL) so it survives restarts.

Shipped inside each bento (the service writes it) and read by the monitor. Rows hold the
features as JSON so one table serves every deliverable's schema.
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
    ts            REAL    NOT NULL,
    latency_ms    REAL    NOT NULL,
    features      TEXT    NOT NULL,
    prediction    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_by_deliverable ON predictions (deliverable, id);
"""


class InferenceLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(SCHEMA)

    def append(
        self, deliverable: str, model_version: str, rows: list[dict], predictions: list, latency_ms: float
    ) -> None:
        now = time.time()
        records = [
            (deliverable, model_version, now, latency_ms, json.dumps(row), json.dumps(prediction))
            for row, prediction in zip(rows, predictions, strict=True)
        ]
        with self._lock, self._connection:
            self._connection.executemany(
                "INSERT INTO predictions (deliverable, model_version, ts, latency_ms, features, prediction)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                records,
            )

    def recent(self, deliverable: str, limit: int):
        """The newest ``limit`` rows of a deliverable as a DataFrame: features as columns, oldest first."""
        import pandas as pd

        with self._lock:
            rows = self._connection.execute(
                "SELECT id, model_version, ts, latency_ms, features, prediction FROM predictions"
                " WHERE deliverable = ? ORDER BY id DESC LIMIT ?",
                (deliverable, limit),
            ).fetchall()
        rows.reverse()
        features = pd.DataFrame([json.loads(row[4]) for row in rows])
        meta = pd.DataFrame(
            {
                "id": [row[0] for row in rows],
                "model_version": [row[1] for row in rows],
                "timestamp": pd.to_datetime([row[2] for row in rows], unit="s", utc=True),
                "latency_ms": [row[3] for row in rows],
                "prediction": [json.loads(row[5]) for row in rows],
            }
        )
        return pd.concat([meta, features], axis=1)

    def count(self, deliverable: str) -> int:
        with self._lock:
            (n,) = self._connection.execute(
                "SELECT COUNT(*) FROM predictions WHERE deliverable = ?", (deliverable,)
            ).fetchone()
        return n

    def close(self) -> None:
        self._connection.close()
