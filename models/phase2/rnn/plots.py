"""The plots of `rnn` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots

PROMPTS = ("The movie", "I", "This film is", "An utterly", "The acting", "It is not")


def generated_text(data: PlotData):
    """What each language model writes after the same prompts (greedy), and the held-out perplexity."""
    import textwrap

    figure, ((axis,),) = subplots(1, 10)
    axis.axis("off")
    prompts = np.array(PROMPTS, dtype=object)[:, None]
    table, lines = [], []
    for who, model in data.models.items():
        continuations = model.predict(prompts)
        lines.append(f"{who}  (perplexity {model.perplexity(data.X_test):.2f})")
        for prompt, continuation in zip(PROMPTS, continuations, strict=True):
            lines.append(textwrap.shorten(f"    {prompt} | {continuation}", 110))
            table.append({"model": who, "prompt": prompt, "continuation": continuation})
        lines.append("")
    axis.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8, transform=axis.transAxes)
    axis.set_title("Prompt | generated continuation")
    return figure, table


PLOTS = {function.__name__: function for function in (generated_text,)}
