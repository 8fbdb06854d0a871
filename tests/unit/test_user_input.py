"""A user's own file, as a new user brings it: any number of classes, text or numbers, and the ways it
can be wrong (a constant target, numbers too large to square). Plots and metrics, the columns inferred
from the file, the expectations derived from them, the models that read text or numbers, and how an
expected stop is said on the console and in JSON."""

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.metrics import log_loss, precision_score
from sklearn.model_selection import train_test_split

from models.phase1.linear_svm.model import TextLinearSVM
from models.phase1.linear_svm.reference import text_linear_svc
from models.phase1.logistic_regression.model import LogisticRegression
from models.phase1.logistic_regression.reference import scaled_logistic_regression
from models.phase1.naive_bayes.model import TextNaiveBayes
from models.phase1.naive_bayes.reference import text_multinomial_nb
from pipeline.context import make_context
from pipeline.etl import run_etl
from pipeline.plots import PlotData, draw
from pipeline.validate import ValidationFailed, run_validate
from s2p import catalog, metrics
from s2p.config import DeliverableParams
from s2p.sources import DataError


def classes(n_classes: int, labels=None, n_features: int = 4, rows: int = 240, seed: int = 0):
    X, y = datasets.make_classification(
        n_samples=rows, n_features=n_features, n_informative=min(n_features, 3), n_redundant=0,
        n_classes=n_classes, n_clusters_per_class=1, random_state=seed,
    )  # fmt: skip
    y = np.asarray(labels)[y] if labels is not None else y
    return train_test_split(X, y, test_size=0.3, random_state=seed)


def plot_data(X_train, X_test, y_train, y_test, names=None) -> PlotData:
    deliverable = catalog.get("logistic_regression")
    if names is not None:
        from dataclasses import replace

        from s2p.catalog import Column

        deliverable = replace(deliverable, features=tuple(Column(name) for name in names))
    models = {
        "ours": LogisticRegression().fit(X_train, y_train),
        "reference": scaled_logistic_regression().fit(X_train, y_train),
    }
    outputs = {label: model.predict(X_test) for label, model in models.items()}
    return PlotData(deliverable, X_train, y_train, X_test, y_test, models, outputs, [1.0, 0.5], 0)


# -- every plot and metric a classifier declares, for every label set ------------------------------
@pytest.mark.parametrize(
    ("n_classes", "labels"),
    [(4, None), (2, [3, 7]), (3, [-1, 5, 9])],
    ids=["four classes", "labels 3 and 7", "three odd labels"],
)
def test_classifier_plots_draw_for_any_label_set(n_classes, labels, tmp_path):
    X_train, X_test, y_train, y_test = classes(n_classes, labels, n_features=5)
    names = [f"x{i}" for i in range(5)]
    written = draw(("roc", "calibration", "decision_boundary", "confusion_matrix"),
                   plot_data(X_train, X_test, y_train, y_test, names), tmp_path)  # fmt: skip
    assert [path.name for path in written] == [
        "roc.png",
        "calibration.png",
        "decision_boundary.png",
        "confusion_matrix.png",
    ]
    assert all(path.stat().st_size > 5000 for path in written)


def test_decision_regions_on_a_file_of_one_feature(tmp_path):
    X_train, X_test, y_train, y_test = classes(3, n_features=3)
    data = plot_data(X_train[:, :1], X_test[:, :1], y_train, y_test, ["only"])
    assert draw(("decision_boundary", "roc"), data, tmp_path)[0].stat().st_size > 5000


def test_a_class_missing_from_the_test_split_has_no_curve_and_the_rest_draw(tmp_path):
    X_train, X_test, y_train, y_test = classes(4, n_features=4)
    keep = y_test != 2  # three classes left in the test split, four in training
    assert draw(("roc", "calibration"), plot_data(X_train, X_test[keep], y_train, y_test[keep], list("abcd")), tmp_path)


def test_log_loss_over_any_number_of_classes_equals_scikit_learns():
    X_train, X_test, y_train, y_test = classes(4)
    model = LogisticRegression().fit(X_train, y_train)
    ours = metrics.compute(["log_loss"], y_test, model.predict(X_test), X_test, model)["log_loss"]
    assert ours == pytest.approx(log_loss(y_test, model.predict_proba(X_test)), rel=1e-12)


def test_log_loss_of_a_class_never_seen_in_training_is_large_and_finite():
    X_train, X_test, y_train, y_test = classes(3)
    seen = y_train != 2
    model = LogisticRegression().fit(X_train[seen], y_train[seen])
    value = metrics.compute(["log_loss"], y_test, model.predict(X_test), X_test, model)["log_loss"]
    assert np.isfinite(value) and value > 1.0


def test_precision_recall_and_f1_read_any_label_set():
    y_true, y_pred = np.array([3, 7, 7, 3, 7, 7]), np.array([3, 7, 3, 3, 7, 7])
    scores = metrics.compute(["precision", "recall", "f1"], y_true, y_pred)
    assert scores["precision"] == pytest.approx(precision_score(y_true, y_pred, pos_label=7))
    y_true, y_pred = np.array([0, 1, 2, 2, 1, 0]), np.array([0, 2, 2, 2, 1, 0])
    scores = metrics.compute(["precision", "recall", "f1"], y_true, y_pred)
    assert scores["precision"] == pytest.approx(precision_score(y_true, y_pred, average="macro"))
    assert metrics.compute(["precision"], [0, 1, 1], [0, 1, 0])["precision"] == 1.0  # 0/1: of class 1, as before


# -- the columns of a user's file, and the expectations derived from them ------------------------------
def reviews(rows: int = 80) -> pd.DataFrame:
    good, bad = ["a fine and moving film", "great acting, lovely score"], ["a dull waste of time", "awful plot"]
    texts = [f"{(good if i % 2 else bad)[i % 4 // 2]} number {i}" for i in range(rows)]
    return pd.DataFrame({"text": texts, "label": [i % 2 for i in range(rows)]})


def context(stores, frame: pd.DataFrame, path, deliverable: str = "naive_bayes", target: str = "label"):
    frame.to_csv(path, index=False)
    return make_context(catalog.get(deliverable), DeliverableParams(), stores, data=path, target=target)


def test_a_text_file_is_read_as_text_and_passes_validation(stores, tmp_path):
    ctx = context(stores, reviews(), tmp_path / "reviews.csv")
    assert [(c.name, c.dtype) for c in ctx.deliverable.features] == [("text", "text")]
    assert ctx.deliverable.target.dtype == "int"
    run_etl(ctx)
    assert run_validate(ctx).passed


def test_integer_float_and_text_columns_are_inferred(stores, tmp_path):
    frame = pd.DataFrame({"rooms": [1, 2, 3] * 20, "area": np.linspace(30, 90, 60), "y": [0, 1] * 30})
    frame["notes"] = ["corner flat", "garden", "top floor"] * 20
    numeric = context(stores, frame.drop(columns="notes"), tmp_path / "houses.csv", "logistic_regression", "y")
    assert [(c.name, c.dtype) for c in numeric.deliverable.features] == [("rooms", "int"), ("area", "float")]
    with pytest.raises(DataError, match="logistic_regression reads numbers, but column\\(s\\) notes hold text"):
        context(stores, frame, tmp_path / "notes.csv", "logistic_regression", "y")
    with pytest.raises(DataError, match="text column\\(s\\) notes and numeric column\\(s\\) rooms, area"):
        context(stores, frame, tmp_path / "mixed.csv", "naive_bayes", "y")


def test_a_number_column_with_a_few_words_stays_a_number_column(stores, tmp_path):
    frame = pd.DataFrame({"a": np.arange(60.0), "b": np.linspace(0, 1, 60), "y": [0, 1] * 30}).astype({"a": object})
    frame.loc[:2, "a"] = "unknown"
    ctx = context(stores, frame, tmp_path / "words.csv", "logistic_regression", "y")
    assert ctx.deliverable.features[0].dtype == "float"


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["neg", "pos"] * 40, "target 'label' holds values that are not integers \\(e.g. neg, pos\\)"),
        ([0.5, 1.25] * 40, "target 'label' holds 80 non-integer value\\(s\\)"),
    ],
    ids=["text labels", "fractional labels"],
)
def test_a_class_target_must_be_integers(labels, message, stores, tmp_path):
    with pytest.raises(DataError, match=message):
        context(stores, reviews().assign(label=labels), tmp_path / "labels.csv")


def failures(ctx) -> list[str]:
    run_etl(ctx)
    with pytest.raises(ValidationFailed) as caught:
        run_validate(ctx)
    return [failure.line() for failure in caught.value.report.failures]


def test_a_constant_target_is_refused_by_name(stores, tmp_path):
    lines = failures(context(stores, reviews().assign(label=1), tmp_path / "constant.csv"))
    assert lines == [
        "expect_column_unique_value_count_to_be_between on label "
        "(the target label is constant: nothing to learn: observed 1; expected {'min_value': 2})"
    ]
    numbers = pd.DataFrame({"a": np.arange(60.0), "y": 4.0})
    lines = failures(context(stores, numbers, tmp_path / "flat.csv", "linear_regression", "y"))
    assert any("on y" in line and "the target y is constant" in line for line in lines)


def test_blank_text_is_refused_naming_the_column_and_count(stores, tmp_path):
    frame = reviews()
    frame.loc[[3, 6], "text"] = ["   ", "\t"]
    lines = failures(context(stores, frame, tmp_path / "blank.csv"))
    assert len(lines) == 1 and lines[0].startswith("expect_column_values_to_not_match_regex on text: 2 unexpected")
    assert "blank text" in lines[0]


def test_numbers_too_large_to_square_are_refused_naming_the_column_and_count(stores, tmp_path):
    frame = pd.DataFrame({"a": np.linspace(-1, 1, 60), "b": np.linspace(0, 5, 60), "y": [0, 1] * 30})
    frame.loc[:3, "b"] = 1e308
    frame.loc[4, "b"] = -1e200
    lines = failures(context(stores, frame, tmp_path / "huge.csv", "logistic_regression", "y"))
    assert len(lines) == 1 and lines[0].startswith("expect_column_values_to_be_between on b: 5 unexpected")
    assert "|x| <= 1e150" in lines[0] and "overflow" in lines[0]
    frame.loc[:4, "b"] = 1e149  # within the bound: accepted
    ctx = context(stores, frame, tmp_path / "large.csv", "logistic_regression", "y")
    run_etl(ctx)
    assert run_validate(ctx).passed


# -- naive Bayes and the linear SVM choose their form from the data -------------------------------------
def test_gaussian_naive_bayes_on_numbers_equals_scikit_learns():
    X_train, X_test, y_train, _ = train_test_split(*datasets.load_wine(return_X_y=True), random_state=0)
    ours, reference = TextNaiveBayes().fit(X_train, y_train), text_multinomial_nb().fit(X_train, y_train)
    assert ours.form_ == reference.form_ == "numbers"
    assert type(reference.estimator_).__name__ == "GaussianNB"
    np.testing.assert_allclose(ours.predict_proba(X_test), reference.predict_proba(X_test), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X_test), reference.predict(X_test))
    assert np.isfinite(ours.mean_gaps()).all()


def test_naive_bayes_on_text_keeps_its_multinomial_form():
    frame = reviews()
    X, y = frame[["text"]].to_numpy(dtype=object), frame["label"].to_numpy()
    ours, reference = TextNaiveBayes().fit(X, y), text_multinomial_nb().fit(X, y)
    assert ours.form_ == reference.form_ == "text" and ours.top_words(3)["last"]
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-9)


def hinge_optimum(reference, X, y) -> float:
    """LinearSVC's objective divided by C n (ours minimizes that), averaged over its one-vs-rest problems."""
    svc, Z = reference[-1], reference[:-1].transform(X)
    features = np.c_[Z, np.ones(len(Z))]
    weights = np.c_[svc.coef_, svc.intercept_]
    positives = svc.classes_[1:] if len(svc.classes_) == 2 else svc.classes_
    objectives = [
        w @ w / (2 * len(y)) + np.maximum(0.0, 1.0 - np.where(y == label, 1.0, -1.0) * (features @ w)).mean()
        for w, label in zip(weights, positives, strict=True)
    ]
    return float(np.mean(objectives))


@pytest.mark.parametrize("name", ["breast_cancer", "wine"], ids=["two classes", "three classes, one-vs-rest"])
def test_linear_svm_on_standardized_numbers_approaches_linear_svcs_optimum(name):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    ours = TextLinearSVM(max_epochs=300, batch_size=16, random_state=0).fit(X_train, y_train)
    reference = text_linear_svc(max_iter=20000).fit(X_train, y_train)
    assert ours.form_ == reference.form_ == "numbers"
    assert ours.loss_history_[-1] == pytest.approx(hinge_optimum(reference, X_train, y_train), rel=0.05)
    assert ours.score(X_test, y_test) >= reference.score(X_test, y_test) - 0.02
    assert ours.decision_function(X_test).shape == reference.decision_function(X_test).shape


def test_a_mix_of_text_and_numbers_is_refused_by_the_models():
    X = np.array([["a good film", 1.0], ["a bad one", 2.0]], dtype=object)
    for model in (TextNaiveBayes(), TextLinearSVM(), text_multinomial_nb(), text_linear_svc()):
        with pytest.raises(ValueError, match="mixes text and numbers"):
            model.fit(X, [0, 1])


# -- an expected stop: its message alone on the console, a JSON answer --------------------------------
def record(error: BaseException | None, message: str) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, message, None, exc_info)


def test_the_console_drops_the_tracebacks_of_an_expected_stop_and_keeps_those_of_a_bug(stores, tmp_path):
    from s2p.errors import _ExpectedStopFilter
    from scheduler.executor import Outcome, StepsFailed

    ctx = context(stores, reviews().assign(label=1), tmp_path / "constant.csv")
    run_etl(ctx)
    with pytest.raises(ValidationFailed) as caught:
        run_validate(ctx)
    stop = caught.value
    flow_error = StepsFailed({"validate": Outcome("validate", "failed", error=stop)})
    console = _ExpectedStopFilter()
    assert not console.filter(record(stop, "Task run failed with exception: ValidationFailed(...)"))
    assert not console.filter(record(flow_error, "Encountered exception during execution"))
    assert not console.filter(
        record(None, f"Finished in state Failed('Flow run encountered: {str(stop).splitlines()[0]}')")
    )
    assert console.filter(record(None, "etl: 80 rows"))
    assert console.filter(record(ZeroDivisionError("a bug"), "Task run failed with exception: ZeroDivisionError"))
    assert console.filter(
        record(None, "Finished in state Failed('Task run encountered an exception ZeroDivisionError')")
    )


def test_an_expected_stop_reads_as_json_with_its_failures_and_report(stores, tmp_path):
    from s2p.errors import expected_stop, stop_report

    ctx = context(stores, reviews().assign(label=1), tmp_path / "constant.csv")
    run_etl(ctx)
    with pytest.raises(ValidationFailed) as caught:
        run_validate(ctx)
    report = stop_report(caught.value)
    assert expected_stop(caught.value) and report["passed"] is False
    assert report["report"] == str(ctx.paths.failed_validation_report) and ctx.paths.failed_validation_report.exists()
    assert [(f["expectation"], f["column"]) for f in report["failures"]] == [
        ("expect_column_unique_value_count_to_be_between", "label")
    ]
    refused = stop_report(DataError("data file is empty: x.csv"))
    assert refused["failures"][0]["detail"] == "data file is empty: x.csv" and refused["report"] is None
    assert not expected_stop(ZeroDivisionError("a bug"))


def test_monitor_retrain_on_a_users_file_is_refused_with_a_message(stores, tmp_path, capsys):
    from s2p.cli import main

    reviews().to_csv(tmp_path / "reviews.csv", index=False)
    code = main(["monitor", "naive_bayes", "--data", str(tmp_path / "reviews.csv"), "--target", "label", "--retrain"])
    assert code == 1 and "--retrain retrains a deliverable on its own data" in capsys.readouterr().err
