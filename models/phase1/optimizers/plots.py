"""The plots of `optimizers` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots

RACE = {"gd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "rmsprop": 1e-2, "adam": 5e-2}


def optimizer_paths(data: PlotData):
    """Every optimizer's path on the Rosenbrock valley and on an ill-conditioned quadratic."""
    from models import optim as o

    figure, ((left, right),) = subplots(2, 5.5)
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

    figure, ((left, right),) = subplots(2)
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


PLOTS = {
    function.__name__: function
    for function in (
        optimizer_paths,
        optimizer_race,
    )
}
