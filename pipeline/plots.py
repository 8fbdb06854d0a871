"""The plots a deliverable's catalog entry names, drawn by the evaluate step and logged to MLflow.

Each plot is a function of the same ``PlotData`` (both fitted models, both splits, the training
report); it returns a figure and, for an ablation, a table written beside it as JSON. Adding a
plot is adding a function to ``PLOTS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


def _axes(columns: int = 1, width: float = 5.0):
    import matplotlib.pyplot as plt

    return plt.subplots(1, columns, figsize=(width * columns, 4), squeeze=False)


def loss_curve(data: PlotData):
    figure, ((axis,),) = _axes(1, 6)
    losses = data.loss_history
    if losses:
        axis.plot(np.arange(1, len(losses) + 1), losses)
        axis.set_yscale("log")
    else:
        axis.text(0.5, 0.5, "closed-form fit: no epochs", ha="center", va="center", transform=axis.transAxes)
    axis.set(xlabel="epoch", ylabel="training loss", title="Loss curve")
    return figure, None


def residuals(data: PlotData):
    figure, ((left, right),) = _axes(2)
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


def roc(data: PlotData):
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, ((axis,),) = _axes()
    for label, model in data.models.items():
        scores = model.predict_proba(data.X_test)[:, 1]
        fpr, tpr, _ = roc_curve(data.y_test, scores)
        axis.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(data.y_test, scores):.4f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    axis.legend()
    return figure, None


def calibration(data: PlotData):
    from sklearn.calibration import calibration_curve

    figure, ((axis,),) = _axes()
    for label, model in data.models.items():
        observed, predicted = calibration_curve(data.y_test, model.predict_proba(data.X_test)[:, 1], n_bins=8)
        axis.plot(predicted, observed, marker="o", label=label)
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axis.set(xlabel="predicted probability", ylabel="observed frequency", title="Calibration (test)")
    axis.legend()
    return figure, None


def decision_boundary(data: PlotData):
    """Both models refitted on the two most discriminative features, their regions drawn."""
    from sklearn.base import clone
    from sklearn.feature_selection import f_classif

    pair = np.argsort(f_classif(data.X_train, data.y_train)[0])[-2:][::-1]
    names = [data.deliverable.feature_names[i] for i in pair]
    X, X_test = data.X_train[:, pair], data.X_test[:, pair]
    low, high = X.min(axis=0), X.max(axis=0)
    pad = (high - low) * 0.05
    grid_x, grid_y = np.meshgrid(*(np.linspace(lo - p, hi + p, 150) for lo, hi, p in zip(low, high, pad, strict=True)))
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    figure, axes = _axes(len(data.models))
    for axis, (label, model) in zip(axes[0], data.models.items(), strict=True):
        fitted = clone(model).fit(X, data.y_train)
        axis.contourf(grid_x, grid_y, fitted.predict(grid).reshape(grid_x.shape), alpha=0.3, cmap="coolwarm")
        axis.scatter(X_test[:, 0], X_test[:, 1], c=data.y_test, s=12, cmap="coolwarm", edgecolors="k", linewidths=0.3)
        axis.set(xlabel=names[0], ylabel=names[1], title=f"{label}: decision regions (test points)")
    return figure, None


def confusion_matrix(data: PlotData):
    from sklearn.metrics import confusion_matrix as matrix

    labels = np.unique(np.concatenate([data.y_train, data.y_test]))
    figure, axes = _axes(len(data.outputs), 4.5)
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
    figure, ((axis,),) = _axes(1, 7)
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


def pruning_path(data: PlotData):
    """Cost-complexity pruning: impurity and test accuracy of our tree along its pruning path."""
    from sklearn.base import clone

    model = data.models["ours"]
    path = model.cost_complexity_pruning_path(data.X_train, data.y_train)
    alphas = path["ccp_alphas"][:-1]  # the last alpha prunes to the root
    accuracy = [
        float(np.mean(clone(model).set_params(ccp_alpha=a).fit(data.X_train, data.y_train).predict(data.X_test)
                      == data.y_test))
        for a in alphas
    ]  # fmt: skip
    figure, ((left, right),) = _axes(2)
    left.plot(alphas, path["impurities"][:-1], marker="o", drawstyle="steps-post")
    left.set(xlabel="effective alpha", ylabel="total leaf impurity", title="Pruning path (train)")
    right.plot(alphas, accuracy, marker="o", drawstyle="steps-post")
    right.set(xlabel="ccp_alpha", ylabel="accuracy (test)", title="Accuracy of the pruned tree")
    table = [{"ccp_alpha": float(a), "test_accuracy": acc} for a, acc in zip(alphas, accuracy, strict=True)]
    return figure, table


def _over_k(data: PlotData, score: Callable) -> tuple[list[int], list[float]]:
    from sklearn.base import clone

    ks = list(range(2, 11))
    return ks, [score(clone(data.models["ours"]).set_params(n_clusters=k).fit(data.X_train)) for k in ks]


def elbow(data: PlotData):
    ks, inertia = _over_k(data, lambda fitted: fitted.inertia_)
    figure, ((axis,),) = _axes()
    axis.plot(ks, inertia, marker="o")
    axis.set(xlabel="k", ylabel="inertia (train)", title="Elbow")
    return figure, [{"k": k, "inertia": float(v)} for k, v in zip(ks, inertia, strict=True)]


def silhouette(data: PlotData):
    from sklearn.metrics import silhouette_score

    ks, scores = _over_k(data, lambda fitted: silhouette_score(data.X_train, fitted.labels_))
    figure, ((axis,),) = _axes()
    axis.plot(ks, scores, marker="o")
    axis.set(xlabel="k", ylabel="mean silhouette (train)", title="Silhouette by k")
    return figure, [{"k": k, "silhouette": float(v)} for k, v in zip(ks, scores, strict=True)]


def _principal_plane(X: np.ndarray) -> np.ndarray:
    centred = X - X.mean(axis=0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def clusters_2d(data: PlotData):
    plane = _principal_plane(data.X_test)
    panels = {"true classes": data.y_test, **data.outputs}
    figure, axes = _axes(len(panels), 4)
    for axis, (label, labels) in zip(axes[0], panels.items(), strict=True):
        axis.scatter(plane[:, 0], plane[:, 1], c=labels, s=12, cmap="tab10")
        axis.set(xlabel="PC 1", ylabel="PC 2", title=f"{label} (test)")
    return figure, None


def dendrogram(data: PlotData):
    from scipy.cluster.hierarchy import dendrogram as draw

    figure, ((axis,),) = _axes(1, 8)
    draw(data.models["ours"].linkage_matrix_, ax=axis, truncate_mode="lastp", p=30, no_labels=True)
    axis.set(ylabel="merge distance", title=f"Dendrogram ({data.models['ours'].linkage} linkage, train)")
    return figure, None


def explained_variance(data: PlotData):
    figure, ((axis,),) = _axes()
    for label, model in data.models.items():
        ratios = model.explained_variance_ratio_
        axis.plot(np.arange(1, len(ratios) + 1), np.cumsum(ratios), marker=".", label=label)
    axis.set(xlabel="components", ylabel="cumulative explained variance ratio", title="Explained variance (train)")
    axis.legend()
    return figure, None


def projection_2d(data: PlotData):
    figure, axes = _axes(len(data.outputs), 4.5)
    for axis, (label, projected) in zip(axes[0], data.outputs.items(), strict=True):
        points = axis.scatter(projected[:, 0], projected[:, 1], c=data.y_test, s=8, cmap="tab10")
        axis.set(xlabel="component 1", ylabel="component 2", title=f"{label}: 2-D view (test)")
    figure.colorbar(points, ax=axes[0][-1], label=data.deliverable.target.name)
    return figure, None


def penalty_ablation(data: PlotData):
    """Held-out RMSE and non-zero coefficients over the penalty, ours against the reference."""
    from sklearn.base import clone

    alphas = np.logspace(-2, 3, 11)
    rows = []
    for alpha in alphas:
        row = {"alpha": float(alpha)}
        for label, model in data.models.items():
            fitted = clone(model).set_params(alpha=alpha).fit(data.X_train, data.y_train)
            row[f"{label}_rmse"] = float(np.sqrt(np.mean((fitted.predict(data.X_test) - data.y_test) ** 2)))
            row[f"{label}_nonzero"] = int(np.sum(np.abs(fitted.coef_) > 1e-10))
        rows.append(row)
    figure, ((left, right),) = _axes(2)
    for label in data.models:
        left.plot(alphas, [r[f"{label}_rmse"] for r in rows], marker="o", label=label)
        right.plot(alphas, [r[f"{label}_nonzero"] for r in rows], marker="o", label=label)
    left.set(xscale="log", xlabel="alpha", ylabel="RMSE (test)", title="Penalty ablation")
    right.set(xscale="log", xlabel="alpha", ylabel="non-zero coefficients", title="Sparsity")
    left.legend()
    return figure, rows


def dropout_ablation(data: PlotData):
    """A small NumPy network with dropout: held-out RMSE over the dropout rate."""
    from models.phase1.mlp import MLPRegressor

    rates = [0.0, 0.1, 0.2, 0.3, 0.5]
    rows = []
    for rate in rates:
        net = MLPRegressor(hidden=64, activation="relu", dropout=rate, random_state=data.seed)
        net.fit(data.X_train, data.y_train)
        train, test = (float(np.sqrt(np.mean((net.predict(X) - y) ** 2))) for X, y in
                       ((data.X_train, data.y_train), (data.X_test, data.y_test)))  # fmt: skip
        rows.append({"dropout": rate, "train_rmse": train, "test_rmse": test})
    figure, ((axis,),) = _axes()
    axis.plot(rates, [r["train_rmse"] for r in rows], marker="o", label="train")
    axis.plot(rates, [r["test_rmse"] for r in rows], marker="o", label="test")
    axis.set(xlabel="dropout rate", ylabel="RMSE", title="Dropout ablation (NumPy MLP)")
    axis.legend()
    return figure, rows


def top_words(data: PlotData):
    """The words naive Bayes finds most indicative of each class (log-probability ratio)."""
    words = data.models["ours"].top_words(12)
    figure, ((axis,),) = _axes(1, 7)
    pairs = words["first"] + words["last"]
    axis.barh(range(len(pairs)), [float(ratio) for _, ratio in pairs], color=["C3"] * 12 + ["C2"] * 12)
    axis.set_yticks(range(len(pairs)), [str(word) for word, _ in pairs], fontsize=7)
    classes = data.models["ours"].classes_
    axis.set(xlabel=f"log P(word | {classes[-1]}) - log P(word | {classes[0]})", title="Most indicative words")
    return figure, {side: [[str(w), float(r)] for w, r in pairs] for side, pairs in words.items()}


def vs_naive_bayes(data: PlotData):
    """The syllabus's comparison: this model and the reference beside naive Bayes on the same split."""
    from models.phase1.naive_bayes import TextNaiveBayes

    bayes = TextNaiveBayes().fit(data.X_train, data.y_train)
    scores = {label: float(np.mean(y_pred == data.y_test)) for label, y_pred in data.outputs.items()}
    scores["naive Bayes (ours)"] = float(np.mean(bayes.predict(data.X_test) == data.y_test))
    figure, ((axis,),) = _axes()
    axis.bar(list(scores), list(scores.values()), color=["C0", "C1", "C2"])
    axis.set_ylim(min(scores.values()) - 0.05, min(1.0, max(scores.values()) + 0.02))
    axis.set(ylabel="accuracy (test)", title="Linear SVM against naive Bayes")
    return figure, scores


def similarity_histogram(data: PlotData):
    """How our similarity separates duplicates from other pairs, and the learned threshold."""
    model = data.models["ours"]
    scores = model.scores(data.X_test)
    figure, ((axis,),) = _axes(1, 6)
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

    from models.dsa.text_similarity import find_near_duplicates

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
    figure, ((axis,),) = _axes()
    positions = np.arange(2)
    for offset, name in zip((-0.2, 0.2), table, strict=True):
        axis.bar(positions + offset, [table[name]["precision"], table[name]["recall"]], width=0.4, label=name)
    axis.set_xticks(positions, ["precision", "recall"])
    axis.set(ylim=(0, 1.05), title=f"Near-duplicates in a {len(corpus)}-sentence corpus")
    axis.legend()
    return figure, table


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
    figure, ((left, right),) = _axes(2)
    for label in data.models:
        left.plot(sizes, [row[f"{label}_chars_per_token"] for row in table], marker="o", label=label)
        right.plot(sizes, [row[f"{label}_train_seconds"] for row in table], marker="o", label=label)
    left.set(xscale="log", xlabel="vocabulary size", ylabel="characters per token (test)", title="Compression")
    right.set(xscale="log", yscale="log", xlabel="vocabulary size", ylabel="seconds", title="Training time")
    left.legend()
    return figure, table


def tokens_per_text(data: PlotData):
    figure, ((axis,),) = _axes()
    for label, encoded in data.outputs.items():
        axis.hist([len(ids) for ids in encoded], bins=40, alpha=0.6, label=label)
    axis.set(xlabel="tokens per text (test)", ylabel="texts", title="Sequence lengths")
    axis.legend()
    return figure, None


def recall_latency(data: PlotData):
    """Recall@k against milliseconds per query: our three algorithms, scikit-learn's and faiss's."""
    from sklearn.base import clone

    from s2p import metrics
    from s2p.references import FaissIndex, SklearnNeighbourIndex

    ours = data.models["ours"]
    candidates = {f"ours {a}": clone(ours).set_params(algorithm=a) for a in ("brute", "ball_tree", "external")}
    candidates |= {f"sklearn {a}": SklearnNeighbourIndex(ours.k, ours.metric, a) for a in ("brute", "ball_tree")}
    candidates |= {f"faiss {i}": FaissIndex(ours.k, ours.metric, index=i) for i in ("flat", "hnsw")}
    table = {}
    for label, index in candidates.items():
        fitted = index.fit(data.X_train)
        found = fitted.transform(data.X_test)
        table[label] = {
            "recall_at_k": metrics.compute(["recall_at_k"], None, found, data.X_test, fitted)["recall_at_k"],
            "query_ms": metrics.compute(["query_ms"], None, found, data.X_test, fitted)["query_ms"],
        }
    figure, ((axis,),) = _axes(1, 6)
    for label, row in table.items():
        axis.scatter(row["query_ms"], row["recall_at_k"], s=40)
        axis.annotate(
            label, (row["query_ms"], row["recall_at_k"]), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    axis.set(xscale="log", xlabel="ms per query (log)", ylabel=f"recall@{ours.k}", title="Recall against latency")
    return figure, table


def btree_io(data: PlotData):
    """Height and pages read per lookup of our B-tree by order, over 20,000 random keys, and lookup
    time against a binary search in sortedcontainers' SortedList: the disk-page trade-off."""
    import time

    from sortedcontainers import SortedList

    from models.dsa.tree_structures import BTree

    rng = np.random.default_rng(data.seed)
    keys = rng.permutation(20_000).tolist()
    probes = rng.choice(20_000, 2000).tolist()
    reference = SortedList(keys)
    started = time.perf_counter()
    for key in probes:
        reference.bisect_left(key)
    reference_us = (time.perf_counter() - started) / len(probes) * 1e6
    table = []
    for order in (3, 4, 8, 16, 32, 64, 128, 256):
        tree = BTree(order)
        for key in keys:
            tree.insert(key, key)
        tree.pages_read = 0
        started = time.perf_counter()
        for key in probes:
            tree.get(key)
        table.append({"order": order, "height": tree.height(), "pages": len(tree.pages),
                      "pages_read_per_lookup": tree.pages_read / len(probes),
                      "lookup_us": (time.perf_counter() - started) / len(probes) * 1e6,
                      "sortedlist_lookup_us": reference_us})  # fmt: skip
    orders = [row["order"] for row in table]
    figure, ((left, right),) = _axes(2)
    left.plot(orders, [row["pages_read_per_lookup"] for row in table], marker="o", label="pages read per lookup")
    left.plot(orders, np.log(20_000) / np.log(orders), linestyle="--", label="log_m(n)")
    left.set(xscale="log", xlabel="order m", title="B-tree: pages read per lookup")
    left.legend()
    right.plot(orders, [row["lookup_us"] for row in table], marker="o", label="our B-tree")
    right.axhline(reference_us, color="grey", linestyle="--", label="SortedList bisect")
    right.set(xscale="log", xlabel="order m", ylabel="microseconds per lookup", title="Lookup time")
    right.legend()
    return figure, table


#: Learning rates for the optimizer comparison on the test functions (each stable for its method).
RACE = {"gd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "rmsprop": 1e-2, "adam": 5e-2}


def optimizer_paths(data: PlotData):
    """Every optimizer's path on the Rosenbrock valley and on an ill-conditioned quadratic."""
    from models.phase1 import optimizers as o

    figure, ((left, right),) = _axes(2, 5.5)
    grid_x, grid_y = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-1, 3, 200))
    left.contour(grid_x, grid_y, (1 - grid_x) ** 2 + 100 * (grid_y - grid_x**2) ** 2,
                 levels=np.logspace(-1, 3.5, 15), colors="grey", linewidths=0.5)  # fmt: skip
    grid_q = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-2, 2, 200))
    right.contour(*grid_q, 0.5 * (grid_q[0] ** 2 + 100 * grid_q[1] ** 2), levels=15, colors="grey", linewidths=0.5)
    table = {}
    for kind, lr in RACE.items():
        path = o.minimize(kind, o.rosenbrock_gradient, [-1.5, 2.0], lr, 2000)
        left.plot(path[:, 0], path[:, 1], linewidth=1, label=kind)
        quadratic = o.minimize(
            kind, o.quadratic_gradient, [1.8, 1.5], lr * 10 if kind in ("gd", "momentum", "nesterov") else lr, 300
        )
        right.plot(quadratic[:, 0], quadratic[:, 1], linewidth=1, label=kind)
        table[kind] = {"rosenbrock_final": o.rosenbrock(path[-1]), "quadratic_final": o.quadratic(quadratic[-1])}
    left.plot(1, 1, "k*", markersize=10)
    left.set(title="Rosenbrock, 2000 steps", xlim=(-2, 2), ylim=(-1, 3))
    right.set(title="Quadratic, condition 100, 300 steps", xlim=(-2, 2), ylim=(-2, 2))
    left.legend(fontsize=7)
    return figure, table


def optimizer_race(data: PlotData):
    """Training loss by epoch and seconds per epoch of the deliverable's network under each optimizer."""
    import time

    from sklearn.base import clone

    figure, ((left, right),) = _axes(2)
    table = {}
    for kind in RACE:
        model = clone(data.models["ours"]).set_params(optimizer=kind, max_epochs=60)
        started = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        elapsed = time.perf_counter() - started
        left.plot(np.arange(1, len(model.loss_history_) + 1), model.loss_history_, label=kind)
        test_rmse = float(np.sqrt(np.mean((model.predict(data.X_test) - data.y_test) ** 2)))
        table[kind] = {"final_loss": model.loss_history_[-1], "test_rmse": test_rmse,
                       "seconds_per_epoch": elapsed / len(model.loss_history_)}  # fmt: skip
    right.bar(list(table), [row["seconds_per_epoch"] * 1000 for row in table.values()])
    left.set(yscale="log", xlabel="epoch", ylabel="training MSE (standardized)", title="Stability and speed")
    right.set(ylabel="ms per epoch", title="Cost per epoch")
    left.legend(fontsize=7)
    return figure, table


PLOTS: dict[str, Callable[[PlotData], tuple]] = {
    function.__name__: function
    for function in (
        loss_curve, residuals, roc, calibration, decision_boundary, confusion_matrix, feature_importance,
        pruning_path, elbow, silhouette, clusters_2d, dendrogram, explained_variance, projection_2d,
        penalty_ablation, dropout_ablation, top_words, vs_naive_bayes, optimizer_paths, optimizer_race,
        similarity_histogram, corpus_duplicates, compression_by_vocab, tokens_per_text,
        recall_latency, btree_io,
    )
}  # fmt: skip
from pipeline.deep_plots import DEEP_PLOTS  # noqa: E402  (they use PlotData, defined above)

PLOTS |= DEEP_PLOTS


def draw(names: tuple[str, ...], data: PlotData, folder: Path) -> list[Path]:
    """Draw the named plots into ``folder`` (PNG, atomically); returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unknown = sorted(set(names) - set(PLOTS))
    if unknown:
        raise KeyError(f"unknown plot(s) {unknown}; known: {sorted(PLOTS)}")
    written = []
    for name in names:
        figure, table = PLOTS[name](data)
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
