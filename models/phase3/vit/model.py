"""A Vision Transformer written out in torch ops, and the estimator that trains it with the project's loop.

The network (Dosovitskiy et al., 2021, at Fashion-MNIST's scale):

    image (C, H, W) -> non-overlapping P x P patches -> one linear map each (the patch embedding)
    -> [class token; patch embeddings] + learned positions -> ``n_layer`` pre-norm blocks -> layer norm
    -> the class token's vector -> a linear read-out to class logits

The blocks are GPT-mini's (models/phase3/gpt_mini/model.py: multi-head self-attention and a 4x GELU MLP,
x + attn(ln(x)), x + mlp(ln(x))) with the causal mask off: every token sees every other. Attention rollout
(Abnar & Zuidema, 2020) traces how much of the class token's final vector flows from each patch.

``VisionTransformerClassifier`` is a scikit-learn classifier trained by ``TorchEstimator``
(models/phase2/trainer.py: device, mixed precision on cuda, seeding, epochs, checkpoints), with AdamW, a
per-epoch warm-up and cosine learning rate, gradient clipping and optional shift / flip augmentation.
reference.py trains the same configuration built from ``nn.TransformerEncoder`` by the same loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import require_fitted
from models.phase2.network import TorchClassifierMixin, as_images
from models.phase2.trainer import TorchEstimator
from models.phase3.gpt_mini.model import Block, GPTConfig, init_gpt_weights, learning_rate_at
from models.stored import restored, store, stored_document


class ImageShapeError(ValueError):
    """Images whose shape the network was not built for."""


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 28
    patch_size: int = 7
    channels: int = 1
    n_classes: int = 10
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True  # biases in the linear layers and layer norms (ViT's and torch's default)

    def __post_init__(self):
        for name in ("image_size", "patch_size", "channels", "n_classes", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.image_size % self.patch_size:
            raise ValueError(f"patch_size {self.patch_size} does not divide image_size {self.image_size}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")
        self.block_config()  # the blocks' own checks (n_embd divisible by n_head, dropout in [0, 1))

    @property
    def grid(self) -> int:
        """Patches along each side."""
        return self.image_size // self.patch_size

    @property
    def n_tokens(self) -> int:
        """The class token and one token per patch."""
        return self.grid**2 + 1

    def block_config(self) -> GPTConfig:
        """GPT-mini's block configuration, non-causal (a block reads no vocabulary: vocab_size is a placeholder)."""
        return GPTConfig(1, self.n_tokens, self.n_layer, self.n_head, self.n_embd, self.dropout, self.bias, False)


# -- the network ------------------------------------------------------------------------------------
def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(batch, C, H, W) -> (batch, H/P * W/P, C * P * P): patches in row-major order, each flattened (c, i, j)."""
    batch, channels, height, width = images.shape
    x = images.reshape(batch, channels, height // patch, patch, width // patch, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(batch, (height // patch) * (width // patch), channels * patch * patch)


class PatchEmbedding(nn.Module):
    """A linear map of each flattened patch: a convolution with kernel = stride = P, as a matrix product."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.patch_size = config.patch_size
        self.proj = nn.Linear(config.channels * config.patch_size**2, config.n_embd)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(patchify(images, self.patch_size))  # (batch, patches, n_embd)


class ViT(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.n_embd))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.n_tokens, config.n_embd))  # learned positions
        with torch.random.fork_rng(devices=[]):  # the layers' own initial draws leave the seed's stream alone
            self.patch_embed = PatchEmbedding(config)
            self.drop = nn.Dropout(config.dropout)
            self.blocks = nn.ModuleList(Block(config.block_config()) for _ in range(config.n_layer))
            self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.head = nn.Linear(config.n_embd, config.n_classes)
        init_gpt_weights(self, config.n_layer)  # nanoGPT's initialization, drawn in parameter order

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(batch, C, H, W) -> the class token and patch embeddings plus positions: (batch, 1 + patches, n_embd)."""
        patches = self.patch_embed(images)  # (batch, patches, n_embd)
        cls = self.cls_token.expand(len(images), -1, -1)  # (batch, 1, n_embd)
        return self.drop(torch.cat([cls, patches], dim=1) + self.pos_embed)

    def forward(self, images: torch.Tensor, targets: torch.Tensor | None = None):
        """images (batch, C, H, W) -> logits (batch, n_classes) and the mean cross-entropy (or None)."""
        x = self.tokens(images)
        for block in self.blocks:
            x = block(x)  # (batch, tokens, n_embd)
        logits = self.head(self.ln_f(x[:, 0]))  # the class token: (batch, n_classes)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    def attention_weights(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each block's attention weights, (batch, heads, tokens, tokens) per block, rows summing to 1."""
        x, maps = self.tokens(images), []
        for block in self.blocks:
            attn = block.attn
            batch, T, C = x.shape
            q, k, _ = attn.qkv(block.ln_1(x)).split(C, dim=2)  # 2 x (batch, T, C)
            q, k = (t.view(batch, T, attn.n_head, C // attn.n_head).transpose(1, 2) for t in (q, k))
            maps.append(torch.softmax((q * q.size(-1) ** -0.5) @ k.transpose(-2, -1), dim=-1))
            x = block(x)
        return maps


def attention_rollout(maps: list[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """Abnar & Zuidema's rollout: per block the heads' mean attention mixed with the residual path,
    ``residual * I + (1 - residual) * A``, multiplied through the blocks. (batch, tokens, tokens), each row
    a distribution over the input tokens (rows sum to 1)."""
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"residual must lie in [0, 1], got {residual}")
    rollout = None
    for weights in maps:
        mixed = weights.mean(dim=1)  # (batch, T, T)
        eye = torch.eye(mixed.size(-1), dtype=mixed.dtype, device=mixed.device)
        step = residual * eye + (1.0 - residual) * mixed
        step = step / step.sum(dim=-1, keepdim=True)
        rollout = step if rollout is None else step @ rollout  # later blocks act on earlier blocks' mixes
    return rollout


def augment_images(images: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Each image shifted by up to ``max_shift`` pixels each way (zeros fill in) and mirrored left-right
    with probability 1/2, drawn from torch's random state (seeded by the loop, carried by checkpoints)."""
    batch, channels, height, width = images.shape
    device = images.device
    padded = F.pad(images, (max_shift,) * 4)
    dy, dx = (torch.randint(0, 2 * max_shift + 1, (batch,), device=device) for _ in range(2))
    rows = (dy[:, None] + torch.arange(height, device=device))[:, None, :, None]  # (batch, 1, H, 1)
    cols = (dx[:, None] + torch.arange(width, device=device))[:, None, None, :]  # (batch, 1, 1, W)
    index = torch.arange(batch, device=device)[:, None, None, None]
    channel = torch.arange(channels, device=device)[None, :, None, None]
    shifted = padded[index, channel, rows, cols]  # (batch, C, H, W)
    flip = torch.rand(batch, device=device) < 0.5
    return torch.where(flip[:, None, None, None], shifted.flip(-1), shifted)


# -- the estimator -----------------------------------------------------------------------------------
class VisionTransformerBase(TorchClassifierMixin, TorchEstimator):
    """A ViT classifier on images (n, H, W) or (n, C, H, W), ink 0-1; subclasses define ``_network(config)``.

    Fitted: ``module_`` (on the CPU, eval mode), ``config_``, ``classes_``, ``loss_history_`` (mean training
    loss per epoch), ``device_``. ``save`` / ``load`` store a safetensors state dict and a JSON config.
    """

    input_ndim = 4

    def __init__(
        self,
        patch_size: int = 7,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 64,
        dropout: float = 0.0,
        learning_rate: float = 1e-3,
        min_learning_rate: float | None = None,
        warmup_epochs: int = 0,
        weight_decay: float = 0.05,
        clip: float = 1.0,
        augment: bool = False,
        batch_size: int = 128,
        max_epochs: int = 2,
        tol: float = 0.0,
        device: str = "auto",
        precision: str = "auto",
        random_state: int | None = None,
    ):
        self.patch_size = patch_size
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.clip = clip
        self.augment = augment
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _network(self, config: ViTConfig) -> nn.Module:
        raise NotImplementedError

    # -- what TorchEstimator asks for -------------------------------------------------------------------
    def _module(self, X, y):
        n_classes = self._classes(y)
        _, channels, height, width = as_images(X[:1], 4).shape
        if height != width:
            raise ImageShapeError(f"a ViT here reads square images, got {height}x{width}")
        self.config_ = ViTConfig(
            height, self.patch_size, channels, n_classes, self.n_layer, self.n_head, self.n_embd, self.dropout
        )
        return self._network(self.config_)

    def _tensors(self, X, y):
        inputs, targets = super()._tensors(X, y)
        config = getattr(self, "config_", None)
        expected = None if config is None else (config.channels, config.image_size, config.image_size)
        if expected is not None and tuple(inputs.shape[1:]) != expected:
            raise ImageShapeError(
                f"images must be {'x'.join(map(str, expected))} (channels x height x width), "
                f"got {'x'.join(map(str, inputs.shape[1:]))}"
            )
        return inputs, targets

    def _loss(self, module, inputs, targets):
        if self.augment and module.training:
            inputs = augment_images(inputs)
        return module(inputs, targets)[1]

    def _optimizer(self, parameters):
        """AdamW with weight decay on the weight matrices only (not biases, norms, class token or positions)."""
        named = list(self.module_.named_parameters())
        decayed = [p for name, p in named if p.dim() >= 2 and name not in ("cls_token", "pos_embed")]
        others = [p for name, p in named if not (p.dim() >= 2 and name not in ("cls_token", "pos_embed"))]
        groups = [{"params": decayed, "weight_decay": self.weight_decay}, {"params": others, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=self.learning_rate)

    def _init_state(self, X, y) -> None:
        self._check_hyperparameters()
        super()._init_state(X, y)

    def _run_epoch(self, X, y, rng) -> float:
        """One epoch at this epoch's learning rate: linear warm-up, then cosine decay to ``min_learning_rate``."""
        floor = self.learning_rate / 10 if self.min_learning_rate is None else self.min_learning_rate
        rate = learning_rate_at(len(self.loss_history_), self.learning_rate, floor, self.warmup_epochs, self.max_epochs)
        for group in self.optimizer_.param_groups:
            group["lr"] = rate
        return super()._run_epoch(X, y, rng)

    def _check_hyperparameters(self) -> None:
        for name in ("batch_size", "max_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.warmup_epochs, bool) or not isinstance(self.warmup_epochs, int) or self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be a non-negative integer, got {self.warmup_epochs!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.min_learning_rate is not None and not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError(f"min_learning_rate must lie in [0, learning_rate], got {self.min_learning_rate!r}")
        if not self.weight_decay >= 0 or not self.clip >= 0:
            raise ValueError(f"weight_decay and clip must be >= 0, got {self.weight_decay}, {self.clip}")

    # -- inference ---------------------------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """Class logits, (n, n_classes)."""
        return self._forward(X, lambda module, batch: module(batch)[0])

    def predict_proba(self, X) -> np.ndarray:
        return self._forward(X, lambda module, batch: torch.softmax(module(batch)[0].float(), dim=1))

    def predict(self, X) -> np.ndarray:
        require_fitted(self, "module_")  # before classes_ is read
        return super().predict(X)

    def attention_rollout(self, X, residual: float = 0.5) -> np.ndarray:
        """How much of the class token's final vector comes from each patch: (n, grid, grid), each map
        the class token's row of the rollout over the patches (the share left on the class token itself
        is dropped, so a map sums to at most 1)."""
        require_fitted(self, "module_")
        inputs, _ = self._tensors(X, None)
        grid = self.config_.grid
        module = self.module_.eval()
        with torch.inference_mode():
            rollout = attention_rollout(attention_maps(module, inputs), residual)  # (n, T, T)
        return rollout[:, 0, 1:].reshape(len(inputs), grid, grid).double().numpy()

    # -- persistence: safetensors and JSON, no pickled modules --------------------------------------------
    def save(self, directory) -> Path:
        require_fitted(self, "module_")
        fitted = {"classes_": self.classes_.tolist(), "loss_history_": self.loss_history_, "device_": self.device_}
        return store(directory, self, {"model": self.module_}, network=asdict(self.config_), fitted=fitted)

    @classmethod
    def load(cls, directory) -> VisionTransformerBase:
        document = stored_document(directory, cls)
        estimator = cls(**document["hyperparameters"])
        estimator.config_ = ViTConfig(**document["network"])
        module = restored(directory, "model", estimator._network(estimator.config_))
        fitted = document["fitted"]
        estimator.classes_ = np.asarray(fitted["classes_"])
        estimator.loss_history_ = list(fitted["loss_history_"])
        estimator.device_ = fitted["device_"]
        estimator.module_ = module.eval()
        return estimator


def attention_maps(module: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """Each block's attention weights for ours (``ViT.attention_weights``) or a network that can be read as
    ours (the reference: ``as_vit``)."""
    if not hasattr(module, "attention_weights"):
        module = module.as_vit()
    return module.attention_weights(images)


class VisionTransformerClassifier(VisionTransformerBase):
    """The ViT of this file (GPT-mini's blocks, non-causal) trained by the project's torch loop."""

    def _network(self, config: ViTConfig) -> nn.Module:
        return ViT(config)
