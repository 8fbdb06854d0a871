"""The plots of `text_similarity` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def similarity_histogram(data: PlotData):
    """How our similarity separates duplicates from other pairs, and the learned threshold."""
    model = data.models["ours"]
    scores = model.scores(data.X_test)
    figure, ((axis,),) = subplots(1, 6)
    bins = np.linspace(0, 1, 41)
    axis.hist(scores[data.y_test == 1], bins=bins, alpha=0.6, label="near-duplicates")
    axis.hist(scores[data.y_test == 0], bins=bins, alpha=0.6, label="other pairs")
    axis.axvline(model.threshold_, color="black", linestyle="--", label=f"threshold {model.threshold_:.3f}")
    axis.set(xlabel=f"{model.measure} similarity", ylabel="pairs (test)", title="Similarity of test pairs")
    axis.legend()
    return figure, None


def corpus_duplicates(data: PlotData):
    """The corpus-level detector: the test pairs' sentences as one corpus, each near-duplicate a
    planted copy; precision and recall of ours (blocking + bit-parallel LCS) and of rapidfuzz's
    all-pairs ``process.cdist`` at the same threshold."""
    import time

    from rapidfuzz import fuzz, process

    from models.dsa.text_similarity.model import find_near_duplicates

    threshold = data.models["ours"].threshold_
    corpus, truth = [], set()
    for (first, second), label in zip(data.X_test, data.y_test, strict=True):
        if label == 1:  # each sentence once, its planted copy right after it
            truth.add((len(corpus), len(corpus) + 1))
            corpus += [first, second]
    corpus += sorted({first for first, _ in data.X_test} - set(corpus))
    results = {}
    started = time.perf_counter()
    ours = set(find_near_duplicates(corpus, threshold))
    results["ours"] = (ours, time.perf_counter() - started)
    started = time.perf_counter()
    lowered = [text.lower() for text in corpus]
    matrix = process.cdist(lowered, lowered, scorer=fuzz.ratio, score_cutoff=threshold * 100, workers=1)
    found = {(int(i), int(j)) for i, j in zip(*np.nonzero(matrix), strict=True) if i < j}
    results["rapidfuzz"] = (found, time.perf_counter() - started)
    table = {}
    for name, (pairs, seconds) in results.items():
        hits = len(pairs & truth)
        table[name] = {"precision": hits / max(len(pairs), 1), "recall": hits / max(len(truth), 1),
                       "pairs": len(pairs), "seconds": seconds}  # fmt: skip
    figure, ((axis,),) = subplots()
    positions = np.arange(2)
    for offset, name in zip((-0.2, 0.2), table, strict=True):
        axis.bar(positions + offset, [table[name]["precision"], table[name]["recall"]], width=0.4, label=name)
    axis.set_xticks(positions, ["precision", "recall"])
    axis.set(ylim=(0, 1.05), title=f"Near-duplicates in a {len(corpus)}-sentence corpus")
    axis.legend()
    return figure, table


PLOTS = {
    function.__name__: function
    for function in (
        similarity_histogram,
        corpus_duplicates,
    )
}
