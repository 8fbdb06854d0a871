"""The plots a deliverable's declaration names, drawn by the evaluate step and logged to MLflow.

Each plot is a function of the same ``PlotData`` (both fitted models, both splits, the training
report); it returns a figure and, for an ablation, a table written beside it as JSON. The plots
here are the shared ones (loss curve, residuals, ROC, calibration, confusion matrix, ...); a plot
only one deliverable draws lives in its folder's plots.py (``PLOTS``), found by ``draw``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from s2p.catalog import Deliverable
from s2p.files import atomic_path, write_json


@dataclass(frozen=True)
class PlotData:
    deliverable: Deliverable
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    models: dict[str, object]  # "ours", "reference": fitted on the training split
    outputs: dict[str, np.ndarray]  # their outputs on the test split (pipeline/kinds.py)
    loss_history: list[float]
    seed: int
    reports: dict = field(default_factory=dict)  # "ours", "reference": their training reports


def subplots(columns: int = 1, width: float = 5.0):
    import matplotlib.pyplot as plt

    return plt.subplots(1, columns, figsize=(width * columns, 4), squeeze=False)


def image_grid(images: np.ndarray, rows: int, columns: int, titles=None, size: float = 1.3):
    """A figure of ``rows`` x ``columns`` greyscale images (ink 0-1), no axes."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.3), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(np.asarray(images[index]).reshape(images[index].shape[-2:]), cmap="gray_r", vmin=0, vmax=1)
            if titles is not None:
                axis.set_title(titles[index], fontsize=7)
    return figure


def principal_plane(X: np.ndarray) -> np.ndarray:
    centred = X - X.mean(axis=0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def loss_curve(data: PlotData):
    figure, ((axis,),) = subplots(1, 6)
    losses = data.loss_history
    if losses:
        axis.plot(np.arange(1, len(losses) + 1), losses)
        axis.set_yscale("log")
    else:
        axis.text(0.5, 0.5, "closed-form fit: no epochs", ha="center", va="center", transform=axis.transAxes)
    axis.set(xlabel="epoch", ylabel="training loss", title="Loss curve")
    return figure, None


def residuals(data: PlotData):
    figure, ((left, right),) = subplots(2)
    y = data.y_test
    for label, y_pred in data.outputs.items():
        left.scatter(y, y_pred, s=10, alpha=0.6, label=label)
        right.scatter(y_pred, y - y_pred, s=10, alpha=0.6, label=label)
    low, high = float(np.min(y)), float(np.max(y))
    left.plot([low, high], [low, high], color="black", linewidth=1)
    left.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test)")
    right.axhline(0.0, color="black", linewidth=1)
    right.set(xlabel="predicted", ylabel="residual", title="Residuals (test)")
    left.legend()
    return figure, None


def class_scores(model, X: np.ndarray) -> np.ndarray:
    """(n, k) scores per class of ``model.classes_``: probabilities where the model gives them, else
    its decision values (a binary decision function scores the second class against the first)."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X))
    scores = np.asarray(model.decision_function(X))
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def one_vs_rest(data: PlotData, label: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(class, whether each test row is of it, the model's score for it): the positive class alone
    for two classes, every class against the rest for more. A class absent from the test split has
    no curve (nothing to rank)."""
    model = data.models[label]
    classes = np.asarray(model.classes_)
    scores = class_scores(model, data.X_test)
    shown = classes[1:] if len(classes) == 2 else classes
    pairs = []
    for value in shown:
        truth = np.asarray(data.y_test) == value
        if truth.any() and not truth.all():
            pairs.append((str(value), truth, scores[:, int(np.flatnonzero(classes == value)[0])]))
    return pairs


def _per_class(data: PlotData, title: str):
    """One panel for two classes (the models side by side), one panel per model for more."""
    binary = all(len(model.classes_) == 2 for model in data.models.values())
    figure, axes = subplots(1 if binary else len(data.models))
    panels = {label: axes[0][0 if binary else i] for i, label in enumerate(data.models)}
    for label, axis in panels.items():
        axis.set_title(title if binary else f"{label}: {title}, one-vs-rest")
    return binary, figure, panels


def roc(data: PlotData):
    """ROC on the test split: of the positive class for two classes, one-vs-rest for more."""
    from sklearn.metrics import roc_auc_score, roc_curve

    binary, figure, panels = _per_class(data, "ROC (test)")
    for label, axis in panels.items():
        for value, truth, scores in one_vs_rest(data, label):
            fpr, tpr, _ = roc_curve(truth, scores)
            name = label if binary else f"class {value}"
            axis.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(truth, scores):.4f})")
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axis.set(xlabel="false positive rate", ylabel="true positive rate")
        axis.legend(fontsize=7)
    return figure, None


def calibration(data: PlotData):
    """Observed frequency against predicted probability on the test split: of the positive class for
    two classes, of each class against the rest for more."""
    from sklearn.calibration import calibration_curve

    binary, figure, panels = _per_class(data, "Calibration (test)")
    for label, axis in panels.items():
        for value, truth, probability in one_vs_rest(data, label):
            observed, predicted = calibration_curve(truth, probability, n_bins=8)
            axis.plot(predicted, observed, marker="o", label=label if binary else f"class {value}")
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axis.set(xlabel="predicted probability", ylabel="observed frequency")
        axis.legend(fontsize=7)
    return figure, None


def class_colours(count: int):
    """A colour map of ``count`` distinct colours, one per class (blue and red for two)."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    if count == 2:
        return matplotlib.colormaps["coolwarm"]
    palette = matplotlib.colormaps["tab10" if count <= 10 else "tab20"]
    return ListedColormap([palette(i % palette.N) for i in range(count)])


def decision_boundary(data: PlotData):
    """Both models refitted on the two most discriminative features (the one feature there is, on
    a file of one), their regions drawn with the test points, every class in its own colour."""
    from sklearn.base import clone
    from sklearn.feature_selection import f_classif

    with np.errstate(divide="ignore", invalid="ignore"):  # a constant feature has no F score
        scores = np.nan_to_num(f_classif(data.X_train, data.y_train)[0], nan=-1.0)
    pair = np.argsort(scores, kind="stable")[-2:][::-1]
    names = [data.deliverable.feature_names[i] for i in pair]
    X, X_test = data.X_train[:, pair], data.X_test[:, pair]
    low, high = X.min(axis=0), X.max(axis=0)
    pad = np.where(high > low, (high - low) * 0.05, 1.0)
    axes_values = [np.linspace(lo - p, hi + p, 150) for lo, hi, p in zip(low, high, pad, strict=True)]
    if len(pair) == 1:  # one feature: regions along it, test points spread vertically to be seen
        axes_values.append(np.linspace(0.0, 1.0, 2))
    grid_x, grid_y = np.meshgrid(*axes_values)
    grid = grid_x.ravel()[:, None] if len(pair) == 1 else np.column_stack([grid_x.ravel(), grid_y.ravel()])
    points_y = X_test[:, 1] if len(pair) == 2 else np.random.default_rng(data.seed).uniform(0.1, 0.9, len(X_test))
    classes = np.unique(np.concatenate([data.y_train, data.y_test]))
    levels = np.arange(len(classes) + 1) - 0.5  # one colour band per class
    cmap = class_colours(len(classes))
    figure, axes = subplots(len(data.models))
    for axis, (label, model) in zip(axes[0], data.models.items(), strict=True):
        fitted = clone(model).fit(X, data.y_train)
        regions = np.searchsorted(classes, fitted.predict(grid)).reshape(grid_x.shape)
        axis.contourf(grid_x, grid_y, regions, levels=levels, alpha=0.3, cmap=cmap)
        colours = np.searchsorted(classes, data.y_test)
        axis.scatter(X_test[:, 0], points_y, c=colours, s=12, cmap=cmap, vmin=levels[0], vmax=levels[-1],
                     edgecolors="k", linewidths=0.3)  # fmt: skip
        ylabel = names[1] if len(pair) == 2 else "(spread)"
        axis.set(xlabel=names[0], ylabel=ylabel, title=f"{label}: decision regions (test points)")
    return figure, None


def confusion_matrix(data: PlotData):
    from sklearn.metrics import confusion_matrix as matrix

    labels = np.unique(np.concatenate([data.y_train, data.y_test]))
    figure, axes = subplots(len(data.outputs), 4.5)
    for axis, (label, y_pred) in zip(axes[0], data.outputs.items(), strict=True):
        counts = matrix(data.y_test, y_pred, labels=labels)
        axis.imshow(counts, cmap="Blues")
        for (i, j), value in np.ndenumerate(counts):
            axis.text(j, i, str(value), ha="center", va="center", fontsize=7)
        axis.set(xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted", ylabel="actual")
        axis.set_title(f"{label}: confusion (test)")
    return figure, None


def feature_importance(data: PlotData):
    names = np.array(data.deliverable.feature_names)
    ours = data.models["ours"].feature_importances_
    theirs = data.models["reference"].feature_importances_
    top = np.argsort(ours + theirs)[-15:]
    figure, ((axis,),) = subplots(1, 7)
    positions = np.arange(len(top))
    axis.barh(positions - 0.2, ours[top], height=0.4, label="ours")
    axis.barh(positions + 0.2, theirs[top], height=0.4, label="reference")
    axis.set_yticks(positions, names[top], fontsize=7)
    axis.set(xlabel="impurity-based importance", title="Feature importance (top 15)")
    axis.legend()
    table = [
        {"feature": str(n), "ours": float(o), "reference": float(r)}
        for n, o, r in zip(names, ours, theirs, strict=True)
    ]
    return figure, table


def clusters_2d(data: PlotData):
    plane = principal_plane(data.X_test)
    panels = {"true classes": data.y_test, **data.outputs}
    figure, axes = subplots(len(panels), 4)
    for axis, (label, labels) in zip(axes[0], panels.items(), strict=True):
        axis.scatter(plane[:, 0], plane[:, 1], c=labels, s=12, cmap="tab10")
        axis.set(xlabel="PC 1", ylabel="PC 2", title=f"{label} (test)")
    return figure, None


def image_predictions(data: PlotData):
    """Test images with the true class and what ours and the reference predicted (wrong ones first)."""
    ours, theirs = data.outputs["ours"], data.outputs["reference"]
    order = np.argsort(ours == data.y_test, kind="stable")[:24]
    titles = [f"{data.y_test[i]}: ours {ours[i]}, ref {theirs[i]}" for i in order]
    figure = image_grid(data.X_test[order], 3, 8, titles, size=1.6)
    figure.suptitle("Test images, true class: predictions (our mistakes first)", fontsize=9)
    return figure, None


PLOTS: dict[str, Callable[[PlotData], tuple]] = {
    function.__name__: function
    for function in (
        loss_curve, residuals, roc, calibration, decision_boundary, confusion_matrix, feature_importance,
        clusters_2d, image_predictions,
    )
}  # fmt: skip


def known_plots(deliverable: Deliverable) -> dict[str, Callable[[PlotData], tuple]]:
    """The shared plots and the deliverable's own (``PLOTS`` in its folder's plots.py, if it has one)."""
    import importlib.util

    own_module = f"{deliverable.package}.plots"
    if not deliverable.package or importlib.util.find_spec(own_module) is None:
        return dict(PLOTS)
    return PLOTS | importlib.import_module(own_module).PLOTS


#: matplotlib is not thread-safe: two flows' evaluate steps drawing at once in the syllabus flow's threads
#: broke its mathtext parser (a log axis's "10^{1}" label: ParseException). One figure at a time.
_DRAWING = threading.Lock()


def draw(names: tuple[str, ...], data: PlotData, folder: Path) -> list[Path]:
    """Draw the named plots into ``folder`` (PNG, atomically); returns the files written."""
    with _DRAWING:
        return _draw(names, data, folder)


def _draw(names: tuple[str, ...], data: PlotData, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    known = known_plots(data.deliverable)
    folder.mkdir(parents=True, exist_ok=True)  # DVC's plots output, even for a deliverable that draws none
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise KeyError(f"unknown plot(s) {unknown}; known: {sorted(known)}")
    written = []
    for name in names:
        figure, table = known[name](data)
        path = folder / f"{name}.png"
        with atomic_path(path) as temporary:
            figure.tight_layout()
            figure.savefig(temporary, format="png", dpi=90)
        plt.close(figure)
        written.append(path)
        if table is not None:
            write_json(folder / f"{name}.json", table)
            written.append(folder / f"{name}.json")
    return written
