"""The reference: GPT-mini's configuration built from torch.nn.TransformerEncoderLayer.

Each block is ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")`` under a causal mask:
pre-norm self-attention (torch's multi-head attention, on its fused scaled-dot-product kernel) and a
4x GELU feed-forward. Around them the same token and position embeddings, final layer norm and tied
read-out as ours, the same initialization (its matrices come in our order and shapes, so one seed gives
both networks the same initial weights), and the same estimator: data, steps, seed, optimizer and loop
are ``CausalLanguageModel``'s. One difference in the layer itself: torch's feed-forward adds a dropout
after the activation that nanoGPT's MLP does not have (no effect at dropout 0). Torch's layer keeps no
KV cache, so the reference generates by recomputing the context at each token.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.phase3.gpt_mini.model import CausalLanguageModel, GPTConfig, init_gpt_weights


class TorchTransformerLM(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d_model=config.n_embd,
                nhead=config.n_head,
                dim_feedforward=4 * config.n_embd,
                dropout=config.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
                bias=config.bias,
            )
            for _ in range(config.n_layer)
        )
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        init_gpt_weights(self, config.n_layer)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (batch, T) -> logits (batch, T, vocab) and the mean cross-entropy against targets (or None)."""
        length = idx.size(1)  # idx: (batch, T)
        if length > self.config.block_size:
            raise ValueError(f"{length} positions exceed block_size {self.config.block_size}")
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=idx.device)  # (T, T), -inf above
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(length, device=idx.device)))  # (batch, T, C)
        for block in self.blocks:
            x = block(x, src_mask=mask, is_causal=True)
        logits = self.lm_head(self.ln_f(x))  # (batch, T, vocab)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


class TorchTransformerLanguageModel(CausalLanguageModel):
    """The reference network trained by GPT-mini's own loop (``CausalLanguageModel``)."""

    def _network(self, config: GPTConfig) -> nn.Module:
        return TorchTransformerLM(config)
