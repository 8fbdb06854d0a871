"""fairness_audit: metrics against fairlearn's (oracle), the threshold mitigation on adult (model),
the gate's decisions, the report's files, and what the audit refuses (code)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from models.phase9.fairness_audit import metrics as ours
from models.phase9.fairness_audit.data import MissingColumnsError, audit_split
from models.phase9.fairness_audit.model import FairnessInputError, GroupThresholdClassifier, gate
from models.phase9.fairness_audit.reference import FairlearnThresholdClassifier
from models.phase9.fairness_audit.report import FILES, audit_report
from models.phase9.income.data import FEATURES, adult
from models.phase9.income.model import LogisticRegression


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Small matrices on shared cores: threaded BLAS oversubscribes them (10x slower here)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def upstream():
    """The income model as the audit meets it: fitted on 60% of adult, the other 40% held out."""
    table = adult()
    training, held_out = train_test_split(table, test_size=0.4, random_state=0, stratify=table["income"])
    model = LogisticRegression(random_state=0).fit(training[list(FEATURES)].to_numpy(float), training["income"])
    calibration, test = audit_split(held_out, FEATURES, "sex", "income", calibration_fraction=0.5, random_state=0)
    return model, calibration, test


def fairlearn_figures(y_true, y_pred, group) -> pd.DataFrame:
    frame = MetricFrame(
        metrics={"count": count, "selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
                 "false_positive_rate": false_positive_rate, "accuracy": accuracy_score},
        y_true=y_true, y_pred=y_pred, sensitive_features=group,
    )  # fmt: skip
    return frame.by_group


def assert_same_as_fairlearn(y_true, y_pred, group) -> None:
    table = ours.group_table(y_true, y_pred, group)
    expected = fairlearn_figures(y_true, y_pred, group)
    np.testing.assert_allclose(table[expected.columns].to_numpy(float), expected.to_numpy(float), rtol=0, atol=1e-9)
    assert list(table.index) == list(expected.index)
    summary = ours.fairness_summary(y_true, y_pred, group)
    kwargs = {"sensitive_features": group}
    assert summary["disparate_impact"] == pytest.approx(demographic_parity_ratio(y_true, y_pred, **kwargs), abs=1e-9)
    assert summary["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kwargs), abs=1e-9
    )
    assert summary["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, **kwargs), abs=1e-9
    )
    assert summary["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)


# -- metrics (oracle) ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_fairlearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = 500
    group = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
    y_true = rng.integers(0, 2, n)
    kept = rng.random(n) < pd.Series(group).map({"a": 0.9, "b": 0.6, "c": 0.8}).to_numpy()  # groups differ
    y_pred = np.where(rng.random(n) < 0.7, y_true, 1 - y_true) * kept
    assert_same_as_fairlearn(y_true, y_pred, group)


def test_metrics_equal_fairlearn_on_adult_predictions(upstream):
    model, _, test = upstream
    y_pred = model.predict(test.X.to_numpy(float))
    assert_same_as_fairlearn(test.y, y_pred, test.group)


def test_metrics_refuse_bad_input():
    with pytest.raises(ours.FairnessMetricError, match="lengths differ"):
        ours.group_table([0, 1], [0, 1, 1], [0, 1])
    with pytest.raises(ours.FairnessMetricError, match="y_pred must hold 0/1"):
        ours.fairness_summary([0, 1], [0, 2], [0, 1])


# -- the mitigation (model) ---------------------------------------------------------------------
def test_thresholds_raise_disparate_impact_on_adult(upstream):
    model, calibration, test = upstream
    before = ours.fairness_summary(test.y, model.predict(test.X.to_numpy(float)), test.group)
    mitigated = GroupThresholdClassifier(model, sensitive_feature="sex").fit(calibration.X, calibration.y)
    after = ours.fairness_summary(test.y, mitigated.predict(test.X), test.group)
    assert before["disparate_impact"] < 0.4  # women are selected at a quarter of men's rate
    assert after["disparate_impact"] > 0.8
    assert before["accuracy"] - after["accuracy"] < 0.03
    rates = list(mitigated.calibration_rates_.values())
    assert max(rates) - min(rates) < 2 / min(np.bincount(calibration.group))  # equal up to one row


def test_a_looser_ratio_keeps_its_band_and_loses_less_accuracy(upstream):
    model, calibration, _ = upstream
    exact = GroupThresholdClassifier(model, min_ratio=1.0).fit(calibration.X, calibration.y)
    loose = GroupThresholdClassifier(model, min_ratio=0.8).fit(calibration.X, calibration.y)
    rates = list(loose.calibration_rates_.values())
    assert min(rates) / max(rates) >= 0.8 - 1e-9
    assert loose.calibration_accuracy_ >= exact.calibration_accuracy_


def test_fairlearn_reference_has_the_same_interface_and_effect(upstream):
    model, calibration, test = upstream
    reference = FairlearnThresholdClassifier(model, sensitive_feature="sex", random_state=0)
    y_pred = reference.fit(calibration.X, calibration.y).predict(test.X)
    assert ours.disparate_impact(y_pred, test.group) > 0.8
    np.testing.assert_array_equal(y_pred, reference.predict(test.X))  # random_state fixes its draws


def test_true_positive_rate_parity_narrows_the_tpr_gap(upstream):
    model, calibration, test = upstream
    before = ours.group_table(test.y, model.predict(test.X.to_numpy(float)), test.group)["true_positive_rate"]
    mitigated = GroupThresholdClassifier(model, "sex", constraint="true_positive_rate_parity").fit(
        calibration.X, calibration.y
    )
    after = ours.group_table(test.y, mitigated.predict(test.X), test.group)["true_positive_rate"]
    assert np.ptp(after) < np.ptp(before) / 2


def test_serves_from_feature_rows_pickles_and_clones(upstream):
    model, calibration, test = upstream
    mitigated = GroupThresholdClassifier(model, sensitive_feature="sex").fit(calibration.X, calibration.y)
    expected = mitigated.predict(test.X)
    np.testing.assert_array_equal(mitigated.predict(test.X.to_numpy(float)), expected)  # plain rows, by position
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(mitigated)).predict(test.X), expected)
    assert clone(mitigated).get_params()["sensitive_feature"] == "sex"
    by_position = GroupThresholdClassifier(model, sensitive_feature=FEATURES.index("sex"))
    by_position.fit(calibration.X.to_numpy(float), calibration.y)
    np.testing.assert_array_equal(by_position.predict(test.X.to_numpy(float)), expected)
    with pytest.raises(FairnessInputError, match="'sex' is a name: fit on a DataFrame"):
        GroupThresholdClassifier(model, sensitive_feature="sex").fit(calibration.X.to_numpy(float), calibration.y)


def test_mitigation_refuses_what_it_cannot_use(upstream):
    model, calibration, test = upstream
    with pytest.raises(NotFittedError):
        GroupThresholdClassifier(model).predict(test.X)
    with pytest.raises(FairnessInputError, match="not fitted"):
        GroupThresholdClassifier(LogisticRegression()).fit(calibration.X, calibration.y)
    with pytest.raises(FairnessInputError, match="no sensitive column 'gender'"):
        GroupThresholdClassifier(model, sensitive_feature="gender").fit(calibration.X, calibration.y)
    with pytest.raises(FairnessInputError, match="constraint must be one of"):
        GroupThresholdClassifier(model, constraint="equalized_odds").fit(calibration.X, calibration.y)
    mitigated = GroupThresholdClassifier(model).fit(calibration.X, calibration.y)
    with pytest.raises(FairnessInputError, match=r"groups \[2\] were not in the calibration data"):
        mitigated.predict(test.X.assign(sex=2))


# -- the gate -----------------------------------------------------------------------------------
BEFORE = {"accuracy": 0.853, "disparate_impact": 0.25}


def test_gate_promotes_a_fair_and_accurate_mitigation():
    promote, reason = gate(BEFORE, {"accuracy": 0.840, "disparate_impact": 0.87})
    assert promote
    assert reason.startswith("promoted: ") and "0.250 -> 0.870" in reason and "drop 1.30 points" in reason


def test_gate_refuses_a_disparate_impact_below_the_bar():
    promote, reason = gate(BEFORE, {"accuracy": 0.850, "disparate_impact": 0.79})
    assert not promote
    assert reason.startswith("not promoted (disparate impact too low)") and "< 0.80" in reason


def test_gate_refuses_an_accuracy_drop_above_two_points():
    promote, reason = gate(BEFORE, {"accuracy": 0.830, "disparate_impact": 0.95})
    assert not promote
    assert "accuracy drop too large" in reason and "drop 2.30 points, > 2.00" in reason
    promote, reason = gate(BEFORE, {"accuracy": 0.80, "disparate_impact": 0.5})
    assert "disparate impact too low and accuracy drop too large" in reason
    assert gate(BEFORE, {"accuracy": 0.833, "disparate_impact": 0.8})[0]  # both bars are inclusive


def test_gate_refuses_figures_without_its_keys():
    with pytest.raises(FairnessInputError, match=r"after figures lack \['disparate_impact'\]"):
        gate(BEFORE, {"accuracy": 0.9})


# -- the report ---------------------------------------------------------------------------------
def test_report_writes_its_files_into_the_given_directory(upstream, tmp_path):
    model, calibration, test = upstream
    mitigated = GroupThresholdClassifier(model).fit(calibration.X, calibration.y)
    predictions = {"before": model.predict(test.X.to_numpy(float)), "ours": mitigated.predict(test.X)}
    directory = tmp_path / "fairness_audit"
    report = audit_report(
        directory, test.y, test.group, predictions, group_labels={0: "female", 1: "male"},
        decision=(True, "promoted: a reason"),
    )  # fmt: skip
    assert sorted(p.name for p in directory.iterdir()) == sorted(FILES)  # and no temporary file left
    assert list(report.summary.index) == ["before", "ours"]
    assert set(report.per_group["group"]) == {"female", "male"}
    page = (directory / "fairness_audit.html").read_text()
    assert "promoted: a reason" in page and "data:image/png;base64," in page and "disparate_impact" in page
    written = pd.read_csv(directory / "summary.csv", index_col="model")
    assert written.loc["ours", "disparate_impact"] == pytest.approx(report.summary.loc["ours", "disparate_impact"])
    assert (directory / "group_rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the upstream (data) ------------------------------------------------------------------------
def test_an_upstream_without_required_columns_is_refused_naming_them():
    table = adult(n_rows=500)
    with pytest.raises(MissingColumnsError, match=r"lacks the columns the audit needs: \['age', 'income'\]"):
        audit_split(table.drop(columns=["age", "income"]), FEATURES, "sex", "income")
    with pytest.raises(MissingColumnsError, match="'race' must be one of the upstream model's features"):
        audit_split(table, FEATURES, "race", "income")
    with pytest.raises(ValueError, match="single group"):
        audit_split(table.assign(sex=1), FEATURES, "sex", "income")


def test_an_upstream_without_a_champion_stops_at_validation_naming_it(stores):
    from pipeline.audit import fetch_champion
    from pipeline.context import make_context
    from pipeline.validate import ValidationFailed
    from s2p import catalog
    from s2p.config import params_for

    ctx = make_context(catalog.get("fairness_audit"), params_for(stores.params_file, "fairness_audit"), stores)
    with pytest.raises(ValidationFailed) as stopped:
        fetch_champion(ctx)
    assert "income has no champion" in stopped.value.report.failures[0].detail
    assert "s2p run income" in str(stopped.value)
    assert not ctx.paths.audit_set.exists()


def test_the_audit_gate_promotes_only_within_its_limits_and_says_why(stores):
    from pipeline.context import make_context
    from pipeline.registry import decide
    from s2p import catalog
    from s2p.config import params_for

    ctx = make_context(catalog.get("fairness_audit"), params_for(stores.params_file, "fairness_audit"), stores)
    promoted, why = decide(ctx, 0.93, None, None, "", {"disparate_impact": 0.93, "accuracy_drop": 0.019})
    assert promoted and "meets the threshold 0.8" in why and "accuracy_drop 0.019 within" in why
    promoted, why = decide(ctx, 0.93, None, None, "", {"disparate_impact": 0.93, "accuracy_drop": 0.03})
    assert not promoted and why == "accuracy_drop 0.03 is above 0.02"
    promoted, why = decide(ctx, 0.7, None, None, "", {"disparate_impact": 0.7, "accuracy_drop": 0.01})
    assert not promoted and "misses the threshold" in why
