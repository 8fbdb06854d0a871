"""The plots of `regularization` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


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
    figure, ((left, right),) = subplots(2)
    for label in data.models:
        left.plot(alphas, [r[f"{label}_rmse"] for r in rows], marker="o", label=label)
        right.plot(alphas, [r[f"{label}_nonzero"] for r in rows], marker="o", label=label)
    left.set(xscale="log", xlabel="alpha", ylabel="RMSE (test)", title="Penalty ablation")
    right.set(xscale="log", xlabel="alpha", ylabel="non-zero coefficients", title="Sparsity")
    left.legend()
    return figure, rows


def dropout_ablation(data: PlotData):
    """A small NumPy network with dropout: held-out RMSE over the dropout rate."""
    from models.phase1.optimizers.model import MLPRegressor

    rates = [0.0, 0.1, 0.2, 0.3, 0.5]
    rows = []
    for rate in rates:
        net = MLPRegressor(hidden=64, activation="relu", dropout=rate, random_state=data.seed)
        net.fit(data.X_train, data.y_train)
        train, test = (float(np.sqrt(np.mean((net.predict(X) - y) ** 2))) for X, y in
                       ((data.X_train, data.y_train), (data.X_test, data.y_test)))  # fmt: skip
        rows.append({"dropout": rate, "train_rmse": train, "test_rmse": test})
    figure, ((axis,),) = subplots()
    axis.plot(rates, [r["train_rmse"] for r in rows], marker="o", label="train")
    axis.plot(rates, [r["test_rmse"] for r in rows], marker="o", label="test")
    axis.set(xlabel="dropout rate", ylabel="RMSE", title="Dropout ablation (NumPy MLP)")
    axis.legend()
    return figure, rows


PLOTS = {
    function.__name__: function
    for function in (
        penalty_ablation,
        dropout_ablation,
    )
}
