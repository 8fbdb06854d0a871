"""The plots of `naive_bayes` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def top_words(data: PlotData):
    """What tells the first class from the last: the words with the largest log-probability ratio
    (multinomial form, on text), or the features whose class means lie furthest apart in pooled
    standard deviations (Gaussian form, on numbers)."""
    model = data.models["ours"]
    first, last = model.classes_[0], model.classes_[-1]
    figure, ((axis,),) = subplots(1, 7)
    if model.form_ == "numbers":
        gaps = model.mean_gaps()
        names = np.array(data.deliverable.feature_names)
        order = np.argsort(np.abs(gaps))[-24:]
        axis.barh(range(len(order)), gaps[order], color=np.where(gaps[order] < 0, "C3", "C2"))
        axis.set_yticks(range(len(order)), names[order], fontsize=7)
        axis.set(xlabel=f"(mean | {last} - mean | {first}) / pooled std", title="Most telling features")
        return figure, {str(name): float(gap) for name, gap in zip(names, gaps, strict=True)}
    words = model.top_words(12)
    pairs = words["first"] + words["last"]
    colors = ["C3"] * len(words["first"]) + ["C2"] * len(words["last"])
    axis.barh(range(len(pairs)), [float(ratio) for _, ratio in pairs], color=colors)
    axis.set_yticks(range(len(pairs)), [str(word) for word, _ in pairs], fontsize=7)
    axis.set(xlabel=f"log P(word | {last}) - log P(word | {first})", title="Most indicative words")
    return figure, {side: [[str(w), float(r)] for w, r in pairs] for side, pairs in words.items()}


PLOTS = {function.__name__: function for function in (top_words,)}
