"""etl's grouped split (pipeline/etl.py ``grouped_split``, a declaration's ``split_by``): each group wholly
on one side, the test share as close to the declared one as whole groups allow, seeded, and bad groups
refused by name."""

import itertools

import numpy as np
import pandas as pd
import pytest

from pipeline.etl import EXACT_GROUPS, build_dataset, grouped_split
from s2p.sources import DataError


def sides_of(groups: pd.Series, test: np.ndarray) -> pd.Series:
    """How many sides each group's rows lie on."""
    return pd.Series(test).groupby(groups.to_numpy()).nunique()


def closest_share(counts: list[int], test_size: float) -> int:
    """Brute force: the test size of the subset of groups closest to the target, both sides non-empty."""
    total = sum(counts)
    sizes = {sum(c) for r in range(1, len(counts)) for c in itertools.combinations(counts, r)}
    return min(sizes, key=lambda s: (abs(s - test_size * total), s))


@pytest.mark.parametrize("seed", range(6))
def test_each_group_lies_on_one_side_at_the_closest_share_whole_groups_allow(seed):
    rng = np.random.default_rng(seed)
    counts = [int(c) for c in rng.integers(1, 40, size=rng.integers(2, 9))]
    groups = pd.Series(np.repeat([f"speaker {i}" for i in range(len(counts))], counts), name="speaker")
    test_size = float(rng.uniform(0.1, 0.5))
    shuffled = groups.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # groups need not be contiguous
    test = grouped_split(shuffled, test_size, rng)
    assert (sides_of(shuffled, test) == 1).all()
    assert test.sum() == closest_share(counts, test_size)
    assert 0 < test.sum() < len(groups)


def test_the_split_is_deterministic_and_the_seed_chooses_between_equally_close_groups():
    groups = pd.Series(np.repeat(list("abcdefgh"), 10), name="voice")  # 8 groups of 10: any 2 make 20%
    first = grouped_split(groups, 0.2, np.random.default_rng(0))
    np.testing.assert_array_equal(first, grouped_split(groups, 0.2, np.random.default_rng(0)))
    chosen = {frozenset(groups[grouped_split(groups, 0.2, np.random.default_rng(seed))]) for seed in range(10)}
    assert all(len(c) == 2 for c in chosen) and len(chosen) > 1


def test_many_groups_split_greedily_near_the_share():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 6, size=EXACT_GROUPS * 4)
    groups = pd.Series(np.repeat(np.arange(len(counts)), counts), name="patient")
    test = grouped_split(groups, 0.25, np.random.default_rng(1))
    assert (sides_of(groups, test) == 1).all()
    assert abs(test.sum() - 0.25 * len(groups)) <= counts.max()


def test_a_grouped_split_refuses_groups_it_cannot_split():
    with pytest.raises(DataError, match="voice: a grouped split needs at least two values"):
        grouped_split(pd.Series(["a"] * 5, name="voice"), 0.2, np.random.default_rng(0))
    with pytest.raises(DataError, match="voice: 1 row"):
        grouped_split(pd.Series(["a", None, "b"], name="voice"), 0.2, np.random.default_rng(0))


def test_build_dataset_splits_by_a_source_column_it_does_not_keep():
    raw = pd.DataFrame({"x": np.arange(60.0), "y": np.arange(60) % 2, "site": np.repeat(["n", "s", "e", "w"], 15)})
    frame, _ = build_dataset(raw, ["x", "y"], seed=0, test_size=0.25, size=None, split_by="site")
    assert list(frame.columns) == ["entity_id", "event_timestamp", "x", "y", "split"]
    sites = raw.set_index("x").loc[frame["x"], "site"].to_numpy()
    assert (frame["split"] == "test").sum() == 15 and len(set(sites[frame["split"] == "test"])) == 1
    assert (sides_of(pd.Series(sites), (frame["split"] == "test").to_numpy()) == 1).all()
    random, _ = build_dataset(raw, ["x", "y"], seed=0, test_size=0.25, size=None)  # the row-wise split as before
    assert (random["split"] == "test").sum() == 15 and len(set(raw["site"][random["split"] == "test"])) > 1
    with pytest.raises(DataError, match=r"missing column.*speaker"):
        build_dataset(raw, ["x", "y"], seed=0, test_size=0.25, size=None, split_by="speaker")
