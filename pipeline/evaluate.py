"""evaluate: held-out metrics for our model and the reference on the same split, and the plots."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pipeline.context import RunContext
from pipeline.train import split_xy
from s2p import metrics as metric_functions
from s2p.files import atomic_path, read_json, read_pickle, write_json


@dataclass(frozen=True)
class Evaluation:
    ours: dict[str, float]
    reference: dict[str, float]
    delta: dict[str, float]  # ours - reference
    fit_seconds: dict[str, float]
    test_rows: int
    plots: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def plot_loss_curve(losses: list[float], path) -> None:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    if losses:
        axis.plot(np.arange(1, len(losses) + 1), losses)
        axis.set_yscale("log")
    else:
        axis.text(0.5, 0.5, "closed-form fit: no epochs", ha="center", va="center", transform=axis.transAxes)
    axis.set(xlabel="epoch", ylabel="training loss (MSE)", title="Loss curve")
    _save(figure, path)


def plot_residuals(y_true, predictions: dict[str, np.ndarray], path) -> None:
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for label, y_pred in predictions.items():
        left.scatter(y_true, y_pred, s=10, alpha=0.6, label=label)
        right.scatter(y_pred, y_true - y_pred, s=10, alpha=0.6, label=label)
    low, high = float(np.min(y_true)), float(np.max(y_true))
    left.plot([low, high], [low, high], color="black", linewidth=1)
    left.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test)")
    right.axhline(0.0, color="black", linewidth=1)
    right.set(xlabel="predicted", ylabel="residual", title="Residuals (test)")
    left.legend()
    _save(figure, path)


def _save(figure, path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.tight_layout()
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def run_evaluate(ctx: RunContext) -> Evaluation:
    import matplotlib

    matplotlib.use("Agg")
    d = ctx.deliverable
    frame = pd.read_parquet(ctx.paths.training_set)
    X, y = split_xy(frame, d.feature_names, d.target.name, "test")
    ours, reference = read_pickle(ctx.paths.model), read_pickle(ctx.paths.reference_model)
    predictions = {"ours": ours.predict(X), "reference": reference.predict(X)}
    scores = {name: metric_functions.compute(d.metrics, y, y_pred) for name, y_pred in predictions.items()}
    training, reference_training = read_json(ctx.paths.training_report), read_json(ctx.paths.reference_report)
    plots = [ctx.paths.plots / "loss_curve.png", ctx.paths.plots / "residuals.png"]
    plot_loss_curve(training["loss_history"], plots[0])
    plot_residuals(y, predictions, plots[1])
    evaluation = Evaluation(
        ours=scores["ours"],
        reference=scores["reference"],
        delta={name: scores["ours"][name] - scores["reference"][name] for name in d.metrics},
        fit_seconds={"ours": training["fit_seconds"], "reference": reference_training["fit_seconds"]},
        test_rows=len(y),
        plots=[str(path) for path in plots],
    )
    write_json(ctx.paths.metrics, evaluation.to_dict())
    return evaluation
