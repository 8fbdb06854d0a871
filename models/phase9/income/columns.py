"""The columns of the adult census table as the income classifier reads it: names, types, ranges.

Plain Python (no NumPy or pandas), so the declaration imports it when the catalog is collected.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

#: The raw file's columns, in order (it has no header).
RAW_COLUMNS = ("age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
               "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
               "income")  # fmt: skip

NUMERIC = ("age", "education_num", "capital_gain", "capital_loss", "hours_per_week")

#: The fixed category lists, as spelled in the file.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "workclass": ("Federal-gov", "Local-gov", "Never-worked", "Private", "Self-emp-inc", "Self-emp-not-inc",
                  "State-gov", "Without-pay"),
    "marital_status": ("Divorced", "Married-AF-spouse", "Married-civ-spouse", "Married-spouse-absent",
                       "Never-married", "Separated", "Widowed"),
    "occupation": ("Adm-clerical", "Armed-Forces", "Craft-repair", "Exec-managerial", "Farming-fishing",
                   "Handlers-cleaners", "Machine-op-inspct", "Other-service", "Priv-house-serv", "Prof-specialty",
                   "Protective-serv", "Sales", "Tech-support", "Transport-moving"),
    "relationship": ("Husband", "Not-in-family", "Other-relative", "Own-child", "Unmarried", "Wife"),
    "race": ("Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"),
    "native_country": ("United-States",),  # every other country (and a missing one) encodes as 0
}  # fmt: skip

SENSITIVE = "sex"
TARGET = "income"


class ColumnSpec(NamedTuple):
    """One column of ``adult()``: its type and the range its values must lie in."""

    name: str
    dtype: Literal["float", "int"]
    min: float
    max: float
    description: str
    varies: bool = True  # False for a one-hot column a few thousand rows may leave constant


def snake(text: str) -> str:
    """A category as a column-name part: ``"Self-emp-not-inc"`` -> ``"self_emp_not_inc"``."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def one_hot_name(column: str, category: str) -> str:
    return f"{column}_{snake(category)}"


def _columns() -> tuple[ColumnSpec, ...]:
    # Ranges are the census extract's own bounds: ages 17 (the extract kept age > 16) to 90 (top-coded),
    # capital amounts top-coded at 99,999, hours at 99; they catch unit mistakes and garbage.
    numeric = (
        ColumnSpec("age", "int", 17, 90, "age in years"),
        ColumnSpec("education_num", "int", 1, 16, "education level, 1 (preschool) to 16 (doctorate)"),
        ColumnSpec("capital_gain", "int", 0, 99_999, "capital gains in the year, dollars"),
        ColumnSpec("capital_loss", "int", 0, 99_999, "capital losses in the year, dollars"),
        ColumnSpec("hours_per_week", "int", 1, 99, "hours worked per week"),
        ColumnSpec(SENSITIVE, "int", 0, 1, "1 = male, 0 = female; the sensitive attribute of the fairness audit"),
    )
    one_hot = tuple(
        ColumnSpec(one_hot_name(column, category), "int", 0, 1, f"1 when {column} is {category}", varies=False)
        for column, categories in CATEGORIES.items()
        for category in categories
    )
    return numeric + one_hot


#: The feature columns of ``adult()``, in order, then the target.
COLUMNS: tuple[ColumnSpec, ...] = _columns()
TARGET_COLUMN = ColumnSpec(TARGET, "int", 0, 1, "1 when the yearly income is above 50K dollars")
FEATURES: tuple[str, ...] = tuple(column.name for column in COLUMNS)
