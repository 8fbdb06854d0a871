"""The plots of `tokenizer` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

from pipeline.plots import PlotData, subplots


def compression_by_vocab(data: PlotData):
    """Characters per token on the test texts as the vocabulary grows, ours and the reference, and
    the seconds each took to train."""
    import time

    from sklearn.base import clone

    sizes = [300, 500, 1000, 2000]
    table = []
    characters = sum(len(text) for text in data.X_test[:, 0])
    for size in sizes:
        row = {"vocab_size": size}
        for label, model in data.models.items():
            started = time.perf_counter()
            fitted = clone(model).set_params(vocab_size=size).fit(data.X_train)
            row[f"{label}_train_seconds"] = time.perf_counter() - started
            row[f"{label}_chars_per_token"] = characters / sum(len(ids) for ids in fitted.transform(data.X_test))
        table.append(row)
    figure, ((left, right),) = subplots(2)
    for label in data.models:
        left.plot(sizes, [row[f"{label}_chars_per_token"] for row in table], marker="o", label=label)
        right.plot(sizes, [row[f"{label}_train_seconds"] for row in table], marker="o", label=label)
    left.set(xscale="log", xlabel="vocabulary size", ylabel="characters per token (test)", title="Compression")
    right.set(xscale="log", yscale="log", xlabel="vocabulary size", ylabel="seconds", title="Training time")
    left.legend()
    return figure, table


def tokens_per_text(data: PlotData):
    figure, ((axis,),) = subplots()
    for label, encoded in data.outputs.items():
        axis.hist([len(ids) for ids in encoded], bins=40, alpha=0.6, label=label)
    axis.set(xlabel="tokens per text (test)", ylabel="texts", title="Sequence lengths")
    axis.legend()
    return figure, None


PLOTS = {
    function.__name__: function
    for function in (
        compression_by_vocab,
        tokens_per_text,
    )
}
