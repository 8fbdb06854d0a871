"""The plots of `dqn`: the return of each training episode, ours and stable-baselines3's."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def training_returns(data: PlotData):
    """Each training episode's return and its moving average over 20 episodes, against environment steps."""
    figure, ((axis,),) = subplots(1, 7)
    table = []
    for (name, report), colour in zip(data.reports.items(), ("tab:blue", "tab:orange"), strict=False):
        returns = np.asarray(report.get("episode_returns") or [], dtype=float)
        if not len(returns):
            continue
        steps = np.cumsum(returns)  # CartPole pays 1 per step: cumulative return is the step count
        axis.plot(steps, returns, color=colour, alpha=0.25, linewidth=0.8)
        window = min(20, len(returns))
        average = np.convolve(returns, np.ones(window) / window, mode="valid")
        axis.plot(steps[window - 1 :], average, color=colour, label=f"{name} (mean of {window})")
        table.append({"model": name, "episodes": len(returns), "last_mean": float(average[-1])})
    axis.set(xlabel="environment steps", ylabel="episode return", title="Training returns")
    axis.legend(fontsize=8)
    return figure, table


PLOTS = {"training_returns": training_returns}
