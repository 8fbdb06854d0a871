"""Torch modules of the Phase 2 models that are more than an nn.Sequential (kept apart so that the
NumPy models import no torch)."""

from __future__ import annotations

import torch
import torch.nn as nn


class CharModel(nn.Module):
    """nn.RNN / nn.GRU / nn.LSTM over one-hot characters and a linear layer to next-character logits."""

    def __init__(self, cell: str, vocabulary: int, hidden: int):
        super().__init__()
        self.recurrent = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell](vocabulary, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocabulary)

    def forward(self, onehot: torch.Tensor, state=None):
        hs, state = self.recurrent(onehot, state)
        return self.out(hs), state
