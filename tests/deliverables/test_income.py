"""income: the adult census loader (data) and our logistic regression against scikit-learn's (oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from models.phase9.income.columns import COLUMNS, FEATURES, TARGET, one_hot_name
from models.phase9.income.data import AdultDataError, adult, encode, read_raw
from models.phase9.income.model import LogisticRegression
from models.phase9.income.reference import scaled_logistic_regression


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Small matrices on shared cores: threaded BLAS oversubscribes them (10x slower here)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return adult()


# -- data ---------------------------------------------------------------------------------------
def test_loader_shape_columns_and_types(table):
    assert table.shape == (32_561, len(COLUMNS) + 1)
    assert list(table.columns) == [*FEATURES, TARGET]
    assert not table.isna().any().any()
    assert all(np.issubdtype(dtype, np.integer) for dtype in table.dtypes)


def test_every_column_lies_in_its_declared_range(table):
    for column in COLUMNS:
        values = table[column.name]
        assert column.min <= values.min() and values.max() <= column.max, column.name
    assert set(table[TARGET]) == {0, 1}


def test_sex_is_male_one_and_income_is_above_50k(table):
    raw = read_raw()
    assert (table["sex"] == (raw["sex"] == "Male")).all()
    assert (table[TARGET] == (raw["income"] == ">50K")).all()
    assert table[TARGET].mean() == pytest.approx(0.2408, abs=1e-4)  # UCI's figure: 7,841 of 32,561


def test_a_users_subset_encodes_to_the_same_columns(table):
    raw = read_raw()
    rows = [5, 17, 400, 31_000]
    subset = encode(raw.iloc[rows].drop(columns=["fnlwgt", "education"]))  # columns it ignores are optional
    pd.testing.assert_frame_equal(subset, table.iloc[rows])
    assert one_hot_name("workclass", "Self-emp-not-inc") == "workclass_self_emp_not_inc"


def test_missing_category_sets_no_column(table):
    missing = read_raw()["workclass"].isna().to_numpy()
    workclass = [name for name in FEATURES if name.startswith("workclass_")]
    assert missing.sum() == 1836
    assert (table.loc[missing, workclass].sum(axis=1) == 0).all()
    assert (table.loc[~missing, workclass].sum(axis=1) == 1).all()


def test_bad_tables_are_refused_naming_the_problem():
    raw = read_raw().head(20)
    with pytest.raises(AdultDataError, match=r"lacks the columns \['race'\]"):
        encode(raw.drop(columns=["race"]))
    with pytest.raises(AdultDataError, match=r"occupation has values outside.*Astronaut"):
        encode(raw.assign(occupation="Astronaut"))
    with pytest.raises(AdultDataError, match=r"non-numeric values in \[.age.\]"):
        encode(raw.assign(age="old"))
    with pytest.raises(AdultDataError, match="income must be"):
        encode(raw.assign(income="rich"))


def test_seeded_subset_for_a_smoke_run():
    first, again = adult(n_rows=3000, random_state=1), adult(n_rows=3000, random_state=1)
    assert first.shape == (3000, len(FEATURES) + 1)
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(AdultDataError, match="n_rows"):
        adult(n_rows=0)


# -- model (oracle) -----------------------------------------------------------------------------
def test_ours_within_one_point_of_scikit_learn(table):
    X, y = table[list(FEATURES)].to_numpy(float), table[TARGET].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    ours = LogisticRegression(C=1.0, random_state=0).fit(X_train, y_train)
    reference = scaled_logistic_regression(C=1.0, max_iter=1000).fit(X_train, y_train)
    ours_accuracy, reference_accuracy = ours.score(X_test, y_test), reference.score(X_test, y_test)
    assert abs(ours_accuracy - reference_accuracy) <= 0.01
    assert ours_accuracy > 0.84  # well above the 0.76 of always answering "<=50K"

    # Same objective (C * log-loss + ||w||^2 / 2 on standardized features): Newton reaches its minimum,
    # lbfgs at its default tolerance stops just short of it.
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    scale[scale == 0] = 1.0

    def objective(weights: np.ndarray, intercept: float) -> float:
        scores = (X_train - mean) / scale @ weights + intercept
        return float(np.sum(np.logaddexp(0.0, scores) - y_train * scores) + 0.5 * weights @ weights)

    ours_objective = objective(ours.coef_[0] * scale, ours.intercept_[0] + ours.coef_[0] @ mean)
    logistic = reference[-1]
    assert ours_objective <= objective(logistic.coef_[0], logistic.intercept_[0]) + 1e-6
