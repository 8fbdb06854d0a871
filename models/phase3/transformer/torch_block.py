"""The encoder block and the sentence classifier in torch ops (imported where torch is used).

``EncoderBlock`` is block.py's block written with torch tensors: the Phase 2 multi-head attention
(models/phase2/torch_nets.py, nn.MultiheadAttention's parameter layout), two linear layers and two
layer norms under nn.TransformerEncoderLayer's names, so either loads the other's state_dict and gives
the same output (tests/deliverables/test_transformer.py, 1e-5). ``SentenceNet`` is the classifier:
token embedding + sinusoidal positions, ``n_layer`` blocks (ours, or torch's nn.TransformerEncoderLayer
for the reference), mean or [CLS] pooling over the real tokens, a linear head; its parameter names are
those of the NumPy classifier's ``params_`` (models/phase3/transformer/model.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.phase2.torch_nets import MultiHeadAttention
from models.phase3.transformer.block import LAYER_NORM_EPS, sinusoidal_positions
from models.phase3.transformer.data import PAD

POOLINGS = ("mean", "cls")
BLOCKS = ("ours", "torch")


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int
    n_classes: int = 2
    max_len: int = 64  # positions, [CLS] included
    d_model: int = 64
    n_head: int = 4
    d_ff: int = 128
    n_layer: int = 1
    norm_first: bool = False
    pooling: str = "mean"

    def __post_init__(self):
        for name in ("vocab_size", "n_classes", "max_len", "d_model", "n_head", "d_ff", "n_layer"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head or self.d_model % 2:
            raise ValueError(f"d_model {self.d_model} must be even and divisible by n_head {self.n_head}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")


class EncoderBlock(nn.Module):
    """nn.TransformerEncoderLayer(batch_first=True, dropout=0, activation=relu) in torch ops."""

    def __init__(self, d_model: int, n_head: int, d_ff: int, norm_first: bool = False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_head)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(d_model, eps=LAYER_NORM_EPS)

    def _attend(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        return self.self_attn(x, x, x, need_weights=False, key_padding_mask=padding)[0]

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(F.relu(self.linear1(x)))

    def forward(self, x: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (batch, T, E) -> (batch, T, E); the mask (batch, T) is True at padding."""
        if self.norm_first:
            x = x + self._attend(self.norm1(x), src_key_padding_mask)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._attend(x, src_key_padding_mask))
        return self.norm2(x + self._feed_forward(x))


def torch_block(config: TransformerConfig) -> nn.Module:
    """The reference's block: torch's own layer, configured as ours."""
    return nn.TransformerEncoderLayer(
        config.d_model, config.n_head, config.d_ff, dropout=0.0, activation="relu",
        layer_norm_eps=LAYER_NORM_EPS, batch_first=True, norm_first=config.norm_first,
    )  # fmt: skip


class SentenceNet(nn.Module):
    def __init__(self, config: TransformerConfig, block: str = "ours"):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        positions = torch.from_numpy(sinusoidal_positions(config.max_len, config.d_model)).float()
        self.register_buffer("positions", positions, persistent=False)  # fixed: no parameter
        self.layers = nn.ModuleList(
            EncoderBlock(config.d_model, config.n_head, config.d_ff, config.norm_first)
            if block == "ours"
            else torch_block(config)
            for _ in range(config.n_layer)
        )
        if config.norm_first:  # a pre-norm stack ends with a layer norm
            self.norm = nn.LayerNorm(config.d_model, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(config.d_model, config.n_classes)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (batch, T) -> token embeddings plus positions (batch, T, E)."""
        return self.embedding(ids) + self.positions[: ids.size(1)].to(self.embedding.weight.dtype)

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None):
        """ids (batch, T), [CLS] first and PAD after the sentence -> logits (batch, classes), loss or None."""
        padding = ids == PAD  # (batch, T)
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=padding)
        if self.config.norm_first:
            x = self.norm(x)
        if self.config.pooling == "cls":
            pooled = x[:, 0]
        else:  # the mean over real tokens
            keep = (~padding).unsqueeze(-1).to(x.dtype)  # (batch, T, 1)
            pooled = (x * keep).sum(dim=1) / keep.sum(dim=1)
        logits = self.head(pooled)  # (batch, classes)
        if targets is None:
            return logits, None
        low = logits.dtype in (torch.float16, torch.bfloat16)  # mixed precision: the loss in float32
        return logits, F.cross_entropy(logits.float() if low else logits, targets)

    @torch.inference_mode()
    def attention(self, ids: torch.Tensor, layer: int = -1) -> torch.Tensor:
        """Each head's attention weights in ``layer``: (batch, heads, T, T)."""
        padding = ids == PAD
        x = self.embed(ids)
        index = range(len(self.layers))[layer]
        for block in self.layers[:index]:
            x = block(x, src_key_padding_mask=padding)
        block = self.layers[index]
        h = block.norm1(x) if block.norm_first else x
        kwargs = {"key_padding_mask": padding, "need_weights": True, "average_attn_weights": False}
        return block.self_attn(h, h, h, **kwargs)[1]
