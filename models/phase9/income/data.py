"""The adult census data (UCI Adult, 1994 US census extract, 32,561 rows) as a numeric table.

The raw file (``data/adult.data.gz``, see ``data/NOTICE.md``) has 6 numeric and 8 text columns.
``encode`` turns a table of that shape into numbers only:

- numeric columns are kept as they are (``education-num`` renamed ``education_num``); ``fnlwgt`` (the
  census sampling weight, not a trait of the person) and ``education`` (the same as ``education_num``
  in words) are dropped;
- ``sex`` becomes 0/1 (1 = male) and stays a column: it is a feature and the sensitive attribute;
- each other categorical becomes one 0/1 column per category of a fixed list (``CATEGORIES``), named
  ``<column>_<category in snake case>`` (``workclass_self_emp_not_inc``); a missing value ("?" in the
  file) sets none of its columns; a value outside the list is refused, naming it. So any subset of
  rows, a user's included, encodes to the same columns in the same order;
- ``native_country`` is one column, ``native_country_united_states``: 41 countries, 91% of rows in the
  US, most others under 100 rows (a few thousand rows would leave most of their columns constant);
- the target ``income`` is 1 when the income is above 50K, else 0.

``COLUMNS`` describes every column of the result with the range a validation should hold it to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.phase9.income.columns import (
    CATEGORIES,
    FEATURES,
    NUMERIC,
    RAW_COLUMNS,
    SENSITIVE,
    TARGET,
    one_hot_name,
)

DATA_FILE = Path(__file__).parent / "data" / "adult.data.gz"


class AdultDataError(ValueError):
    """A table that cannot be encoded as the adult data (missing columns, unknown values)."""


def read_raw(path: Path = DATA_FILE) -> pd.DataFrame:
    """The raw file as text and numbers, a missing value ("?") as NaN."""
    return pd.read_csv(path, names=list(RAW_COLUMNS), header=None, skipinitialspace=True, na_values="?")


def _income(values: pd.Series) -> np.ndarray:
    text = values.astype(str).str.strip().str.rstrip(".")  # the UCI test file writes ">50K."
    unknown = sorted(set(text) - {"<=50K", ">50K"})
    if unknown:
        raise AdultDataError(f"income must be '<=50K' or '>50K', got {unknown[:5]}")
    return (text == ">50K").to_numpy(np.int64)


def _sex(values: pd.Series) -> np.ndarray:
    unknown = sorted(set(values.dropna()) - {"Female", "Male"})
    if unknown or values.isna().any():
        raise AdultDataError(f"sex must be 'Female' or 'Male' in every row, got {unknown[:5] or 'missing values'}")
    return (values == "Male").to_numpy(np.int64)


def encode(raw: pd.DataFrame) -> pd.DataFrame:
    """A raw adult table (the columns of ``RAW_COLUMNS``, ``fnlwgt`` and ``education`` optional) as
    the numeric table of ``COLUMNS`` plus ``income``."""
    required = [c for c in RAW_COLUMNS if c not in ("fnlwgt", "education")]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise AdultDataError(f"the adult table lacks the columns {missing}")
    numeric = raw[list(NUMERIC)].apply(pd.to_numeric, errors="coerce")
    not_numbers = [name for name in NUMERIC if numeric[name].isna().any()]
    if not_numbers:
        raise AdultDataError(f"missing or non-numeric values in {not_numbers}")
    encoded = {name: numeric[name].to_numpy(np.int64) for name in NUMERIC}
    encoded[SENSITIVE] = _sex(raw[SENSITIVE])
    for column, categories in CATEGORIES.items():
        values = raw[column]
        if column != "native_country":
            unknown = sorted(set(values.dropna()) - set(categories))
            if unknown:
                raise AdultDataError(f"{column} has values outside its category list: {unknown[:5]}")
        for category in categories:
            encoded[one_hot_name(column, category)] = (values == category).to_numpy(np.int64)
    encoded[TARGET] = _income(raw[TARGET])
    return pd.DataFrame(encoded, index=raw.index)[[*FEATURES, TARGET]]


def adult(n_rows: int | None = None, random_state: int = 0) -> pd.DataFrame:
    """The bundled adult data, encoded (32,561 rows, ``len(FEATURES)`` features + ``income``); with
    ``n_rows``, a seeded random subset of that many rows (for a smoke run)."""
    frame = encode(read_raw())
    if n_rows is not None:
        if not 0 < n_rows <= len(frame):
            raise AdultDataError(f"n_rows must be in [1, {len(frame)}], got {n_rows}")
        frame = frame.sample(n=n_rows, random_state=random_state).reset_index(drop=True)
    return frame
