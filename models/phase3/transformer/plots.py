"""The plots of `transformer` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from models.text import documents, tokenize
from pipeline.plots import PlotData


def sample_sentence(X, shortest: int = 6, longest: int = 12) -> str:
    """The first sentence of X with ``shortest``..``longest`` words (readable tick labels), else the first."""
    texts = documents(X)
    return next((text for text in texts if shortest <= len(tokenize(text)) <= longest), texts[0])


def attention_heads(data: PlotData):
    """Each head's attention over the words of a test sentence (last block), ours above the reference:
    row i is where word i looks."""
    import matplotlib.pyplot as plt

    text = sample_sentence(data.X_test)
    maps = {who: model.attention(text) for who, model in data.models.items()}
    heads = max(len(answer["weights"]) for answer in maps.values())
    figure, axes = plt.subplots(len(maps), heads, figsize=(2.9 * heads, 3.1 * len(maps)), squeeze=False)
    for row, (who, answer) in enumerate(maps.items()):
        tokens = answer["tokens"]
        for head, axis in enumerate(axes[row]):
            if head >= len(answer["weights"]):
                axis.axis("off")
                continue
            axis.imshow(np.asarray(answer["weights"][head]), cmap="viridis", vmin=0, vmax=1)
            ticks = range(len(tokens))
            axis.set_xticks(ticks, tokens, rotation=90, fontsize=6)
            axis.set_yticks(ticks, tokens if head == 0 else [""] * len(tokens), fontsize=6)
            axis.set_title(f"{who}: head {head + 1}", fontsize=8)
    figure.suptitle(f"Attention per head over {text!r:.90}", fontsize=8)
    figure.tight_layout()
    return figure, None


PLOTS = {function.__name__: function for function in (attention_heads,)}
