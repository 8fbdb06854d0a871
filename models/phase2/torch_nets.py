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


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention written out in torch ops, with the parameter layout of
    nn.MultiheadAttention (in_proj_weight / in_proj_bias for q, k, v stacked; out_proj), so that the
    two load each other's weights and give the same outputs (tests/deliverables/test_attention.py)."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} heads")
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, need_weights: bool = True, key_padding_mask=None,
                average_attn_weights: bool = True):  # fmt: skip
        """``key_padding_mask`` (batch, Lk): True at keys not to attend to (padding), as torch's; the
        weights come averaged over heads, or (batch, heads, Lq, Lk) with ``average_attn_weights=False``."""
        batch, length, d_model = query.shape
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        head = d_model // self.heads

        def split(x, w, b):  # (batch, length, d_model) -> (batch, heads, length, head)
            return (x @ w.T + b).view(batch, -1, self.heads, head).transpose(1, 2)

        q, k, v = split(query, w_q, b_q), split(key, w_k, b_k), split(value, w_v, b_v)
        scores = q @ k.transpose(-2, -1) / head**0.5  # (batch, heads, Lq, Lk)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, length, d_model)
        if not need_weights:
            return self.out_proj(out), None
        return self.out_proj(out), (weights.mean(dim=1) if average_attn_weights else weights)


class SequenceModel(nn.Module):
    """Token and position embeddings, ``layers`` blocks of attention and a feed-forward net (each
    with a residual connection and layer norm), and a linear read-out at every position."""

    def __init__(self, vocabulary: int, length: int, d_model: int, heads: int, layers: int, attention: str):
        super().__init__()
        self.token = nn.Embedding(vocabulary, d_model)
        self.position = nn.Embedding(length, d_model)

        def make_attention():
            if attention == "torch":
                return nn.MultiheadAttention(d_model, heads, batch_first=True)
            return MultiHeadAttention(d_model, heads)

        self.attention = nn.ModuleList(make_attention() for _ in range(layers))
        self.norm1 = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(layers))
        self.feed = nn.ModuleList(
            nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.ReLU(), nn.Linear(2 * d_model, d_model))
            for _ in range(layers)
        )
        self.norm2 = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(layers))
        self.out = nn.Linear(d_model, vocabulary)

    def forward(self, tokens, return_weights: bool = False):
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token(tokens) + self.position(positions)
        maps = []
        for attention, norm1, feed, norm2 in zip(self.attention, self.norm1, self.feed, self.norm2, strict=True):
            mixed, weights = attention(x, x, x, need_weights=return_weights)
            x = norm1(x + mixed)
            x = norm2(x + feed(x))
            maps.append(weights)
        logits = self.out(x)
        return (logits, maps) if return_weights else logits


class VAEModule(nn.Module):
    """Encoder and decoder MLPs, and the decoder's log standard deviation (one number)."""

    def __init__(self, features: int, hidden: int, latent: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, features), nn.Sigmoid())
        self.log_scale = nn.Parameter(torch.tensor(-1.0))

    def encode(self, x):
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        return mu, log_var

    def decode(self, z):
        return self.decoder(z)

    def elbo(self, x, variational: bool = True):
        """Per image: E_q[log N(x; x_hat, s^2)] - KL(q || N(0, I)), one draw of z."""
        import math

        mu, log_var = self.encode(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu) if variational else mu
        x_hat = self.decode(z)
        log_scale = self.log_scale.clamp(min=-7.0)
        log_likelihood = -0.5 * (((x - x_hat) / log_scale.exp()) ** 2 + 2 * log_scale + math.log(2 * math.pi))
        kl = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(dim=1) if variational else 0.0
        return log_likelihood.sum(dim=1) - kl


class ConditionalGenerator(nn.Module):
    """Noise and a one-hot class to an image in [0, 1] (flat)."""

    def __init__(self, noise: int, classes: int, hidden: int, features: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(noise + classes, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, features), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, z, onehot):
        return self.net(torch.cat([z, onehot], dim=1))


class ConditionalDiscriminator(nn.Module):
    """An image (flat) and a one-hot class to a logit: real (high) or generated (low)."""

    def __init__(self, classes: int, hidden: int, features: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(features + classes, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )  # fmt: skip

    def forward(self, x, onehot):
        return self.net(torch.cat([x, onehot], dim=1)).squeeze(1)
