"""The plots of `vit`: attention rollout maps of sample test images, and accuracy beside the Phase 2 `cnn`."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots
from s2p.sources import FASHION_CLASSES

#: Sample images per plot: the first test image of each of this many classes.
SAMPLES = 6


def sample_rows(y: np.ndarray, count: int = SAMPLES) -> np.ndarray:
    """Indices of the first row of each of the first ``count`` classes present, in class order."""
    classes = np.unique(y)[:count]
    return np.array([int(np.flatnonzero(y == label)[0]) for label in classes], dtype=int)


def attention_rollout(data: PlotData):
    """For sample test images: the image, and how much of the class token's final vector flows from each
    patch (attention rollout, residual 0.5), ours and the reference (read as ours, reference.as_vit)."""
    import matplotlib.pyplot as plt

    rows = sample_rows(data.y_test)
    images = data.X_test[rows]
    maps = {name: model.attention_rollout(images) for name, model in data.models.items()}  # (k, grid, grid)
    side = images.shape[-1]
    figure, axes = plt.subplots(1 + len(maps), len(rows), figsize=(1.6 * len(rows), 1.7 * (1 + len(maps))))
    axes = np.atleast_2d(axes).reshape(1 + len(maps), len(rows))
    table = []
    for column, row in enumerate(rows):
        image = np.asarray(images[column], dtype=float).reshape(side, side)
        label = data.y_test[row]
        axes[0, column].imshow(image, cmap="gray_r", vmin=0, vmax=1)
        axes[0, column].set_title(FASHION_CLASSES[int(label)] if 0 <= label < 10 else str(label), fontsize=7)
        entry = {"test_row": int(row), "label": int(label)}
        for line, (name, rollout) in enumerate(maps.items(), start=1):
            grid = rollout[column]
            upsampled = np.kron(grid / max(grid.max(), 1e-12), np.ones((side // len(grid), side // len(grid))))
            axis = axes[line, column]
            axis.imshow(image, cmap="gray", vmin=0, vmax=1)
            axis.imshow(upsampled, cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            prediction = int(data.outputs[name][row])
            axis.set_title(f"{name}: {prediction}", fontsize=7, color="black" if prediction == label else "red")
            entry[f"{name}_prediction"] = prediction
            entry[f"{name}_rollout"] = np.round(grid, 5).tolist()
        table.append(entry)
    for axis in axes.ravel():
        axis.axis("off")
    figure.suptitle("Attention rollout: the class token's sources per patch (predicted class above)", fontsize=8)
    return figure, table


def accuracy_beside_cnn(data: PlotData):
    """Test accuracy of the ViT (ours, the reference) beside the Phase 2 `cnn` (our NumPy LeNet and its torch
    twin), read from the cnn's run in the same stores when that run's test split holds exactly these images
    (the same source, size, seed and test share); otherwise the cnn's bars are missing and the table says why."""
    from pipeline.train import split_xy
    from s2p import catalog
    from s2p.files import read_json
    from s2p.paths import Stores

    scores = {f"vit {name}": float(np.mean(np.asarray(y) == data.y_test)) for name, y in data.outputs.items()}
    table = {"test_rows": len(data.y_test), "accuracy": dict(scores), "cnn": None}
    paths = Stores.from_env().run_paths("cnn")
    if not (paths.training_set.is_file() and paths.metrics.is_file()):
        table["cnn"] = f"no cnn run in these stores ({paths.metrics} missing): run `s2p run cnn` at the same size"
    else:
        import pandas as pd

        X_cnn, y_cnn = split_xy(pd.read_parquet(paths.training_set), catalog.get("cnn"), "test")
        same = (
            X_cnn.shape == data.X_test.shape
            and np.array_equal(X_cnn, data.X_test)
            and np.array_equal(y_cnn, data.y_test)
        )
        if same:
            metrics = read_json(paths.metrics)
            scores |= {f"cnn {name}": float(metrics[name]["accuracy"]) for name in ("ours", "reference")}
            table["accuracy"], table["cnn"] = dict(scores), "the cnn's run on the same test split"
        else:
            table["cnn"] = "the cnn's run in these stores has another test split (another size or seed)"
    figure, ((axis,),) = subplots(1, 6)
    names = list(scores)
    bars = axis.bar(
        names,
        [scores[name] for name in names],
        color=["tab:blue", "tab:orange", "tab:green", "tab:olive"][: len(names)],
    )
    axis.bar_label(bars, fmt="%.3f", fontsize=8)
    axis.set(ylim=(0, 1), ylabel="test accuracy", title=f"Fashion-MNIST, {len(data.y_test)} test images")
    axis.tick_params(axis="x", labelsize=8)
    return figure, table


PLOTS = {function.__name__: function for function in (attention_rollout, accuracy_beside_cnn)}
