"""GPT-mini: a character-level GPT written out in torch ops, and the estimator that trains and samples it.

The network (nanoGPT's shape): token and learned position embeddings, ``n_layer`` pre-norm blocks of
causal self-attention and a GELU MLP, a final layer norm, and a read-out tied to the token embedding.
Generation keeps a KV cache: each new token attends to the keys and values of the ones before it
instead of recomputing them. Positions are absolute, so once a sequence outgrows ``block_size`` the
context window slides, every position shifts, and the cache is rebuilt from the cropped window at each
token: the logits stay exactly those of the uncached model, and the cache's speed-up holds while the
sequence fits the block.

``CausalLanguageModel`` is the training loop and inference interface shared with the reference
(reference.py builds the same configuration from torch.nn.TransformerEncoderLayer): nanoGPT's recipe
(random windows, AdamW with weight decay on matrices, warm-up then cosine decay, gradient clipping),
on the project's device and precision choice (models/phase2/trainer.py): cuda in mixed precision, the
CPU in float32. ``GPTLanguageModel`` is that loop on the network of this file.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.phase2.trainer import autocast_dtype, best_device
from models.stored import restored, store, stored_document


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False  # biases in the linear layers and layer norms (nanoGPT's default: none)
    causal: bool = True  # False: every position attends to every other (an encoder's blocks, models/phase3/vit)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")


# -- the network ------------------------------------------------------------------------------------
def causal_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    dropout_p: float = 0.0,
    causal: bool = True,
    key_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d), causal mask) v, with dropout on the weights when ``dropout_p`` > 0.

    q: (batch, heads, Tq, d); k, v: (batch, heads, Tk, d) with Tk >= Tq. The queries are the last Tq of
    the Tk positions (a KV cache's new tokens), so query i sees keys 0 .. Tk - Tq + i. ``causal=False``
    drops the mask: every query sees every key (an encoder's attention). ``key_mask`` (batch, Tk), bool:
    False at the keys no query may see (padding; models/phase3/bert_mini).
    """
    t_q, t_k = q.size(-2), k.size(-2)
    scores = (q * q.size(-1) ** -0.5) @ k.transpose(-2, -1)  # (batch, heads, Tq, Tk)
    if causal and t_q > 1:  # -inf above the shifted diagonal; a single query is the newest position and sees every key
        hidden = torch.full((t_q, t_k), float("-inf"), device=q.device, dtype=scores.dtype).triu(t_k - t_q + 1)
        scores = scores + hidden
    if key_mask is not None:  # -inf at the padded keys of each sequence
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v  # (batch, heads, Tq, d)


class KVCache:
    """Keys and values of the positions seen so far, per layer, in buffers of ``block_size`` positions."""

    def __init__(self, config: GPTConfig, batch: int, device, dtype=torch.float32):
        shape = (config.n_layer, batch, config.n_head, config.block_size, config.n_embd // config.n_head)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new positions' k, v (batch, heads, T, d); return all of them so far (.., length + T, d)."""
        end = self.length + k.size(-2)
        self.keys[layer, :, :, self.length : end] = k
        self.values[layer, :, :, self.length : end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]


class CausalSelfAttention(nn.Module):
    causal = True  # the class default keeps modules pickled before ``GPTConfig.causal`` existed working

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.dropout, self.causal = config.n_head, config.dropout, config.causal
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v stacked
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (batch, T, C)
        q, k, v = (t.view(batch, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:  # (batch, heads, T, d) -> the cached positions and these: (.., length + T, d)
            k, v = cache.update(layer, k, v)
        dropout_p = self.dropout if self.training else 0.0
        y = causal_attention(q, k, v, dropout_p, self.causal, key_mask)  # (batch, heads, T, d)
        y = y.transpose(1, 2).contiguous().view(batch, T, C)
        return self.resid_dropout(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.attn = CausalSelfAttention(config)
        self.mlp = MLP(config)
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        init_gpt_weights(self, config.n_layer)

    def new_cache(self, batch: int = 1) -> KVCache:
        weight = self.wte.weight
        return KVCache(self.config, batch, weight.device, weight.dtype)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None):
        """idx (batch, T) -> logits (batch, T, vocab) and the mean cross-entropy against targets (or None).

        With a cache, idx holds the positions after the cached ones, and the cache takes their keys/values.
        """
        T = idx.size(1)  # idx: (batch, T)
        start = 0 if cache is None else cache.length
        if start + T > self.config.block_size:
            raise ValueError(f"{start + T} positions exceed block_size {self.config.block_size}")
        positions = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(positions))  # (batch, T, C)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += T
        logits = self.lm_head(self.ln_f(x))  # (batch, T, vocab)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def init_gpt_weights(module: nn.Module, n_layer: int) -> None:
    """nanoGPT's initialization: matrices N(0, 0.02), the residual projections N(0, 0.02 / sqrt(2 n_layer)),
    biases 0, layer-norm gains 1; drawn in parameter order, so that two networks whose matrices come in
    the same order and shapes (ours and the reference) start from the same weights under one seed."""
    residual_std = 0.02 / math.sqrt(2 * n_layer)
    for name, parameter in module.named_parameters():
        if parameter.dim() >= 2:
            residual = name.endswith(("attn.proj.weight", "mlp.proj.weight", "out_proj.weight", "linear2.weight"))
            nn.init.normal_(parameter, mean=0.0, std=residual_std if residual else 0.02)
        elif name.endswith("bias"):
            nn.init.zeros_(parameter)
        else:
            nn.init.ones_(parameter)


def training_flops_per_token(config: GPTConfig, n_parameters: int) -> float:
    """Forward and backward FLOPs per token (PaLM appendix B, as nanoGPT's estimate_mfu): 6N + 12 L H Q T."""
    head = config.n_embd // config.n_head
    return 6.0 * n_parameters + 12.0 * config.n_layer * config.n_head * head * config.block_size


# -- sampling -----------------------------------------------------------------------------------------
def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """logits (.., vocab) with -inf outside the ``top_k`` largest and outside the nucleus: the smallest set
    of most likely tokens whose probability reaches ``top_p`` (the most likely token is always kept)."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ranked, order = logits.sort(dim=-1, descending=True)
        probs = torch.softmax(ranked.float(), dim=-1)
        mass_above = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked before each one
        outside = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, mass_above >= top_p)
        logits = logits.masked_fill(outside, float("-inf"))
    return logits


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Next ids (batch,) from logits (batch, vocab): the argmax at temperature 0, else a draw."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits / temperature, top_k, top_p).float(), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def check_sampling(max_new_tokens: int, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Refuse a bad sampling parameter by name, before any token is produced."""

    def integer(value) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    def real(value) -> bool:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)

    if not integer(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}")
    if not real(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (not integer(top_k) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and (not real(top_p) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must lie in (0, 1] or be None, got {top_p!r}")


@torch.inference_mode()
def generate_tokens(
    module: nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> Iterator[int]:
    """Yield ``max_new_tokens`` ids one at a time after ``prompt`` (1, P), the context cropped to the last
    ``block_size`` positions. ``use_cache`` keeps a KV cache where the network has one (``new_cache``);
    the tokens drawn are the same either way."""
    block_size = module.config.block_size
    device = next(module.parameters()).device
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    ids = prompt.to(device)  # (1, length so far)
    cache = module.new_cache(1) if use_cache and hasattr(module, "new_cache") else None
    for _ in range(max_new_tokens):
        if cache is None:
            logits, _ = module(ids[:, -block_size:])
        elif cache.length == 0 or cache.length + 1 > block_size:  # first step, or the window slides
            cache.length = 0
            logits, _ = module(ids[:, -block_size:], cache=cache)
        else:
            logits, _ = module(ids[:, -1:], cache=cache)
        next_id = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)  # (1,)
        yield int(next_id)
        ids = torch.cat([ids, next_id[:, None]], dim=1)


# -- the estimator -----------------------------------------------------------------------------------
def learning_rate_at(iteration: int, peak: float, floor: float, warmup: int, total: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` iterations, then cosine decay to ``floor`` at ``total``."""
    if iteration < warmup:
        return peak * (iteration + 1) / (warmup + 1)
    if iteration >= total or total <= warmup:
        return floor
    progress = (iteration - warmup) / (total - warmup)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def as_ids(ids, name: str, vocab_size: int | None = None, minimum: int = 1) -> np.ndarray:
    """A 1-D int64 array of token ids, or a ValueError naming ``name`` and what is wrong."""
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of token ids, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer token ids, got dtype {array.dtype}")
    if len(array) < minimum:
        raise ValueError(f"{name} needs at least {minimum} token(s), got {len(array)}")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or (vocab_size is not None and array.max() >= vocab_size)):
        bound = "" if vocab_size is None else f" (vocab_size {vocab_size})"
        raise ValueError(f"{name} holds ids outside [0, vocab_size){bound}: min {array.min()}, max {array.max()}")
    return array


class CausalLanguageModel(BaseEstimator):
    """The loop and interface shared by GPT-mini and its reference; subclasses define ``_network(config)``.

    Fitted: ``module_`` (on the CPU, in eval mode), ``config_``, ``device_``, ``n_parameters_``,
    ``loss_history_`` (training loss per iteration), ``val_loss_history_`` (validation loss at each of
    ``eval_iterations_``), ``fit_seconds_`` (the whole fit) and ``samples_per_second_`` (training
    windows per second, evaluation time excluded).
    """

    def __init__(
        self,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        block_size: int = 64,
        batch_size: int = 12,
        max_iters: int = 2000,
        learning_rate: float = 1e-3,
        min_learning_rate: float | None = None,
        warmup_iters: int = 100,
        weight_decay: float = 0.1,
        grad_clip: float = 1.0,
        dropout: float = 0.0,
        bias: bool = False,
        eval_interval: int = 250,
        eval_iters: int = 20,
        vocab_size: int | None = None,
        device: str = "auto",
        precision: str = "auto",
        random_state: int | None = 0,
    ):
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.block_size = block_size
        self.batch_size = batch_size
        self.max_iters = max_iters
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.warmup_iters = warmup_iters
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.dropout = dropout
        self.bias = bias
        self.eval_interval = eval_interval
        self.eval_iters = eval_iters
        self.vocab_size = vocab_size
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _network(self, config: GPTConfig) -> nn.Module:
        raise NotImplementedError

    # -- training ----------------------------------------------------------------------------------
    def fit(self, train_ids, val_ids=None):
        """Train on random windows of ``train_ids``, the loss on ``val_ids`` recorded every ``eval_interval``."""
        self._check_hyperparameters()
        train = as_ids(train_ids, "train_ids", self.vocab_size, minimum=self.block_size + 2)
        val = None if val_ids is None else as_ids(val_ids, "val_ids", self.vocab_size, minimum=2)
        vocab_size = self.vocab_size or int(max(train.max(), -1 if val is None else val.max())) + 1
        config = self._config(vocab_size)
        torch.manual_seed(self._seed())
        device = best_device(self.device)
        amp_dtype = autocast_dtype(device, self.precision)
        module = self._network(config).to(device)
        optimizer = self._optimizer(module, device)
        scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
        rng = np.random.default_rng(self._seed())
        data = torch.from_numpy(train).to(device)
        offsets = torch.arange(self.block_size + 1, device=device)
        losses = torch.empty(self.max_iters, device=device)  # read once at the end, not once per step
        self.val_loss_history_, self.eval_iterations_ = [], []
        floor = self.learning_rate / 10 if self.min_learning_rate is None else self.min_learning_rate
        eval_seconds, started = 0.0, time.perf_counter()
        for iteration in range(self.max_iters):
            if val is not None and iteration % self.eval_interval == 0:
                eval_seconds += self._record_val_loss(module, val, iteration, device, amp_dtype)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(iteration, self.learning_rate, floor, self.warmup_iters, self.max_iters)
            starts = torch.from_numpy(rng.integers(0, len(train) - self.block_size, size=self.batch_size))
            windows = data[starts.to(device)[:, None] + offsets]  # (batch, block_size + 1)
            with torch.autocast(device, dtype=amp_dtype, enabled=amp_dtype is not None):
                _, loss = module(windows[:, :-1], windows[:, 1:])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if self.grad_clip:  # the global gradient norm, on unscaled gradients
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(module.parameters(), self.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            losses[iteration] = loss.detach().float()
        if val is not None:
            eval_seconds += self._record_val_loss(module, val, self.max_iters, device, amp_dtype)
        self.loss_history_ = losses.cpu().tolist()
        self.fit_seconds_ = time.perf_counter() - started
        self.samples_per_second_ = self.max_iters * self.batch_size / max(self.fit_seconds_ - eval_seconds, 1e-9)
        if not all(math.isfinite(loss) for loss in self.loss_history_):
            raise FloatingPointError(
                f"{type(self).__name__} diverged (non-finite training loss); lower learning_rate "
                f"(now {self.learning_rate})"
            )
        self.config_, self.device_ = config, device
        self.n_parameters_ = sum(p.numel() for p in module.parameters())
        self.module_ = module.to("cpu").eval()
        return self

    def _record_val_loss(self, module, val: np.ndarray, iteration: int, device: str, amp_dtype) -> float:
        """Append the validation loss at this iteration; return the seconds it took."""
        started = time.perf_counter()
        self.val_loss_history_.append(self._window_loss(module, val, device, amp_dtype))
        self.eval_iterations_.append(iteration)
        module.train()
        return time.perf_counter() - started

    def _optimizer(self, module: nn.Module, device: str) -> torch.optim.Optimizer:
        """AdamW (beta2 0.99) with weight decay on the matrices only (nanoGPT's groups)."""
        matrices = [p for p in module.parameters() if p.dim() >= 2]
        others = [p for p in module.parameters() if p.dim() < 2]
        groups = [{"params": matrices, "weight_decay": self.weight_decay}, {"params": others, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=self.learning_rate, betas=(0.9, 0.99), fused=device == "cuda")

    def _config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(vocab_size, self.block_size, self.n_layer, self.n_head, self.n_embd, self.dropout, self.bias)

    def _seed(self) -> int:
        return 0 if self.random_state is None else self.random_state

    def _check_hyperparameters(self) -> None:
        for name in ("batch_size", "max_iters", "eval_interval", "eval_iters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.warmup_iters, bool) or not isinstance(self.warmup_iters, int) or self.warmup_iters < 0:
            raise ValueError(f"warmup_iters must be a non-negative integer, got {self.warmup_iters!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.min_learning_rate is not None and not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError(f"min_learning_rate must lie in [0, learning_rate], got {self.min_learning_rate!r}")
        if not self.weight_decay >= 0 or not self.grad_clip >= 0:
            raise ValueError(f"weight_decay and grad_clip must be >= 0, got {self.weight_decay}, {self.grad_clip}")
        self._config(1 if self.vocab_size is None else self.vocab_size)  # the network's own checks

    # -- evaluation ----------------------------------------------------------------------------------
    def evaluate_loss(self, ids) -> float:
        """Mean next-token cross-entropy over a fixed set of ``eval_iters * batch_size`` windows of ``ids``
        (drawn with ``random_state``; every window when there are fewer): the same figure on every call."""
        require_fitted(self, "module_")
        ids = as_ids(ids, "ids", self.config_.vocab_size, minimum=2)
        return self._window_loss(self.module_, ids, next(self.module_.parameters()).device.type, None)

    def perplexity(self, ids) -> float:
        return math.exp(self.evaluate_loss(ids))

    def _window_loss(self, module: nn.Module, ids: np.ndarray, device: str, amp_dtype, chunk: int = 64) -> float:
        length = min(self.block_size, len(ids) - 1)
        n_starts, n_windows = len(ids) - length, self.eval_iters * self.batch_size
        if n_starts <= n_windows:
            starts = np.arange(n_starts)
        else:
            starts = np.sort(np.random.default_rng(self._seed()).choice(n_starts, n_windows, replace=False))
        data = torch.from_numpy(ids).to(device)
        offsets = torch.arange(length + 1, device=device)
        total = torch.zeros((), device=device, dtype=torch.float64)
        module.eval()
        with torch.inference_mode(), torch.autocast(device, dtype=amp_dtype, enabled=amp_dtype is not None):
            for batch in torch.from_numpy(starts).to(device).split(chunk):
                windows = data[batch[:, None] + offsets]  # (chunk, length + 1)
                logits, _ = module(windows[:, :-1])
                total += F.cross_entropy(logits.flatten(0, 1).float(), windows[:, 1:].flatten(), reduction="sum")
        return float(total) / (len(starts) * length)

    # -- generation ----------------------------------------------------------------------------------
    def stream(
        self,
        prompt_ids: Sequence[int],
        max_new_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[int]:
        """The new token ids one at a time (for server-sent events); parameters are checked at the call,
        before any token. A network without a KV cache (the reference) recomputes the context instead."""
        require_fitted(self, "module_")
        prompt = as_ids(prompt_ids, "prompt_ids", self.config_.vocab_size, minimum=1)
        check_sampling(max_new_tokens, temperature, top_k, top_p)
        context = torch.from_numpy(prompt)[None, :]  # (1, P)
        return generate_tokens(self.module_, context, max_new_tokens, temperature, top_k, top_p, seed, use_cache)

    def generate(self, prompt_ids: Sequence[int], max_new_tokens: int = 100, **sampling) -> list[int]:
        """The new token ids (the prompt not included); ``sampling`` as ``stream`` takes it."""
        return list(self.stream(prompt_ids, max_new_tokens, **sampling))

    # -- persistence: safetensors and JSON, no pickled modules -----------------------------------------
    def save(self, directory) -> Path:
        require_fitted(self, "module_")
        fitted = {name: getattr(self, name) for name in _FITTED}
        return store(directory, self, {"model": self.module_}, network=asdict(self.config_), fitted=fitted)

    @classmethod
    def load(cls, directory) -> CausalLanguageModel:
        document = stored_document(directory, cls)
        estimator = cls(**document["hyperparameters"])
        estimator.config_ = GPTConfig(**document["network"])
        for name, value in document["fitted"].items():
            setattr(estimator, name, value)
        estimator.module_ = restored(directory, "model", estimator._network(estimator.config_))
        return estimator


_FITTED = (
    "device_",
    "n_parameters_",
    "loss_history_",
    "val_loss_history_",
    "eval_iterations_",
    "fit_seconds_",
    "samples_per_second_",
)


class GPTLanguageModel(CausalLanguageModel):
    """GPT-mini (this file's network) trained by the shared loop: see ``CausalLanguageModel``."""

    def _network(self, config: GPTConfig) -> nn.Module:
        return GPT(config)
