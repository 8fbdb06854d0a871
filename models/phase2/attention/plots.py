"""The plots of `attention` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

from pipeline.plots import PlotData


def attention_maps(data: PlotData):
    """Last-layer attention (head-averaged) of three test sequences: which input position each
    output position reads, ours beside the reference."""
    import matplotlib.pyplot as plt

    rows = data.X_test[:3]
    figure, axes = plt.subplots(2, len(rows), figsize=(3.2 * len(rows), 6.4), squeeze=False)
    for row, (who, model) in enumerate(data.models.items()):
        maps = model.attention_maps(rows)[-1]
        predicted = model.predict(rows)
        for column, (sequence, weights) in enumerate(zip(rows, maps, strict=True)):
            axis = axes[row, column]
            axis.imshow(weights, cmap="viridis", vmin=0, vmax=1)
            ticks = range(len(sequence))
            axis.set_xticks(ticks, [str(int(v)) for v in sequence], fontsize=7)
            axis.set_yticks(ticks, [str(int(v)) for v in predicted[column]], fontsize=7)
            axis.set(xlabel="input", ylabel="output")
            axis.set_title(f"{who}: sequence {column + 1}", fontsize=8)
    return figure, None


PLOTS = {function.__name__: function for function in (attention_maps,)}
