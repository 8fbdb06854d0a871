"""The user features of the recommender in Feast: their definitions, the read at request time and the
event stream's writes through a push source.

A user's features are their recent history, newest last, at most ``window`` events:

    recent_items   Array(Int64)  the items
    recent_plays   Array(Int64)  the plays of each
    recent_times   Array(Int64)  when (epoch seconds)
    interactions   Int64         every event the user ever had (not only the window)
    version        Int64         the row's version, epoch microseconds: the newest event's time, or one
                                 more than the last version (the online store skips a write that is not
                                 newer than the row it holds: Feast's Redis store compares timestamps)

The batch path computes them from the training events (a parquet file, Feast's offline source) and
materializes them to the online store; the streaming path (``apply_events``) reads a user's row
online, appends the new events and pushes the row back through the PushSource (``store.push``, to
the online store), so the next read sees it. That read-modify-write assumes one writer per user at a
time: a stream processor partitioned by user id (Kafka partitions, one consumer each) gives it.

This module is shipped inside the bento with the model: of ``s2p`` it imports only the
standard-library s2p/feast_locations.py (feast only where used). Store locations are a Feast file
registry or a SQL registry URL, and a SQLite file or a ``redis://`` URL, as s2p's ``S2P_FEAST_REGISTRY`` and
``S2P_FEAST_ONLINE_STORE`` name them; those variables, when set where the model is served, win over
the locations recorded at training (which never hold a password).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from s2p.feast_locations import online_store_config, registry_config

FEATURES = ("recent_items", "recent_plays", "recent_times", "interactions", "version")
JOIN_KEY = "user_id"
REGISTRY_VARIABLE, ONLINE_VARIABLE = "S2P_FEAST_REGISTRY", "S2P_FEAST_ONLINE_STORE"
#: Events of a user's history the online store keeps (the newest).
WINDOW = 50


def epoch_micros(timestamps):
    """Timestamps (a pandas Series, naive ones read as UTC) as whole epoch microseconds, int64."""
    import pandas as pd

    since = pd.to_datetime(timestamps, utc=True) - pd.Timestamp(0, tz="UTC")
    return (since // pd.Timedelta(microseconds=1)).astype("int64")


def epoch_seconds(timestamps):
    """Timestamps as whole epoch seconds, int64."""
    return epoch_micros(timestamps) // 1_000_000


@dataclass(frozen=True)
class UserHistory:
    """What the online store holds of one user: recent items, their plays and times (newest last)."""

    user_id: int
    items: tuple[int, ...] = ()
    plays: tuple[int, ...] = ()
    times: tuple[int, ...] = ()
    interactions: int = 0
    version: int = 0  # epoch microseconds, strictly increasing with each write

    @classmethod
    def empty(cls, user_id: int) -> UserHistory:
        return cls(int(user_id))

    def since(self, moment: int) -> list[tuple[int, float]]:
        """(item, plays) of the events after ``moment`` (epoch seconds)."""
        return [(i, float(p)) for i, p, t in zip(self.items, self.plays, self.times, strict=True) if t > moment]

    def append(self, events: list[tuple[int, int, int]], window: int) -> UserHistory:
        """This history with ``events`` (item, plays, epoch microseconds) added in time order, the newest
        ``window`` kept; ``interactions`` counts every event; the version moves past the last one."""
        newest = max(int(micros) for _, _, micros in events)
        merged = sorted(zip(self.times, self.items, self.plays, strict=True)) + sorted(
            (int(micros) // 1_000_000, int(i), int(p)) for i, p, micros in events
        )
        merged = sorted(merged, key=lambda event: event[0])[-window:]
        return replace(
            self,
            items=tuple(i for _, i, _ in merged),
            plays=tuple(p for _, _, p in merged),
            times=tuple(t for t, _, _ in merged),
            interactions=self.interactions + len(events),
            version=max(self.version + 1, newest),
        )

    def row(self) -> dict:
        """The row Feast stores for this user (a push or the offline source)."""
        return {
            JOIN_KEY: self.user_id,
            "recent_items": list(self.items),
            "recent_plays": list(self.plays),
            "recent_times": list(self.times),
            "interactions": self.interactions,
            "version": self.version,
            "event_timestamp": datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=self.version),
        }


def feature_objects(name: str, source_path: str, window: int = WINDOW):
    """The Feast objects of a run key ``name``: the user entity, the push source (batch source: the
    user features file) and the feature view that both feed (online and offline)."""
    from feast import Entity, FeatureView, Field, FileSource, PushSource
    from feast.types import Array, Int64
    from feast.value_type import ValueType

    entity = Entity(name=f"{name}_user", join_keys=[JOIN_KEY], value_type=ValueType.INT64)
    batch = FileSource(name=f"{name}_users_source", path=source_path, timestamp_field="event_timestamp")
    push = PushSource(name=f"{name}_events", batch_source=batch)
    view = FeatureView(
        name=f"{name}_users",
        entities=[entity],
        ttl=timedelta(0),  # a user's history never expires: the newest row is the state
        schema=[
            Field(name="recent_items", dtype=Array(Int64)),
            Field(name="recent_plays", dtype=Array(Int64)),
            Field(name="recent_times", dtype=Array(Int64)),
            Field(name="interactions", dtype=Int64),
            Field(name="version", dtype=Int64),
        ],
        source=push,
        online=True,
        tags={"deliverable": "recommender", "window": str(window)},
    )
    return entity, push, view


def repo_config(project: str, registry: str, online_store: str, cache_ttl_seconds: int = 60) -> dict:
    """A Feast RepoConfig (as a dict) on these locations: a file or SQL registry, SQLite or Redis."""
    return {
        "project": project,
        "provider": "local",
        "registry": registry_config(registry, cache_ttl_seconds),
        "online_store": online_store_config(online_store),
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }


@dataclass
class UserFeatureStore:
    """Where a run key's user features live and how they are read and pushed (see the module docstring).

    Picklable: the Feast store is opened on first use in each process and never pickled."""

    project: str
    name: str  # the run key: the view is ``{name}_users``, the push source ``{name}_events``
    registry: str
    online_store: str
    window: int = WINDOW
    _feast: object = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key not in ("_feast", "_lock")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _feast=None, _lock=threading.Lock())

    @property
    def view(self) -> str:
        return f"{self.name}_users"

    @property
    def push_source(self) -> str:
        return f"{self.name}_events"

    def locations(self) -> tuple[str, str]:
        """(registry, online store): the environment's where set, else those recorded at training."""
        return (
            os.environ.get(REGISTRY_VARIABLE) or self.registry,
            os.environ.get(ONLINE_VARIABLE) or self.online_store,
        )

    def store(self):
        """The Feast FeatureStore on these locations, opened once per process."""
        if self._feast is None:
            with self._lock:
                if self._feast is None:
                    from feast import FeatureStore, RepoConfig

                    self._feast = FeatureStore(config=RepoConfig(**repo_config(self.project, *self.locations())))
        return self._feast

    def read(self, user_ids: list[int]) -> list[UserHistory]:
        """Each user's history as the online store holds it now (empty for a user it does not hold)."""
        response = (
            self.store()
            .get_online_features(
                features=[f"{self.view}:{name}" for name in FEATURES],
                entity_rows=[{JOIN_KEY: int(user)} for user in user_ids],
            )
            .to_dict()
        )
        histories = []
        for position, user in enumerate(user_ids):
            items = response["recent_items"][position]
            if items is None:
                histories.append(UserHistory.empty(user))
                continue
            histories.append(
                UserHistory(
                    int(user),
                    tuple(int(i) for i in items),
                    tuple(int(p) for p in response["recent_plays"][position]),
                    tuple(int(t) for t in response["recent_times"][position]),
                    int(response["interactions"][position] or 0),
                    int(response["version"][position] or 0),
                )
            )
        return histories

    def push(self, histories: list[UserHistory]) -> None:
        """Write these users' rows to the online store through the push source."""
        import pandas as pd

        if histories:
            frame = pd.DataFrame([history.row() for history in histories])
            self.store().push(self.push_source, frame)

    def apply_events(self, events) -> list[UserHistory]:
        """Fold a batch of events (a DataFrame: user_id, item_id, plays, event_timestamp) into the users'
        online rows: read, append, push. Returns the rows pushed."""
        missing = {JOIN_KEY, "item_id", "plays", "event_timestamp"} - set(events.columns)
        if missing:
            raise ValueError(f"events need columns user_id, item_id, plays, event_timestamp; missing {sorted(missing)}")
        if (events["plays"] < 1).any():
            raise ValueError(f"plays must be at least 1; {int((events['plays'] < 1).sum())} event(s) are not")
        columns = (events[JOIN_KEY], events["item_id"], events["plays"], epoch_micros(events["event_timestamp"]))
        by_user: dict[int, list[tuple[int, int, int]]] = {}
        for user, item, plays, moment in zip(*columns, strict=True):
            by_user.setdefault(int(user), []).append((int(item), int(plays), int(moment)))
        users = sorted(by_user)
        updated = [history.append(by_user[history.user_id], self.window) for history in self.read(users)]
        self.push(updated)
        return updated
