"""The reference: the same two encoders built from torch.nn modules, trained with open_clip's loss.

- image encoder: ``nn.Conv2d`` (kernel = stride = P) as the patch embedding, then
  ``nn.TransformerEncoder`` of ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")`` with no
  mask (torch's multi-head attention on its fused scaled-dot-product kernel), layer norm, projection;
- text encoder: ``nn.Embedding`` and the same ``nn.TransformerEncoder`` under a causal mask, the end
  token's vector, projection;
- loss: open_clip's ``ClipLoss`` as published, (CE(logits_per_image, arange) + CE(logits_per_text,
  arange)) / 2 with ``logit_scale.exp()`` (open_clip itself needs torchvision, which does not import
  beside this torch), through ``F.cross_entropy``.

Around them the same class token, positions, read-outs and learned temperature as ours, the same
initialization (its matrices come in our order and shapes, so one seed gives both networks the same
initial weights), and the same estimator: data, batches, steps, seed, optimizer and schedule are
``CLIPModel``'s.

The same computation, up to float32 rounding: on make run's data and seed both start from equal weights, the
first step's losses are equal and the next ones differ by one rounding (5e-7) until the escape from the
log(batch) plateau, where training is chaotic and amplifies it (5e-5 at step 41, 0.13 at step 75). At 8
epochs (600 steps, recall@1 still rising) the two therefore end as far apart as two seeds of one model:
recall@1 image -> text, ours / reference, 0.761 / 0.778 (seed 42), 0.797 / 0.791 (seed 0), 0.727 / 0.755
(seed 1), against a spread of 0.07 across seeds of ours. Trained to 16 epochs the spread shrinks
(0.853 and 0.852 for ours) and the gaps with it: 0.853 / 0.855 (seed 42), 0.852 / 0.840 (seed 1).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.phase3.clip.model import EOT, CLIPConfig, CLIPModel, init_weights


def open_clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor):
    """open_clip's ClipLoss (one device, no gathering): features L2-normalized, logit_scale = exp(t)."""
    logits_per_image = logit_scale * image_features @ text_features.T
    logits_per_text = logit_scale * text_features @ image_features.T
    labels = torch.arange(len(image_features), device=image_features.device)
    at_least_float32 = torch.promote_types(logits_per_image.dtype, torch.float32)  # under autocast: bfloat16 in
    loss_per_image = F.cross_entropy(logits_per_image.to(at_least_float32), labels)
    return (loss_per_image + F.cross_entropy(logits_per_text.to(at_least_float32), labels)) / 2


def encoder(config: CLIPConfig) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        d_model=config.width,
        nhead=config.n_head,
        dim_feedforward=4 * config.width,
        dropout=config.dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
        bias=False,
    )
    return nn.TransformerEncoder(layer, config.n_layer, enable_nested_tensor=False)


class TorchVisionTransformer(nn.Module):
    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.class_embedding = nn.Parameter(torch.zeros(1, 1, config.width))
        self.positional_embedding = nn.Parameter(torch.zeros(1, config.n_patches + 1, config.width))
        self.patch_embedding = nn.Conv2d(
            config.channels, config.width, config.patch_size, stride=config.patch_size, bias=False
        )
        self.encoder = encoder(config)
        self.ln_post = nn.LayerNorm(config.width, bias=False)
        self.proj = nn.Linear(config.width, config.embed_dim, bias=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(images).flatten(2).transpose(1, 2)  # (batch, patches, width)
        cls = self.class_embedding.expand(len(images), -1, -1)
        x = self.encoder(torch.cat([cls, patches], dim=1) + self.positional_embedding)
        return self.proj(self.ln_post(x[:, 0]))


class TorchTextTransformer(nn.Module):
    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.zeros(config.context_length, config.width))
        self.token_embedding = nn.Embedding(config.vocab_size, config.width)
        self.encoder = encoder(config)
        self.ln_final = nn.LayerNorm(config.width, bias=False)
        self.proj = nn.Linear(config.width, config.embed_dim, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=tokens.device)  # (T, T), -inf above
        x = self.token_embedding(tokens) + self.positional_embedding[:length]
        x = self.ln_final(self.encoder(x, mask=mask, is_causal=True))
        end = (tokens == EOT).int().argmax(dim=1)
        return self.proj(x[torch.arange(len(tokens), device=tokens.device), end])


class TorchCLIP(nn.Module):
    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = config
        seed = int(torch.randint(2**62, ()))  # the initial weights' own draws: see init_weights
        self.logit_scale = nn.Parameter(torch.zeros(()))
        self.visual = TorchVisionTransformer(config)
        self.text = TorchTextTransformer(config)
        init_weights(self, seed)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.visual(images), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(tokens), dim=-1)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=self.config.max_logit_scale)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        image_features, text_features = self.encode_image(images), self.encode_text(tokens)
        return (image_features, text_features), open_clip_loss(image_features, text_features, self.scale())


class TorchCLIPModel(CLIPModel):
    """The reference network trained by our own loop (``CLIPModel``)."""

    def _network(self, config: CLIPConfig) -> nn.Module:
        return TorchCLIP(config)
