"""CLIP at toy scale, written out in torch ops: an image encoder and a text encoder trained to agree.

The networks (Radford et al., 2021, at the scale of 32 x 32 shapes and their captions):

    image (C, H, W) -> P x P patches -> a linear map each -> [class token; patches] + learned positions
    -> ``n_layer`` pre-norm blocks (every token sees every other) -> layer norm -> the class token
    -> a linear projection to ``embed_dim``

    caption -> characters and an end token -> token + learned position embeddings -> ``n_layer`` pre-norm
    blocks under a causal mask (CLIP's text transformer) -> layer norm -> the end token's vector
    -> a linear projection to ``embed_dim``

The blocks are GPT-mini's (models/phase3/gpt_mini/model.py), non-causal in the image encoder. Both
embeddings are L2-normalized, and a batch of B pairs is scored by the symmetric InfoNCE loss: the B x B
cosine similarities times a learned scale exp(t) (t = log 1/0.07 at the start, exp(t) at most 100) are
logits of which pair goes with which, read along rows (image -> text) and columns (text -> image).

``CLIPModel`` is a scikit-learn estimator trained by ``TorchEstimator`` (models/phase2/trainer.py:
device, mixed precision on cuda, seeding, epochs, checkpoints) with AdamW (decay on matrices only), a
per-epoch warm-up and cosine learning rate, and gradient clipping. It is fitted on images X
(n, H, W, C) and their captions y; fitting refuses captions that do not match their images
(data.py: ``check_pairs``). Once fitted it keeps the embeddings of its training images and of the
distinct training captions: ``predict`` gives each image its best caption, ``retrieve_captions`` and
``retrieve_images`` the k nearest of the other kind (what the service answers). reference.py trains
the same configuration built from ``nn.TransformerEncoder`` by the same loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import require_fitted
from models.phase2.trainer import TorchEstimator
from models.phase3.clip.data import as_images, check_pairs
from models.phase3.gpt_mini.data import CharTokenizer
from models.phase3.gpt_mini.model import Block, GPTConfig, init_gpt_weights, learning_rate_at

PAD, EOT = 0, 1  # token ids before the characters': padding after the end, and the end of a caption
#: Characters every tokenizer knows besides those of its training captions (a query may use them).
BASE_ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789-,.'"


@dataclass(frozen=True)
class CLIPConfig:
    image_size: int = 32
    channels: int = 3
    patch_size: int = 8
    vocab_size: int = 44  # PAD, EOT and the characters
    context_length: int = 65  # the longest caption's characters and its end token
    n_layer: int = 2  # blocks per encoder
    n_head: int = 4
    width: int = 64  # of both encoders' tokens
    embed_dim: int = 64  # of the joint embedding
    dropout: float = 0.0
    init_temperature: float = 0.07
    max_logit_scale: float = 100.0

    def __post_init__(self):
        names = ("image_size", "channels", "patch_size", "vocab_size", "context_length", "n_layer", "n_head",
                 "width", "embed_dim")  # fmt: skip
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.image_size % self.patch_size:
            raise ValueError(f"patch_size {self.patch_size} does not divide image_size {self.image_size}")
        if not self.init_temperature > 0 or not self.max_logit_scale > 1:
            raise ValueError("init_temperature must be > 0 and max_logit_scale > 1")
        self.blocks(causal=True)  # the blocks' own checks (width divisible by n_head, dropout in [0, 1))

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def blocks(self, causal: bool) -> GPTConfig:
        """GPT-mini's block configuration: the image encoder's (non-causal) or the text encoder's (causal)."""
        length = self.context_length if causal else self.n_patches + 1
        return GPTConfig(self.vocab_size, length, self.n_layer, self.n_head, self.width, self.dropout, False, causal)


# -- the loss -----------------------------------------------------------------------------------------
def contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor):
    """Symmetric InfoNCE over a batch of B pairs, features (B, D) L2-normalized: the mean over both
    directions of -log softmax(scale * similarities) at the matching pair, written with logsumexp."""
    logits = logit_scale * image_features @ text_features.T  # (B, B): image i against text j
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # float32 at least (autocast)
    matching = logits.diagonal()  # (B,)
    image_to_text = (torch.logsumexp(logits, dim=1) - matching).mean()  # each row: which text is image i's
    text_to_image = (torch.logsumexp(logits, dim=0) - matching).mean()  # each column: which image is text j's
    return (image_to_text + text_to_image) / 2


# -- the networks -------------------------------------------------------------------------------------
def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(batch, C, H, W) -> (batch, H/P * W/P, C * P * P): patches row by row, each flattened (c, i, j), the
    order of a convolution's weight (C_out, C, P, P)."""
    batch, channels, height, width = images.shape
    x = images.reshape(batch, channels, height // patch, patch, width // patch, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(batch, (height // patch) * (width // patch), channels * patch**2)


class VisionTransformer(nn.Module):
    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.patch_size = config.patch_size
        self.class_embedding = nn.Parameter(torch.zeros(1, 1, config.width))
        self.positional_embedding = nn.Parameter(torch.zeros(1, config.n_patches + 1, config.width))
        self.patch_embedding = nn.Linear(config.channels * config.patch_size**2, config.width, bias=False)
        self.blocks = nn.ModuleList(Block(config.blocks(causal=False)) for _ in range(config.n_layer))
        self.ln_post = nn.LayerNorm(config.width, bias=False)
        self.proj = nn.Linear(config.width, config.embed_dim, bias=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (batch, C, H, W) -> features (batch, embed_dim), not normalized."""
        patches = self.patch_embedding(patchify(images, self.patch_size))  # (batch, patches, width)
        cls = self.class_embedding.expand(len(images), -1, -1)  # (batch, 1, width)
        x = torch.cat([cls, patches], dim=1) + self.positional_embedding  # (batch, 1 + patches, width)
        for block in self.blocks:
            x = block(x)
        return self.proj(self.ln_post(x[:, 0]))  # the class token


class TextTransformer(nn.Module):
    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.zeros(config.context_length, config.width))
        self.token_embedding = nn.Embedding(config.vocab_size, config.width)
        self.blocks = nn.ModuleList(Block(config.blocks(causal=True)) for _ in range(config.n_layer))
        self.ln_final = nn.LayerNorm(config.width, bias=False)
        self.proj = nn.Linear(config.width, config.embed_dim, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (batch, T), each a caption, EOT, then PAD -> features (batch, embed_dim), not normalized.
        Under the causal mask the end token has seen the whole caption and nothing of the padding."""
        x = self.token_embedding(tokens) + self.positional_embedding[: tokens.size(1)]  # (batch, T, width)
        for block in self.blocks:
            x = block(x)
        x = self.ln_final(x)
        end = (tokens == EOT).int().argmax(dim=1)  # (batch,)
        return self.proj(x[torch.arange(len(tokens), device=tokens.device), end])


class CLIP(nn.Module):
    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = config
        seed = int(torch.randint(2**62, ()))  # the initial weights' own draws: see init_weights
        self.logit_scale = nn.Parameter(torch.zeros(()))
        self.visual = VisionTransformer(config)
        self.text = TextTransformer(config)
        init_weights(self, seed)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.visual(images), dim=-1)  # (batch, embed_dim), unit length

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(tokens), dim=-1)  # (batch, embed_dim), unit length

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=self.config.max_logit_scale)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        """(batch, C, H, W) images and (batch, T) tokens of their captions -> the embeddings and the loss."""
        image_features, text_features = self.encode_image(images), self.encode_text(tokens)
        return (image_features, text_features), contrastive_loss(image_features, text_features, self.scale())


def init_weights(module: nn.Module, seed: int) -> None:
    """nanoGPT's initialization (``init_gpt_weights``) drawn from ``seed``, and t = log(1 / init_temperature).

    The layers' own constructors draw different amounts from torch's generator (nn.TransformerEncoder
    copies its first layer), so the draws come from a seed taken before any layer is built: two networks
    whose matrices come in the same order and shapes (ours and the reference) start from the same weights.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        init_gpt_weights(module, module.config.n_layer)
    with torch.no_grad():
        module.logit_scale.fill_(math.log(1 / module.config.init_temperature))


# -- the estimator ------------------------------------------------------------------------------------
def normalize_text(text: str) -> str:
    """Lower case, single spaces, no spaces at the ends: how captions and queries are read."""
    return " ".join(str(text).lower().split())


class CLIPModel(TorchEstimator):
    """Fitted: ``module_`` (on the CPU), ``config_``, ``tokenizer_``, ``loss_history_`` (per epoch),
    ``temperature_history_`` (1 / scale after each epoch), ``device_``; the retrieval banks
    ``image_bank_`` (embeddings of the training images, row i is image id i), ``image_captions_`` (their
    captions), ``captions_`` (the distinct training captions, sorted) and ``caption_bank_`` (theirs)."""

    def __init__(self, width: int = 64, n_layer: int = 2, n_head: int = 4, embed_dim: int = 64, patch_size: int = 8,
                 context_length: int = 65, batch_size: int = 64, max_epochs: int = 20, learning_rate: float = 1e-3,
                 min_learning_rate: float | None = None, warmup_epochs: int = 1, weight_decay: float = 0.1,
                 clip: float = 1.0, init_temperature: float = 0.07, dropout: float = 0.0, tol: float = 0.0,
                 device: str = "auto", precision: str = "auto", random_state: int | None = None):  # fmt: skip
        self.width = width
        self.n_layer = n_layer
        self.n_head = n_head
        self.embed_dim = embed_dim
        self.patch_size = patch_size
        self.context_length = context_length
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.clip = clip  # the global gradient norm is clipped to it (TorchEstimator)
        self.init_temperature = init_temperature
        self.dropout = dropout
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _network(self, config: CLIPConfig) -> nn.Module:
        return CLIP(config)

    # -- what the loop asks for ---------------------------------------------------------------------
    def _validate(self, X, y):
        """As given: ``_init_state`` checks the pairs (the pipeline's loop calls it without ``fit``)."""
        return X, y

    def _checked(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, H, W, C) in [0, 1] and one caption each that says what its image shows."""
        images = as_images(X)
        if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise ValueError("images must hold finite values in [0, 1]")
        if y is None or len(y) != len(images):
            raise ValueError(f"fitting needs one caption per image: {len(images)} images, {0 if y is None else len(y)}")
        captions = np.array([normalize_text(caption) for caption in y], dtype=str)
        long = [c for c in captions if len(c) + 1 > self.context_length]
        if long:
            limit = self.context_length - 1
            raise ValueError(f"{len(long)} caption(s) longer than {limit} characters (context_length): {long[0]!r}")
        if len(images) < 2:
            raise ValueError("contrastive training needs at least 2 pairs")
        check_pairs(images, captions)
        return images, captions

    def _init_state(self, X, y) -> None:
        for name, low in (("max_epochs", 1), ("batch_size", 2), ("warmup_epochs", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        X, y = self._checked(X, y)  # refused before any weight is drawn
        super()._init_state(X, y)
        self.temperature_history_ = []
        self.image_captions_ = [str(caption) for caption in y]

    def _module(self, X, y) -> nn.Module:
        images = as_images(X)
        self.tokenizer_ = CharTokenizer().fit(BASE_ALPHABET + "".join(normalize_text(c) for c in y))
        self.config_ = CLIPConfig(
            image_size=images.shape[1],
            channels=images.shape[3],
            patch_size=self.patch_size,
            vocab_size=self.tokenizer_.vocab_size + 2,
            context_length=self.context_length,
            n_layer=self.n_layer,
            n_head=self.n_head,
            width=self.width,
            embed_dim=self.embed_dim,
            dropout=self.dropout,
            init_temperature=self.init_temperature,
        )
        return self._network(self.config_)

    def _tensors(self, X, y):
        images = torch.from_numpy(as_images(X).astype(np.float32)).permute(0, 3, 1, 2).contiguous()  # (n, C, H, W)
        return images, (None if y is None else self.tokenize(y))

    def _loss(self, module, images, tokens):
        _, loss = module(images, tokens)
        return loss

    def _optimizer(self, parameters):
        """AdamW with CLIP's betas, weight decay on matrices only (not on gains, embeddings' scale or t)."""
        parameters = list(parameters)
        groups = [
            {"params": [p for p in parameters if p.dim() >= 2], "weight_decay": self.weight_decay},
            {"params": [p for p in parameters if p.dim() < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=self.learning_rate, betas=(0.9, 0.98), eps=1e-6)

    def _run_epoch(self, X, y, rng) -> float:
        epoch = len(self.loss_history_)
        floor = self.learning_rate / 10 if self.min_learning_rate is None else self.min_learning_rate
        for group in self.optimizer_.param_groups:  # warm-up, then cosine decay, by epoch
            group["lr"] = learning_rate_at(epoch, self.learning_rate, floor, self.warmup_epochs, self.max_epochs)
        loss = super()._run_epoch(X, y, rng)
        self.temperature_history_.append(float(1.0 / self.module_.scale().detach()))
        return loss

    def _finish(self) -> None:
        """Embed the training images (the bank text queries search) before the loop drops its data."""
        images, _ = self._data
        self.module_.eval()
        with torch.inference_mode():
            bank = [self.module_.encode_image(batch).float().cpu() for batch in images.split(1024)]
        self.image_bank_ = torch.cat(bank).numpy()
        super()._finish()
        self.captions_ = sorted(set(self.image_captions_))
        self.caption_bank_ = self.encode_texts(self.captions_)

    # -- text -----------------------------------------------------------------------------------------
    def check_text(self, text: str) -> None:
        """Refuse (ValueError naming the problem) a text the tokenizer cannot read or that is too long."""
        require_fitted(self, "tokenizer_")
        normalized = normalize_text(text)
        if not normalized:
            raise ValueError("the text is blank")
        if len(normalized) + 1 > self.config_.context_length:
            raise ValueError(f"the text has {len(normalized)} characters; at most {self.config_.context_length - 1}")
        self.tokenizer_.encode(normalized)  # UnknownCharacterError names the characters

    def tokenize(self, texts) -> torch.Tensor:
        """Texts -> (n, T) int64: each text's character ids (shifted past PAD and EOT), EOT, then PAD to the
        longest text of the lot."""
        encoded = [self.tokenizer_.encode(normalize_text(text)) + 2 for text in texts]
        length = max((len(ids) for ids in encoded), default=0) + 1
        if length > self.config_.context_length:
            raise ValueError(f"a text has {length - 1} characters; at most {self.config_.context_length - 1}")
        tokens = torch.full((len(encoded), length), PAD, dtype=torch.int64)
        for row, ids in enumerate(encoded):
            tokens[row, : len(ids)] = torch.from_numpy(ids)
            tokens[row, len(ids)] = EOT
        return tokens

    # -- embeddings and retrieval ----------------------------------------------------------------------
    @torch.inference_mode()
    def encode_images(self, X, batch_size: int = 512) -> np.ndarray:
        """Unit-length embeddings (n, embed_dim) of images (n, H, W, C)."""
        require_fitted(self, "module_")
        images, _ = self._tensors(X, None)
        self.module_.eval()
        parts = [self.module_.encode_image(batch) for batch in images.split(batch_size)]
        return torch.cat(parts).numpy() if parts else np.empty((0, self.config_.embed_dim), dtype=np.float32)

    @torch.inference_mode()
    def encode_texts(self, texts, batch_size: int = 512) -> np.ndarray:
        """Unit-length embeddings (n, embed_dim) of texts."""
        require_fitted(self, "module_")
        texts = [str(text) for text in texts]
        self.module_.eval()
        batches = (texts[start : start + batch_size] for start in range(0, len(texts), batch_size))
        parts = [self.module_.encode_text(self.tokenize(batch)) for batch in batches]
        return torch.cat(parts).numpy() if parts else np.empty((0, self.config_.embed_dim), dtype=np.float32)

    @property
    def temperature_(self) -> float:
        require_fitted(self, "module_")
        return float(1.0 / self.module_.scale().detach())

    def predict(self, X) -> np.ndarray:
        """The best of the training captions for each image."""
        require_fitted(self, "caption_bank_")
        best = (self.encode_images(X) @ self.caption_bank_.T).argmax(axis=1)
        return np.array([self.captions_[i] for i in best], dtype=object)

    def retrieve_captions(self, X, k: int = 5) -> list[list[tuple[str, float]]]:
        """For each image, the k nearest distinct training captions and their cosine similarities."""
        require_fitted(self, "caption_bank_")
        return [
            [(self.captions_[j], float(score)) for j, score in top]
            for top in _top_k(self.encode_images(X) @ self.caption_bank_.T, k)
        ]

    def retrieve_images(self, texts, k: int = 5) -> list[list[tuple[int, str, float]]]:
        """For each text, the k nearest training images: (image id, its caption, cosine similarity)."""
        require_fitted(self, "image_bank_")
        return [
            [(int(j), self.image_captions_[j], float(score)) for j, score in top]
            for top in _top_k(self.encode_texts(texts) @ self.image_bank_.T, k)
        ]


def _top_k(scores: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Per row of scores (n, m), the indices and scores of the k largest, best first (ties: lower index)."""
    k = min(int(k), scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [list(zip(row.tolist(), scores[i, row].tolist(), strict=True)) for i, row in enumerate(order)]
