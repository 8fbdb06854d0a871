"""evaluate: held-out metrics for our model and the reference on the same split, and the plots."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from pipeline import kinds
from pipeline.context import RunContext
from pipeline.plots import PlotData, draw
from pipeline.train import split_xy
from s2p import metrics as metric_functions
from s2p.files import read_json, read_pickle, write_json


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


def run_evaluate(ctx: RunContext) -> Evaluation:
    d = ctx.deliverable
    frame = pd.read_parquet(ctx.paths.training_set)
    X_train, y_train = split_xy(frame, d, "train")
    X, y = split_xy(frame, d, "test")
    models = {"ours": read_pickle(ctx.paths.model), "reference": read_pickle(ctx.paths.reference_model)}
    outputs = {name: kinds.outputs(d, model, X) for name, model in models.items()}
    scores = {
        name: metric_functions.compute(d.metrics, y, outputs[name], X, model, d) for name, model in models.items()
    }
    training, reference_training = read_json(ctx.paths.training_report), read_json(ctx.paths.reference_report)
    reports = {"ours": training, "reference": reference_training}
    data = PlotData(d, X_train, y_train, X, y, models, outputs, training["loss_history"], ctx.params.seed, reports)
    plots = draw(d.plots, data, ctx.paths.plots)
    return record_evaluation(ctx, scores, len(y), plots)


def record_evaluation(ctx: RunContext, scores: dict[str, dict[str, float]], test_rows: int, plots) -> Evaluation:
    """Both models' held-out scores, their fit times (training reports) and the plots, as metrics.json."""
    d = ctx.deliverable
    training, reference_training = read_json(ctx.paths.training_report), read_json(ctx.paths.reference_report)
    evaluation = Evaluation(
        ours=scores["ours"],
        reference=scores["reference"],
        delta={name: scores["ours"][name] - scores["reference"][name] for name in d.metrics},
        fit_seconds={"ours": training["fit_seconds"], "reference": reference_training["fit_seconds"]},
        test_rows=test_rows,
        plots=[str(path) for path in plots],
    )
    write_json(ctx.paths.metrics, evaluation.to_dict())
    return evaluation
