"""The plots of `whisper_mini`: word error rate per test voice, ours against pocketsphinx, with examples."""

from __future__ import annotations

import numpy as np

from models.phase3.whisper_mini.data import HELD_OUT_VOICES
from models.phase3.whisper_mini.metrics import error_rate
from pipeline.plots import PlotData, subplots


def errors_by_voice(data: PlotData):
    """WER of each model on each voice of the test split (held-out voices marked), and the first transcripts
    of the held-out voices in the table."""
    figure, ((axis,),) = subplots(1, 8)
    voices = np.asarray(data.X_test["voice"])
    names = sorted(set(voices), key=lambda v: (v in HELD_OUT_VOICES, v))
    table, width = [], 0.4
    for offset, (who, outputs) in zip((-width / 2, width / 2), data.outputs.items(), strict=False):
        rates = [error_rate(list(data.y_test[voices == v]), list(outputs[voices == v])) for v in names]
        axis.bar(np.arange(len(names)) + offset, rates, width, label=who)
        table += [
            {"model": who, "voice": v, "wer": r, "held_out": v in HELD_OUT_VOICES}
            for v, r in zip(names, rates, strict=True)
        ]
    labels = [f"{v}\n(held out)" if v in HELD_OUT_VOICES else v for v in names]
    axis.set_xticks(np.arange(len(names)), labels, rotation=45, ha="right", fontsize=7)
    axis.set(ylabel="word error rate", title="Word error rate by test voice")
    axis.legend(fontsize=8)
    held = np.flatnonzero(np.isin(voices, HELD_OUT_VOICES))[:8]
    table += [{"said": str(data.y_test[i]), **{who: str(out[i]) for who, out in data.outputs.items()}} for i in held]
    return figure, table


PLOTS = {function.__name__: function for function in (errors_by_voice,)}
