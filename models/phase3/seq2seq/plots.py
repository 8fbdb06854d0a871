"""The plots of `seq2seq`: both models' learning curves, and greedy decoding against beam search."""

from __future__ import annotations

import numpy as np

from models.phase3.seq2seq.data import TASKS, task_of
from models.phase3.seq2seq.metrics import exact_match
from pipeline.plots import PlotData, subplots

#: Held-out rows decoded both ways (beam search costs ``BEAMS`` hypotheses a row), and the width compared.
DECODED_ROWS, BEAMS = 300, 4


def learning_curves(data: PlotData):
    """Training loss per epoch of both models; the first ``pretrain_epochs`` are the denoising objective."""
    figure, ((axis,),) = subplots(1, 7)
    table = []
    for (name, model), colour in zip(data.models.items(), ("tab:blue", "tab:orange"), strict=False):
        losses = list(model.loss_history_)
        epochs = np.arange(1, len(losses) + 1)
        axis.plot(epochs, losses, color=colour, marker="o", label=name)
        table.append({"model": name, "pretrain_epochs": model.pretrain_epochs, "loss_history": losses})
    pretrain = next(iter(data.models.values())).pretrain_epochs
    if pretrain:
        axis.axvspan(0.5, pretrain + 0.5, color="grey", alpha=0.15, label="denoising pretraining")
    axis.set(xlabel="epoch", ylabel="cross-entropy (nats per token)", title="seq2seq: learning curves")
    axis.set_yscale("log")
    axis.legend(fontsize=8)
    return figure, table


def beam_versus_greedy(data: PlotData):
    """Exact match per task of greedy decoding and of beam search (width ``BEAMS``), both models, on the
    first ``DECODED_ROWS`` held-out rows; and the mean log-likelihood of the answers each way chose (over
    the rows where both answers ended within the decoder's positions)."""
    X, y = data.X_test[:DECODED_ROWS], np.asarray(data.y_test, dtype=object)[:DECODED_ROWS]
    tasks = np.array([task_of(source) for source in np.asarray(X, dtype=object).reshape(-1)])
    groups = {"all": np.ones(len(y), dtype=bool)} | {task: tasks == task for task in TASKS}
    figure, ((axis,),) = subplots(1, 8)
    table, width = [], 0.2
    for position, (name, model) in enumerate(data.models.items()):
        answers = {beams: model.decode(X, num_beams=beams) for beams in (1, BEAMS)}
        ended = np.array([all(len(a[i]) < model.block_size for a in answers.values()) for i in range(len(y))])
        for offset, (beams, chosen) in enumerate(answers.items()):
            scores = [exact_match(y[rows], chosen[rows]) if rows.any() else np.nan for rows in groups.values()]
            likelihood = float(np.mean(model.log_likelihood(X[ended], chosen[ended]))) if ended.any() else np.nan
            label = f"{name}, {'greedy' if beams == 1 else f'beam {beams}'}"
            axis.bar(np.arange(len(groups)) + (2 * position + offset - 1.5) * width, scores, width, label=label)
            row = {"model": name, "num_beams": beams, "rows": len(y), "mean_log_likelihood": likelihood,
                   "likelihood_rows": int(ended.sum())}  # fmt: skip
            table.append(row | {f"exact_match_{group}": score for group, score in zip(groups, scores, strict=True)})
    axis.set_xticks(np.arange(len(groups)), list(groups))
    axis.set(ylabel="exact match", ylim=(0, 1.05), title=f"Greedy and beam search, {len(y)} held-out rows")
    axis.legend(fontsize=7)
    return figure, table


PLOTS = {function.__name__: function for function in (learning_curves, beam_versus_greedy)}
