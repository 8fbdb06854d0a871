"""The plots of `linear_svm` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def vs_naive_bayes(data: PlotData):
    """The syllabus's comparison: this model and the reference beside naive Bayes on the same split."""
    from models.phase1.naive_bayes.model import TextNaiveBayes

    bayes = TextNaiveBayes().fit(data.X_train, data.y_train)
    scores = {label: float(np.mean(y_pred == data.y_test)) for label, y_pred in data.outputs.items()}
    scores["naive Bayes (ours)"] = float(np.mean(bayes.predict(data.X_test) == data.y_test))
    figure, ((axis,),) = subplots()
    axis.bar(list(scores), list(scores.values()), color=["C0", "C1", "C2"])
    axis.set_ylim(min(scores.values()) - 0.05, min(1.0, max(scores.values()) + 0.02))
    axis.set(ylabel="accuracy (test)", title="Linear SVM against naive Bayes")
    return figure, scores


PLOTS = {function.__name__: function for function in (vs_naive_bayes,)}
