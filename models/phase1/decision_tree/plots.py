"""The plots of `decision_tree` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


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
    figure, ((left, right),) = subplots(2)
    left.plot(alphas, path["impurities"][:-1], marker="o", drawstyle="steps-post")
    left.set(xlabel="effective alpha", ylabel="total leaf impurity", title="Pruning path (train)")
    right.plot(alphas, accuracy, marker="o", drawstyle="steps-post")
    right.set(xlabel="ccp_alpha", ylabel="accuracy (test)", title="Accuracy of the pruned tree")
    table = [{"ccp_alpha": float(a), "test_accuracy": acc} for a, acc in zip(alphas, accuracy, strict=True)]
    return figure, table


PLOTS = {function.__name__: function for function in (pruning_path,)}
