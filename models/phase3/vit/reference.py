"""The reference: the same ViT built from torch's own layers.

The patch embedding is ``nn.Conv2d`` with kernel = stride = patch size; the stack is ``nn.TransformerEncoder``
of ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")`` (torch's multi-head attention on its
fused kernels and a 4x GELU feed-forward) with a final layer norm. Class token, learned positions, read-out,
initialization (its parameters come in our order and sizes, so one seed gives both networks the same
initial weights) and the estimator (data, loop, optimizer, schedule, seed) are ours. One difference in the
layer itself: torch's feed-forward has a dropout after the activation that GPT-mini's MLP has not (no effect
at dropout 0, the configured value).

``as_vit`` reads the trained reference as our ``ViT`` (the same weights in our layout): its attention
rollout is drawn by the same code as ours.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.phase3.gpt_mini.model import init_gpt_weights
from models.phase3.vit.model import VisionTransformerBase, ViT, ViTConfig

#: Our block's parameter names and those of nn.TransformerEncoderLayer holding the same weights.
BLOCK_NAMES = {
    "attn.qkv.weight": "self_attn.in_proj_weight",  # q, k, v stacked in the same order
    "attn.qkv.bias": "self_attn.in_proj_bias",
    "attn.proj.weight": "self_attn.out_proj.weight",
    "attn.proj.bias": "self_attn.out_proj.bias",
    "mlp.fc.weight": "linear1.weight",
    "mlp.fc.bias": "linear1.bias",
    "mlp.proj.weight": "linear2.weight",
    "mlp.proj.bias": "linear2.bias",
    "ln_1.weight": "norm1.weight",
    "ln_1.bias": "norm1.bias",
    "ln_2.weight": "norm2.weight",
    "ln_2.bias": "norm2.bias",
}


def block_state(layer: nn.TransformerEncoderLayer) -> dict[str, torch.Tensor]:
    """The weights of torch's encoder layer as a state dict of GPT-mini's ``Block``."""
    theirs = layer.state_dict()
    return {ours: theirs[name].detach().clone() for ours, name in BLOCK_NAMES.items() if name in theirs}


class TorchViT(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.n_embd))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.n_tokens, config.n_embd))
        with torch.random.fork_rng(devices=[]):  # as ours: the layers' own draws leave the seed's stream alone
            self.patch_embed = nn.Conv2d(config.channels, config.n_embd, config.patch_size, stride=config.patch_size)
            self.drop = nn.Dropout(config.dropout)
            layer = nn.TransformerEncoderLayer(
                d_model=config.n_embd,
                nhead=config.n_head,
                dim_feedforward=4 * config.n_embd,
                dropout=config.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
                bias=config.bias,
            )
            norm = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.encoder = nn.TransformerEncoder(layer, config.n_layer, norm=norm, enable_nested_tensor=False)
            self.head = nn.Linear(config.n_embd, config.n_classes)
        init_gpt_weights(self, config.n_layer)  # ours: the same draws in the same order

    def forward(self, images: torch.Tensor, targets: torch.Tensor | None = None):
        """images (batch, C, H, W) -> logits (batch, n_classes) and the mean cross-entropy (or None)."""
        patches = self.patch_embed(images).flatten(2).transpose(1, 2)  # (batch, patches, n_embd)
        cls = self.cls_token.expand(len(images), -1, -1)
        x = self.drop(torch.cat([cls, patches], dim=1) + self.pos_embed)  # (batch, tokens, n_embd)
        logits = self.head(self.encoder(x)[:, 0])  # (batch, n_classes)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    def as_vit(self) -> ViT:
        """Our ``ViT`` holding this network's weights (the same function of the images)."""
        state = {
            "cls_token": self.cls_token,
            "pos_embed": self.pos_embed,
            "patch_embed.proj.weight": self.patch_embed.weight.flatten(1),  # (n_embd, C * P * P), (c, i, j)
            "patch_embed.proj.bias": self.patch_embed.bias,
            "ln_f.weight": self.encoder.norm.weight,
            "head.weight": self.head.weight,
            "head.bias": self.head.bias,
        }
        if self.config.bias:
            state["ln_f.bias"] = self.encoder.norm.bias
        for index, layer in enumerate(self.encoder.layers):
            state |= {f"blocks.{index}.{name}": value for name, value in block_state(layer).items()}
        vit = ViT(self.config)
        vit.load_state_dict({name: value.detach().clone() for name, value in state.items()})
        return vit.to(self.cls_token.device).train(self.training)


class TorchVisionTransformerClassifier(VisionTransformerBase):
    """The reference network trained by the same estimator and loop as ours."""

    def _network(self, config: ViTConfig) -> nn.Module:
        return TorchViT(config)
