"""Tensor columns: one array per row (an image, a token sequence), stored flat in the dataset.

Parquet keeps each row's array as a list of numbers, so an image dataset is still one file with
a schema: the catalog column gives the shape and the element range. What cannot be judged on
arrays directly is judged on a per-row profile (size, smallest and largest element, non-finite
count, mean): Great Expectations validates the profile, Feast stores the mean and spread as the
sample's metadata, and drift monitoring compares the means.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: The per-row profile of a tensor column, as extra columns named ``{column}_{stat}``.
PROFILE = ("size", "min", "max", "nonfinite", "mean")
#: What Feast stores for a tensor column: per-sample metadata, ``{column}_{stat}``.
METADATA = ("mean", "std")


def flat(value) -> np.ndarray | None:
    """One row's array as flat float64, or None when it is not an array of numbers."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array.ravel() if array.ndim >= 1 else None


def profile(values: pd.Series, name: str) -> pd.DataFrame:
    """Size, min, max, non-finite count and mean of each row's array (NaN where it is no array)."""
    rows = []
    for value in values:
        array = flat(value)
        if array is None or array.size == 0:
            rows.append((-1.0, math.nan, math.nan, math.nan, math.nan))
            continue
        finite = array[np.isfinite(array)]
        low, high, mean = (finite.min(), finite.max(), finite.mean()) if finite.size else (math.nan,) * 3
        rows.append((float(array.size), low, high, float(array.size - finite.size), mean))
    return pd.DataFrame(rows, columns=[f"{name}_{stat}" for stat in PROFILE], index=values.index)


def metadata(values: pd.Series, name: str) -> pd.DataFrame:
    """The per-sample metadata Feast holds for a tensor column: the mean and spread of each array."""
    arrays = [flat(value) for value in values]
    return pd.DataFrame(
        {f"{name}_mean": [a.mean() for a in arrays], f"{name}_std": [a.std() for a in arrays]}, index=values.index
    )


def stack(values, shape: tuple[int, ...]) -> np.ndarray:
    """Rows of flat arrays as one float64 array of shape (rows, *shape)."""
    size = math.prod(shape)
    arrays = [flat(value) for value in values]
    wrong = [i for i, a in enumerate(arrays) if a is None or a.size != size]
    if wrong:
        raise ValueError(f"{len(wrong)} row(s) (first: {wrong[0]}) are not arrays of {size} numbers (shape {shape})")
    if not arrays:
        return np.empty((0, *shape))
    return np.stack(arrays).reshape(-1, *shape)


def hashable(values: pd.Series) -> pd.Series:
    """Each row's array as bytes, so that exact duplicate rows can be found."""
    return values.map(lambda value: a.tobytes() if (a := flat(value)) is not None else repr(value))
