"""The plots of `recommender`: recall@10 and nDCG@10 of ours, implicit and the popularity baseline."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def ranking(data: PlotData):
    """Grouped bars per model (``data.outputs``: model name -> its metrics on the held-out events)."""
    rows = [{"model": name, **scores} for name, scores in data.outputs.items()]
    figure, ((axis,),) = subplots(1, 6)
    positions = np.arange(len(rows))
    for offset, metric in enumerate(("recall_at_10", "ndcg_at_10")):
        axis.bar(positions + (offset - 0.5) * 0.4, [row[metric] for row in rows], width=0.4, label=metric)
    axis.set_xticks(positions, [row["model"] for row in rows])
    users = rows[0].get("users", 0) if rows else 0
    axis.set(ylabel="score", title=f"Leave-last-out on {users:,} users")
    axis.legend(fontsize=8)
    return figure, rows


PLOTS = {"ranking": ranking}
