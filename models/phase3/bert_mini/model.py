"""BERT-mini: a small BERT written out in torch ops, pretrained by masked language modelling and then
fine-tuned to classify sentences.

The network (BERT's shape): token, learned position and segment embeddings summed and layer-normed,
``n_layer`` post-norm encoder blocks, each ``norm(x + attention(x))`` then ``norm(x + mlp(x))`` with
gpt_mini's multi-head self-attention (non-causal, padded keys masked) and GELU MLP, then

- the masked-LM head: dense, GELU, layer norm, and a read-out tied to the token embedding (plus a bias);
- the classification head: the [CLS] position through a dense tanh "pooler", dropout and a linear layer.

Its parameters are laid out as Hugging Face's BertLayer's (q, k and v stacked in one matrix), so the
reference (reference.py) loads them one to one.

``MaskedLMClassifier`` is the recipe shared with the reference: byte-level BPE with BERT's specials
(data.py), masked-LM pretraining on the training sentences and the unlabeled extra text (15% of the
non-special tokens chosen, of them 80% replaced by [MASK], 10% by a random token, 10% left), then
fine-tuning of the pretrained encoder with a fresh head; and, with ``compare_random_init``, the same
fine-tuning (head, batches, steps) of the random encoder pretraining started from: the ablation that
shows what pretraining bought. AdamW,
warm-up then cosine decay, gradient clipping, on the project's device and precision (cuda in mixed
precision). ``BertMiniClassifier`` is that recipe on the network of this file.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin

from models.base import require_fitted
from models.phase2.trainer import autocast_dtype, best_device
from models.phase3.bert_mini.data import MASK, PAD, BertTokenizer, extra_texts, sentences
from models.phase3.gpt_mini.model import MLP, CausalSelfAttention, GPTConfig, learning_rate_at
from models.stored import restored, store, stored, stored_document

IGNORE = -100  # the label of a position the masked-LM loss skips (torch's and Hugging Face's convention)


@dataclass(frozen=True)
class BertMiniConfig:
    vocab_size: int = 2004
    max_len: int = 64  # positions, [CLS] and [SEP] included
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    n_segments: int = 2
    n_classes: int = 2
    dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_id: int = PAD

    def __post_init__(self):
        for name in ("vocab_size", "max_len", "n_segments", "n_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.blocks()  # the blocks' own checks (sizes, heads, dropout)

    def blocks(self) -> GPTConfig:
        """The configuration of gpt_mini's attention and MLP as BERT has them: biases, no causal mask."""
        return GPTConfig(self.vocab_size, self.max_len, self.n_layer, self.n_head, self.n_embd, self.dropout,
                         bias=True, causal=False)  # fmt: skip


# -- the network ------------------------------------------------------------------------------------
class EncoderBlock(nn.Module):
    """Post-norm (BERT's BertLayer): x = norm(x + attention(x)), then norm(x + mlp(x))."""

    def __init__(self, config: BertMiniConfig):
        super().__init__()
        self.attn = CausalSelfAttention(config.blocks())
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.mlp = MLP(config.blocks())
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.ln_1(x + self.attn(x, key_mask=key_mask))  # x: (batch, T, C); key_mask: (batch, T)
        return self.ln_2(x + self.mlp(x))


class BertEncoder(nn.Module):
    def __init__(self, config: BertMiniConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd, padding_idx=config.pad_id)
        self.wpe = nn.Embedding(config.max_len, config.n_embd)
        self.wse = nn.Embedding(config.n_segments, config.n_embd)  # segment (token type) A, B
        self.ln = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layer))

    def forward(self, idx: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        """idx (batch, T) -> hidden states (batch, T, C); [PAD] keys are hidden from every query."""
        length = idx.size(1)
        if length > self.config.max_len:
            raise ValueError(f"{length} positions exceed max_len {self.config.max_len}")
        segments = torch.zeros_like(idx) if segments is None else segments
        positions = torch.arange(length, device=idx.device)
        x = self.drop(self.ln(self.wte(idx) + self.wpe(positions) + self.wse(segments)))  # (batch, T, C)
        key_mask = idx != self.config.pad_id  # (batch, T)
        for block in self.blocks:
            x = block(x, key_mask)
        return x


class MaskedLMHead(nn.Module):
    """dense, GELU, layer norm, then the token embedding transposed (tied) and a bias per token."""

    def __init__(self, config: BertMiniConfig, embedding: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(config.n_embd, config.n_embd)
        self.ln = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.embedding = embedding  # shared with the encoder: one matrix, read in and read out
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(self.ln(F.gelu(self.dense(h))), self.embedding.weight, self.bias)  # (.., vocab)


class BertMaskedLM(nn.Module):
    def __init__(self, config: BertMiniConfig):
        super().__init__()
        self.config = config
        self.encoder = BertEncoder(config)
        self.head = MaskedLMHead(config, self.encoder.wte)
        init_bert_weights(self)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (batch, T) -> logits (batch, T, vocab) and None; with targets (batch, T, IGNORE where no
        token was chosen), the logits at the chosen positions only (n_chosen, vocab) and their mean
        cross-entropy: the read-out, the largest matrix product, runs on 15% of the positions."""
        h = self.encoder(idx)  # (batch, T, C)
        if targets is None:
            return self.head(h), None
        chosen = targets != IGNORE  # (batch, T)
        logits = self.head(h[chosen])  # (n_chosen, vocab)
        return logits, F.cross_entropy(logits.float(), targets[chosen])


class BertClassifier(nn.Module):
    def __init__(self, config: BertMiniConfig):
        super().__init__()
        self.config = config
        self.encoder = BertEncoder(config)
        self.pooler = nn.Linear(config.n_embd, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.n_embd, config.n_classes)
        init_bert_weights(self)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (batch, T) -> class logits (batch, n_classes) from the [CLS] position, and the
        cross-entropy against targets (batch,) (or None)."""
        pooled = torch.tanh(self.pooler(self.encoder(idx)[:, 0]))  # (batch, C)
        logits = self.classifier(self.drop(pooled))  # (batch, n_classes)
        loss = None if targets is None else F.cross_entropy(logits.float(), targets)
        return logits, loss


def init_bert_weights(module: nn.Module) -> None:
    """BERT's initialization: linear and embedding weights N(0, 0.02), biases 0, layer norms 1 and 0,
    the [PAD] embedding 0."""
    for part in module.modules():
        if isinstance(part, (nn.Linear, nn.Embedding)):
            nn.init.normal_(part.weight, mean=0.0, std=0.02)
        if isinstance(part, nn.Linear) and part.bias is not None:
            nn.init.zeros_(part.bias)
        if isinstance(part, nn.Embedding) and part.padding_idx is not None:
            with torch.no_grad():
                part.weight[part.padding_idx].zero_()
        if isinstance(part, nn.LayerNorm):
            nn.init.ones_(part.weight)
            nn.init.zeros_(part.bias)


# -- masking ------------------------------------------------------------------------------------------
def mask_tokens(
    ids: torch.Tensor,
    vocab_size: int,
    n_special: int,
    probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: each non-special token (id >= n_special) is chosen with ``probability``; a chosen
    token becomes [MASK] with probability 0.8, a random non-special token with 0.1, stays with 0.1.

    ids (batch, T) -> the inputs (batch, T) and the labels (batch, T): the original id where chosen,
    IGNORE elsewhere. At least one token is chosen in a batch that has any, so the loss is defined.
    """
    maskable = ids >= n_special
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & maskable
    if not chosen.any() and maskable.any():
        chosen.view(-1)[maskable.view(-1).nonzero()[0]] = True
    draw = torch.rand(ids.shape, generator=generator)
    random_ids = torch.randint(n_special, vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (draw < 0.8), MASK, ids)
    inputs = torch.where(chosen & (draw >= 0.8) & (draw < 0.9), random_ids, inputs)
    return inputs, torch.where(chosen, ids, IGNORE)


# -- the estimator -----------------------------------------------------------------------------------
def _positive_int(value, name: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class MaskedLMClassifier(ClassifierMixin, BaseEstimator):
    """Masked-LM pretraining then fine-tuning, shared by BERT-mini and its reference; subclasses define
    ``_masked_lm(config)``, ``_classifier(config)`` (networks whose forward is ``(idx, targets) ->
    (logits, loss)``) and ``_transfer(masked_lm, classifier)`` (the pretrained encoder into the classifier).

    Fitted: ``classes_``, ``tokenizer_``, ``config_``, ``module_`` (the classifier fine-tuned from the
    pretrained encoder, on the CPU, in eval mode), ``random_init_module_`` (the same fine-tuning from a
    random encoder, with ``compare_random_init``), ``pretrain_loss_history_`` (masked-LM loss per step),
    ``finetune_loss_history_`` (per step), ``loss_history_`` (mean fine-tuning loss per epoch),
    ``random_init_loss_history_``, ``pretrain_seconds_`` (tokenizer and pretraining), ``finetune_seconds_``,
    ``fit_seconds_`` (both, the ablation not included),
    ``samples_per_second_`` (pretraining and fine-tuning sequences per second), ``n_parameters_``, ``device_``.
    """

    def __init__(
        self,
        n_layer: int = 2,
        n_head: int = 4,
        n_embd: int = 128,
        max_len: int = 64,
        vocab_size: int = 2000,
        dropout: float = 0.1,
        pretrain_iters: int = 300,
        pretrain_batch_size: int = 64,
        pretrain_learning_rate: float = 1e-3,
        mask_probability: float = 0.15,
        extra_text: tuple[str, ...] | list[str] = ("neutral_reviews",),
        finetune_epochs: int = 3,
        batch_size: int = 32,
        learning_rate: float = 3e-4,
        warmup_fraction: float = 0.1,
        weight_decay: float = 0.01,
        grad_clip: float = 1.0,
        compare_random_init: bool = True,
        lowercase: bool = True,
        device: str = "auto",
        precision: str = "auto",
        random_state: int | None = 0,
    ):
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.max_len = max_len
        self.vocab_size = vocab_size
        self.dropout = dropout
        self.pretrain_iters = pretrain_iters
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_learning_rate = pretrain_learning_rate
        self.mask_probability = mask_probability
        self.extra_text = extra_text
        self.finetune_epochs = finetune_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_fraction = warmup_fraction
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.compare_random_init = compare_random_init
        self.lowercase = lowercase
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _masked_lm(self, config: BertMiniConfig) -> nn.Module:
        raise NotImplementedError

    def _classifier(self, config: BertMiniConfig) -> nn.Module:
        raise NotImplementedError

    def _transfer(self, masked_lm: nn.Module, classifier: nn.Module) -> None:
        raise NotImplementedError

    # -- training ----------------------------------------------------------------------------------
    def fit(self, X, y):
        """Pretrain on the texts of X (their labels unread) and ``extra_text``, then fine-tune on X, y."""
        self._check_hyperparameters()
        texts = sentences(X)
        y = np.asarray(y).ravel()
        if len(y) != len(texts):
            raise ValueError(f"X has {len(texts)} rows but y has {len(y)}")
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_.tolist()}); a classifier needs at least two")
        started = time.perf_counter()
        corpus = texts + extra_texts(self.extra_text)
        self.tokenizer_ = BertTokenizer(self.vocab_size, self.lowercase).fit(corpus)
        config = self._config(self.tokenizer_.n_tokens, len(self.classes_))
        device = best_device(self.device)
        amp_dtype = autocast_dtype(device, self.precision)
        pretrain_ids, pretrain_lengths = self.tokenizer_.encode_batch(corpus, self.max_len)
        ids, lengths = pretrain_ids[: len(texts)], pretrain_lengths[: len(texts)]

        # Each network is built under its own seed and trained under another: the reference builds its
        # network from ours (reference.py), and then draws the same dropout masks as ours.
        masked_lm = self._seeded(self._masked_lm, config, 0)
        initial = copy.deepcopy(masked_lm) if self.compare_random_init else None  # where pretraining starts
        masked_lm.to(device)
        torch.manual_seed(self._seed() + 2)
        self.pretrain_loss_history_ = self._pretrain(masked_lm, pretrain_ids, pretrain_lengths, config, amp_dtype)
        self.pretrain_seconds_ = time.perf_counter() - started

        tuned_at = time.perf_counter()
        classifier = self._seeded(self._classifier, config, 1)
        self._transfer(masked_lm.to("cpu"), classifier)
        torch.manual_seed(self._seed() + 3)
        self.finetune_loss_history_ = self._finetune(classifier.to(device), ids, lengths, labels, amp_dtype)
        self.finetune_seconds_ = time.perf_counter() - tuned_at
        self.fit_seconds_ = time.perf_counter() - started
        sequences = self.pretrain_iters * self.pretrain_batch_size + self.finetune_epochs * len(texts)
        self.samples_per_second_ = sequences / self.fit_seconds_
        self.loss_history_ = _epoch_means(self.finetune_loss_history_, math.ceil(len(texts) / self.batch_size))
        self.module_ = classifier.to("cpu").eval()
        self.config_, self.device_ = config, device
        self.n_parameters_ = sum(p.numel() for p in classifier.parameters())
        self.n_pretrain_parameters_ = sum(p.numel() for p in masked_lm.parameters())
        if initial is not None:  # the ablation: the encoder pretraining started from, the same head and steps
            baseline = self._seeded(self._classifier, config, 1)
            self._transfer(initial, baseline)
            baseline.to(device)
            torch.manual_seed(self._seed() + 3)
            self.random_init_loss_history_ = self._finetune(baseline, ids, lengths, labels, amp_dtype)
            self.random_init_module_ = baseline.to("cpu").eval()
        return self

    def _seeded(self, build, config: BertMiniConfig, offset: int) -> nn.Module:
        torch.manual_seed(self._seed() + offset)
        return build(config)

    def _pretrain(self, module, ids, lengths, config, amp_dtype) -> list[float]:
        """``pretrain_iters`` steps on random batches of the sequences, freshly masked at each step."""
        device = next(module.parameters()).device
        generator = torch.Generator().manual_seed(self._seed())
        rng = np.random.default_rng(self._seed())
        optimizer, scaler = self._optimizer(module, self.pretrain_learning_rate, amp_dtype)
        warmup = round(self.warmup_fraction * self.pretrain_iters)
        losses = torch.empty(self.pretrain_iters, device=device)
        module.train()
        for step in range(self.pretrain_iters):
            rows = rng.integers(0, len(ids), size=self.pretrain_batch_size)
            batch = torch.from_numpy(ids[rows, : lengths[rows].max()])  # (batch, longest)
            inputs, targets = mask_tokens(batch, config.vocab_size, BertTokenizer.n_special, self.mask_probability,
                                          generator)  # fmt: skip
            rate = learning_rate_at(step, self.pretrain_learning_rate, 0.0, warmup, self.pretrain_iters)
            losses[step] = self._step(module, optimizer, scaler, rate, inputs.to(device), targets.to(device),
                                      amp_dtype)  # fmt: skip
        return self._finite(losses, "pretraining", self.pretrain_learning_rate)

    def _finetune(self, module, ids, lengths, labels, amp_dtype) -> list[float]:
        """``finetune_epochs`` passes over the labelled sentences in shuffled batches."""
        device = next(module.parameters()).device
        rng = np.random.default_rng(self._seed() + 1)
        optimizer, scaler = self._optimizer(module, self.learning_rate, amp_dtype)
        steps_per_epoch = math.ceil(len(ids) / self.batch_size)
        total = self.finetune_epochs * steps_per_epoch
        warmup = round(self.warmup_fraction * total)
        losses = torch.empty(total, device=device)
        targets = torch.from_numpy(labels.astype(np.int64))
        module.train()
        step = 0
        for _ in range(self.finetune_epochs):
            for rows in np.array_split(rng.permutation(len(ids)), steps_per_epoch):
                batch = torch.from_numpy(ids[rows, : lengths[rows].max()])  # (batch, longest)
                rate = learning_rate_at(step, self.learning_rate, 0.0, warmup, total)
                losses[step] = self._step(module, optimizer, scaler, rate, batch.to(device),
                                          targets[rows].to(device), amp_dtype)  # fmt: skip
                step += 1
        return self._finite(losses, "fine-tuning", self.learning_rate)

    def _step(self, module, optimizer, scaler, rate: float, inputs, targets, amp_dtype) -> torch.Tensor:
        """One optimizer step at learning rate ``rate`` on a batch; the loss, left on the device."""
        for group in optimizer.param_groups:
            group["lr"] = rate
        with torch.autocast(inputs.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            _, loss = module(inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.grad_clip:  # the global gradient norm, on unscaled gradients
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(module.parameters(), self.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return loss.detach().float()

    def _optimizer(self, module: nn.Module, learning_rate: float, amp_dtype):
        """AdamW with weight decay on the matrices only (not on biases and layer norms), and the gradient
        scaler float16 needs."""
        matrices = [p for p in module.parameters() if p.dim() >= 2]
        others = [p for p in module.parameters() if p.dim() < 2]
        groups = [{"params": matrices, "weight_decay": self.weight_decay}, {"params": others, "weight_decay": 0.0}]
        cuda = next(module.parameters()).device.type == "cuda"
        optimizer = torch.optim.AdamW(groups, lr=learning_rate, fused=cuda)
        return optimizer, torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    def _finite(self, losses: torch.Tensor, phase: str, rate: float) -> list[float]:
        history = losses.cpu().tolist()
        if not all(math.isfinite(loss) for loss in history):
            raise FloatingPointError(f"{type(self).__name__} diverged in {phase} (non-finite loss); lower its "
                                     f"learning rate (now {rate})")  # fmt: skip
        return history

    def _config(self, vocab_size: int, n_classes: int) -> BertMiniConfig:
        return BertMiniConfig(vocab_size, self.max_len, self.n_layer, self.n_head, self.n_embd,
                              n_classes=n_classes, dropout=self.dropout)  # fmt: skip

    def _seed(self) -> int:
        return 0 if self.random_state is None else self.random_state

    def _check_hyperparameters(self) -> None:
        for name in ("vocab_size", "pretrain_batch_size", "finetune_epochs", "batch_size"):
            _positive_int(getattr(self, name), name)
        _positive_int(self.pretrain_iters, "pretrain_iters", minimum=0)
        _positive_int(self.max_len, "max_len", minimum=3)
        if not 0.0 < self.mask_probability < 1.0:
            raise ValueError(f"mask_probability must lie in (0, 1), got {self.mask_probability!r}")
        for name in ("pretrain_learning_rate", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction!r}")
        if not self.weight_decay >= 0 or not self.grad_clip >= 0:
            raise ValueError(f"weight_decay and grad_clip must be >= 0, got {self.weight_decay}, {self.grad_clip}")
        if isinstance(self.extra_text, str):
            raise ValueError(f"extra_text must be a list of corpus names, got the string {self.extra_text!r}")
        self._config(self.vocab_size + BertTokenizer.n_special, 2)  # the network's own checks

    # -- inference ---------------------------------------------------------------------------------
    def encode(self, X) -> tuple[np.ndarray, np.ndarray]:
        """The padded token ids (n, max_len) and lengths of X's texts, as the network reads them."""
        require_fitted(self, "module_")
        return self.tokenizer_.encode_batch(sentences(X), self.config_.max_len)

    def logits(self, X, random_init: bool = False, batch_size: int = 256) -> np.ndarray:
        """(n, classes) logits of the fine-tuned classifier (or of the one fine-tuned from random init)."""
        require_fitted(self, "module_")
        if random_init and not hasattr(self, "random_init_module_"):
            raise ValueError("this model was fitted without compare_random_init: no random-init classifier")
        module = self.random_init_module_ if random_init else self.module_
        ids, lengths = self.encode(X)
        order = np.argsort(lengths, kind="stable")  # batches of similar lengths pad little
        out = np.empty((len(ids), len(self.classes_)), dtype=np.float32)
        module.eval()
        with torch.inference_mode():
            for rows in np.array_split(order, max(1, math.ceil(len(order) / batch_size))):
                logits, _ = module(torch.from_numpy(ids[rows, : lengths[rows].max()]))
                out[rows] = logits.float().numpy()
        return out

    def predict_proba(self, X, random_init: bool = False) -> np.ndarray:
        logits = torch.from_numpy(self.logits(X, random_init)).double()
        return torch.softmax(logits, dim=-1).numpy()

    def predict(self, X, random_init: bool = False) -> np.ndarray:
        logits = self.logits(X, random_init)
        return self.classes_[np.argmax(logits, axis=1)]

    # -- persistence: safetensors and JSON, no pickled modules -------------------------------------------
    def save(self, directory) -> Path:
        require_fitted(self, "module_")
        networks = {"model": self.module_}
        if hasattr(self, "random_init_module_"):
            networks["random_init"] = self.random_init_module_
        fitted = {name: getattr(self, name) for name in _FITTED if hasattr(self, name)}
        directory = store(directory, self, networks, network=asdict(self.config_), classes=self.classes_.tolist(),
                          fitted=fitted)  # fmt: skip
        (directory / "tokenizer.json").write_text(self.tokenizer_.to_json())
        return directory

    @classmethod
    def load(cls, directory) -> MaskedLMClassifier:
        directory = Path(directory)
        document = stored_document(directory, cls)
        estimator = cls(**document["hyperparameters"])
        estimator.config_ = BertMiniConfig(**document["network"])
        estimator.classes_ = np.asarray(document["classes"])
        estimator.tokenizer_ = BertTokenizer.from_json((directory / "tokenizer.json").read_text())
        for name, value in document["fitted"].items():
            setattr(estimator, name, value)
        estimator.module_ = restored(directory, "model", estimator._classifier(estimator.config_))
        if stored(directory, "random_init"):
            estimator.random_init_module_ = restored(directory, "random_init", estimator._classifier(estimator.config_))
        return estimator


_FITTED = (
    "device_",
    "n_parameters_",
    "n_pretrain_parameters_",
    "pretrain_loss_history_",
    "finetune_loss_history_",
    "loss_history_",
    "random_init_loss_history_",
    "pretrain_seconds_",
    "finetune_seconds_",
    "fit_seconds_",
    "samples_per_second_",
)


def _epoch_means(losses: list[float], steps_per_epoch: int) -> list[float]:
    return [float(np.mean(losses[i : i + steps_per_epoch])) for i in range(0, len(losses), steps_per_epoch)]


class BertMiniClassifier(MaskedLMClassifier):
    """BERT-mini (this file's networks) pretrained and fine-tuned by the shared recipe: see
    ``MaskedLMClassifier``."""

    def _masked_lm(self, config: BertMiniConfig) -> nn.Module:
        return BertMaskedLM(config)

    def _classifier(self, config: BertMiniConfig) -> nn.Module:
        return BertClassifier(config)

    def _transfer(self, masked_lm: nn.Module, classifier: nn.Module) -> None:
        classifier.encoder.load_state_dict(masked_lm.encoder.state_dict())
