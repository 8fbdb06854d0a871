"""The plots of `naive_bayes` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

from pipeline.plots import PlotData, subplots


def top_words(data: PlotData):
    """The words naive Bayes finds most indicative of each class (log-probability ratio)."""
    words = data.models["ours"].top_words(12)
    figure, ((axis,),) = subplots(1, 7)
    pairs = words["first"] + words["last"]
    axis.barh(range(len(pairs)), [float(ratio) for _, ratio in pairs], color=["C3"] * 12 + ["C2"] * 12)
    axis.set_yticks(range(len(pairs)), [str(word) for word, _ in pairs], fontsize=7)
    classes = data.models["ours"].classes_
    axis.set(xlabel=f"log P(word | {classes[-1]}) - log P(word | {classes[0]})", title="Most indicative words")
    return figure, {side: [[str(w), float(r)] for w, r in pairs] for side, pairs in words.items()}


PLOTS = {function.__name__: function for function in (top_words,)}
