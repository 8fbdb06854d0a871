"""etl: load the source, keep the declared columns, add entity ids, UTC timestamps and a split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.context import RunContext
from s2p import tensors
from s2p.files import write_parquet
from s2p.sources import DataError, load, read_table

#: Bundled datasets carry no time: rows get deterministic timestamps, one hour apart, from here.
EPOCH = pd.Timestamp("2025-01-01", tz="UTC")
KEY_COLUMNS = ("entity_id", "event_timestamp", "split")


@dataclass(frozen=True)
class EtlResult:
    rows: int
    train_rows: int
    test_rows: int
    duplicates_dropped: int
    columns_dropped: list[str]  # source columns the catalog does not declare
    candidate: str


def extract(ctx: RunContext) -> pd.DataFrame:
    source = read_table(ctx.user_data.path) if ctx.user_data is not None else load(ctx.deliverable.source)
    if ctx.new_data is None:
        return source
    return pd.concat([source, pd.read_parquet(ctx.new_data)], ignore_index=True)


def build_dataset(
    raw: pd.DataFrame, columns: list[str], seed: int, test_size: float, size: int | None, split_by: str | None = None
) -> tuple[pd.DataFrame, int]:
    """Keep ``columns``, drop exact duplicate rows, sample ``size`` rows, add keys and the split: rows at
    random, or with ``split_by`` each value of that source column wholly on one side (``grouped_split``).

    Returns the dataset and how many duplicate rows were dropped. Values are not coerced:
    validation judges types and ranges and says what is wrong.
    """
    missing = [column for column in [*columns, *([split_by] if split_by else [])] if column not in raw.columns]
    if missing:
        raise DataError(f"missing column(s): {', '.join(missing)}")
    keep = columns + [column for column in ("entity_id", "event_timestamp") if column in raw.columns]
    keep += [split_by] if split_by and split_by not in keep else []
    frame = raw[keep].copy()
    for column in columns:  # values of mixed types cannot be stored: keep them as text for validation to judge
        kinds = frame[column].map(lambda v: "array" if _is_array(v) else type(v).__name__)
        if (kinds == "array").any() and not (kinds == "array").all():  # an image column with text in it
            odd = frame[column][kinds != "array"]
            raise DataError(f"{column}: {len(odd)} row(s) hold no array of numbers (e.g. {odd.iloc[0]!r:.40})")
        if frame[column].dtype == object and kinds.nunique() > 1:
            frame[column] = frame[column].astype(str)
    arrays = [c for c in columns if frame[c].dtype == object and frame[c].map(_is_array).any()]
    repeated = frame.assign(**{c: tensors.hashable(frame[c]) for c in arrays}).duplicated()
    frame = frame[~repeated].reset_index(drop=True)
    duplicates = int(repeated.sum())
    rng = np.random.default_rng(seed)
    if size is not None and size < len(frame):
        frame = frame.iloc[np.sort(rng.choice(len(frame), size=size, replace=False))].reset_index(drop=True)
    if "entity_id" not in frame.columns:
        frame.insert(0, "entity_id", np.arange(len(frame), dtype=np.int64))
    frame["event_timestamp"] = (
        _utc_timestamps(frame["event_timestamp"])
        if "event_timestamp" in frame.columns
        else EPOCH + pd.to_timedelta(frame["entity_id"].astype("int64"), unit="h")
    )
    if split_by:
        frame["split"] = np.where(grouped_split(frame[split_by], test_size, rng), "test", "train").astype(object)
    else:
        n_test = max(1, round(len(frame) * test_size))
        split = np.full(len(frame), "train", dtype=object)
        split[rng.permutation(len(frame))[:n_test]] = "test"
        frame["split"] = split
    return frame[list(KEY_COLUMNS[:2]) + columns + ["split"]], duplicates


#: Up to this many groups the grouped split searches every subset's size (exact); beyond, it is greedy.
EXACT_GROUPS = 64


def grouped_split(groups: pd.Series, test_size: float, rng: np.random.Generator) -> np.ndarray:
    """Which rows are test rows (bool), each value of ``groups`` wholly on one side and both sides non-empty.

    The test rows number as close to ``test_size`` of all as whole groups allow: up to ``EXACT_GROUPS``
    groups the closest of all subset sizes (a bitset of reachable sums per prefix of the groups, then
    back-tracked), beyond them a greedy pass that takes each group bringing the count closer. The groups
    are visited in an order drawn from ``rng``, which decides between equally close choices.
    """
    codes, values = pd.factorize(groups, sort=True)
    if (codes < 0).any():
        raise DataError(f"{groups.name}: {int((codes < 0).sum())} row(s) have no value to group the split by")
    if len(values) < 2:
        raise DataError(f"{groups.name}: a grouped split needs at least two values, got {list(values)}")
    counts = np.bincount(codes)
    order = rng.permutation(len(values))
    target = test_size * len(codes)
    if len(values) <= EXACT_GROUPS:
        prefixes = [1]  # bit s of prefixes[i]: s rows are reachable with the first i groups of ``order``
        for group in order:
            prefixes.append(prefixes[-1] | prefixes[-1] << int(counts[group]))
        sizes = [s for s in range(1, len(codes)) if prefixes[-1] >> s & 1]
        remaining = min(sizes, key=lambda s: (abs(s - target), s))
        chosen = []
        for i in reversed(range(len(order))):
            if not prefixes[i] >> remaining & 1:  # not reachable without this group: it is in
                chosen.append(order[i])
                remaining -= int(counts[order[i]])
    else:
        chosen, taken = [], 0
        for group in order:
            if abs(taken + counts[group] - target) < abs(taken - target) and taken + counts[group] < len(codes):
                chosen.append(group)
                taken += int(counts[group])
        chosen = chosen or [int(np.argmin(counts))]
    return np.isin(codes, chosen)


def _is_array(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _utc_timestamps(values: pd.Series) -> pd.Series:
    try:
        parsed = pd.to_datetime(values, utc=False, format="ISO8601")
    except (ValueError, TypeError) as error:
        first = str(error).splitlines()[0]
        raise DataError(f"event_timestamp: cannot parse as ISO 8601 times ({first})") from None
    if parsed.dt.tz is None:
        raise DataError("event_timestamp: times have no time zone; give them in UTC (e.g. 2025-01-01T00:00:00Z)")
    parsed = parsed.dt.tz_convert("UTC")
    future = parsed > pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=5)
    if future.any():
        raise DataError(f"event_timestamp: {int(future.sum())} row(s) lie in the future (latest {parsed.max()})")
    return parsed


def run_etl(ctx: RunContext) -> EtlResult:
    """Write the candidate dataset; validation decides whether it becomes the dataset."""
    columns = [*ctx.deliverable.feature_names, ctx.deliverable.target.name]
    raw = extract(ctx)
    frame, duplicates = build_dataset(
        raw, columns, ctx.params.seed, ctx.params.test_size, ctx.params.size, ctx.deliverable.split_by
    )
    write_parquet(ctx.paths.candidate, frame)
    n_test = int((frame["split"] == "test").sum())
    dropped = [str(c) for c in raw.columns if c not in frame.columns]
    return EtlResult(len(frame), len(frame) - n_test, n_test, duplicates, dropped, str(ctx.paths.candidate))
