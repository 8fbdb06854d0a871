"""An encoder-decoder transformer written out in torch ops, its decoding (greedy, beam search) and the
estimator that pretrains it as a denoiser and trains it on the prefixed tasks.

The network (T5 / BART's shape at toy size, pre-norm like nanoGPT): one token embedding shared by the
encoder, the decoder and the tied read-out; learned positions for each side; ``encoder_layers`` blocks of
self-attention over the source (padding masked) and a GELU MLP; ``decoder_layers`` blocks of causal
self-attention (gpt_mini's ``CausalSelfAttention``, with its KV cache), cross-attention over the
encoder's output and the same MLP; final layer norms on both sides. Decoding keeps the decoder's keys
and values (``DecoderCache``: gpt_mini's ``KVCache`` plus the cross-attention's keys and values of the
encoder's output, computed once), so each new token costs one position; beam search reorders that
cache as beams are chosen.

``Seq2SeqEstimator`` is the loop and interface shared with the reference (reference.py: the same
sizes from torch.nn.Transformer): the project's torch loop (models/phase2/trainer.py: device, mixed
precision on cuda, seeding, epochs the pipeline checkpoints and resumes), AdamW with weight decay on
the matrices, warm-up then cosine decay in each phase, gradient clipping. Its first
``pretrain_epochs`` epochs are BART's denoising objective on the training texts (sources and targets,
each corrupted afresh every epoch: word permutation and span masking, data.corrupt), the rest are the
supervised tasks. ``Seq2SeqTransformer`` is that loop on the network of this file.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.base import require_fitted
from models.phase2.trainer import TorchEstimator, best_device
from models.phase3.gpt_mini.model import (
    MLP,
    CausalSelfAttention,
    GPTConfig,
    KVCache,
    init_gpt_weights,
    learning_rate_at,
)
from models.phase3.seq2seq.data import (
    BOS,
    CONTEXT,
    EOS,
    PAD,
    EmptySourceError,
    Seq2SeqTokenizer,
    SourceTooLongError,
    TargetTooLongError,
    corrupt,
    pad_rows,
)
from models.stored import restored, store, stored_document
from models.text import documents


@dataclass(frozen=True)
class Seq2SeqConfig:
    vocab_size: int = 70
    block_size: int = CONTEXT  # source characters the encoder reads; positions of the decoder (start + target)
    encoder_layers: int = 2
    decoder_layers: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = False

    def __post_init__(self):
        self.encoder()  # gpt_mini's checks of each side
        self.decoder()

    def encoder(self) -> GPTConfig:
        return GPTConfig(self.vocab_size, self.block_size, self.encoder_layers, self.n_head, self.n_embd,
                         self.dropout, self.bias)  # fmt: skip

    def decoder(self) -> GPTConfig:
        return GPTConfig(self.vocab_size, self.block_size, self.decoder_layers, self.n_head, self.n_embd,
                         self.dropout, self.bias)  # fmt: skip


# -- the network ------------------------------------------------------------------------------------
def padded_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None = None, dropout_p: float = 0.0
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v over the keys ``key_mask`` keeps (no causal mask).

    q: (batch, heads, Tq, d); k, v: (batch, heads, Tk, d); key_mask: (batch, Tk), True for a real key.
    """
    scores = (q * q.size(-1) ** -0.5) @ k.transpose(-2, -1)  # (batch, heads, Tq, Tk)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p)
    return weights @ v  # (batch, heads, Tq, d)


class Attention(nn.Module):
    """Multi-head attention over every key a padding mask keeps: the encoder's self-attention (keys from
    x itself) and the decoder's cross-attention (keys from the encoder's output). The q, k, v projections
    are stacked in one (3C, C) matrix, as nn.MultiheadAttention's ``in_proj_weight``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.dropout = config.n_head, config.dropout
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        batch, T, C = t.shape  # -> (batch, heads, T, d)
        return t.view(batch, T, self.n_head, C // self.n_head).transpose(1, 2)

    def _projection(self, x: torch.Tensor, rows: slice) -> torch.Tensor:
        bias = None if self.qkv.bias is None else self.qkv.bias[rows]
        return F.linear(x, self.qkv.weight[rows], bias)

    def keys_values(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values (batch, heads, Tk, d) of ``memory`` (batch, Tk, C)."""
        C = memory.size(-1)
        k, v = self._projection(memory, slice(C, None)).split(C, dim=2)
        return self._heads(k), self._heads(v)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None, memory_kv=None) -> torch.Tensor:
        """x (batch, T, C) -> (batch, T, C); keys from x, or ``memory_kv`` (``keys_values`` of the memory)."""
        batch, T, C = x.shape
        if memory_kv is None:  # self-attention: q, k, v in one product
            q, k, v = (self._heads(t) for t in self.qkv(x).split(C, dim=2))
        else:
            q, (k, v) = self._heads(self._projection(x, slice(0, C))), memory_kv
        y = padded_attention(q, k, v, key_mask, self.dropout if self.training else 0.0)  # (batch, heads, T, d)
        y = y.transpose(1, 2).contiguous().view(batch, T, C)
        return self.resid_dropout(self.proj(y))


class EncoderBlock(nn.Module):
    """Pre-norm: x + attention(norm(x)) over the source, then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.attn = Attention(config)
        self.mlp = MLP(config)
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), key_mask)
        return x + self.mlp(self.ln_2(x))


class DecoderBlock(nn.Module):
    """Pre-norm: causal self-attention (gpt_mini's), cross-attention over the encoder's output, the MLP."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.attn = CausalSelfAttention(config)
        self.cross_attn = Attention(config)
        self.mlp = MLP(config)
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.ln_3 = nn.LayerNorm(config.n_embd, bias=config.bias)

    def forward(self, x, memory_kv, key_mask, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        x = x + self.cross_attn(self.ln_2(x), key_mask, memory_kv)
        return x + self.mlp(self.ln_3(x))


class DecoderCache(KVCache):
    """gpt_mini's KVCache of the decoder's self-attention, plus each layer's cross-attention keys and
    values of the encoder's output (``cross``, set at the first decoding step). ``reorder`` follows the
    beams of a beam search."""

    def __init__(self, config: GPTConfig, batch: int, device, dtype=torch.float32):
        super().__init__(config, batch, device, dtype)
        self.cross: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep the batch rows ``rows`` (batch,) in that order: each new row continues the row it names."""
        self.keys, self.values = self.keys.index_select(1, rows), self.values.index_select(1, rows)
        if self.cross is not None:
            self.cross = [(k.index_select(0, rows), v.index_select(0, rows)) for k, v in self.cross]


class EncoderDecoder(nn.Module):
    """What ours and the reference share: ``forward`` from their ``encode`` and ``decode``."""

    config: Seq2SeqConfig

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode(self, tgt, memory, key_mask, cache=None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, targets: torch.Tensor | None = None):
        """src (batch, S), tgt (batch, T) -> logits (batch, T, vocab) and the mean cross-entropy against
        targets (batch, T) over their non-padding positions (or None)."""
        memory, key_mask = self.encode(src)
        logits = self.decode(tgt, memory, key_mask)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=PAD)
        return logits, loss

    def _check_length(self, length: int, side: str) -> None:
        if length > self.config.block_size:
            raise ValueError(f"{length} {side} positions exceed block_size {self.config.block_size}")


def init_seq2seq_weights(module: nn.Module, config: Seq2SeqConfig, rng_state: torch.Tensor) -> None:
    """gpt_mini's initialization (``init_gpt_weights``), drawn from ``rng_state``: torch's generator as it
    was when the network's construction began. The draws of torch's own layer constructors (which differ
    between ours and nn.Transformer) then shift nothing, and since both networks' matrices come in the same
    order and shapes, one seed gives ours and the reference the same initial weights."""
    torch.random.set_rng_state(rng_state)
    init_gpt_weights(module, config.encoder_layers + config.decoder_layers)


class Seq2SeqNetwork(EncoderDecoder):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        rng_state = torch.random.get_rng_state()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # shared: encoder, decoder, read-out
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # the encoder's positions
        self.wpe_dec = nn.Embedding(config.block_size, config.n_embd)  # the decoder's
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(EncoderBlock(config.encoder()) for _ in range(config.encoder_layers))
        self.ln_enc = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.decoder = nn.ModuleList(DecoderBlock(config.decoder()) for _ in range(config.decoder_layers))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        init_seq2seq_weights(self, config, rng_state)

    def new_cache(self, batch: int = 1) -> DecoderCache:
        weight = self.wte.weight
        return DecoderCache(self.config.decoder(), batch, weight.device, weight.dtype)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (batch, S) -> the encoder's output (batch, S, C) and the mask of real positions (batch, S)."""
        S = src.size(1)
        self._check_length(S, "source")
        key_mask = src != PAD
        x = self.drop(self.wte(src) + self.wpe(torch.arange(S, device=src.device)))  # (batch, S, C)
        for block in self.encoder:
            x = block(x, key_mask)
        return self.ln_enc(x), key_mask

    def decode(self, tgt, memory, key_mask, cache: DecoderCache | None = None) -> torch.Tensor:
        """tgt (batch, T) -> logits (batch, T, vocab). With a cache, tgt holds the positions after the
        cached ones, and the cache takes their keys/values (and, once, the encoder output's)."""
        T = tgt.size(1)
        start = 0 if cache is None else cache.length
        self._check_length(start + T, "target")
        if cache is not None and cache.cross is None:
            cache.cross = [block.cross_attn.keys_values(memory) for block in self.decoder]
        cross = cache.cross if cache is not None else [block.cross_attn.keys_values(memory) for block in self.decoder]
        x = self.drop(self.wte(tgt) + self.wpe_dec(torch.arange(start, start + T, device=tgt.device)))  # (batch, T, C)
        for layer, block in enumerate(self.decoder):
            x = block(x, cross[layer], key_mask, cache, layer)
        if cache is not None:
            cache.length += T
        return self.lm_head(self.ln_f(x))  # (batch, T, vocab)


# -- decoding ---------------------------------------------------------------------------------------
def _cache_of(module: nn.Module, batch: int, use_cache: bool):
    return module.new_cache(batch) if use_cache and hasattr(module, "new_cache") else None


def _step_log_probs(module, ids, memory, key_mask, cache) -> torch.Tensor:
    """Log-probabilities (batch, vocab) of the token after ``ids`` (batch, t): the last position's."""
    logits = module.decode(ids[:, -1:] if cache is not None else ids, memory, key_mask, cache)
    return torch.log_softmax(logits[:, -1].float(), dim=-1)


@torch.inference_mode()
def greedy_decode(module, src: torch.Tensor, max_new_tokens: int, use_cache: bool = True):
    """The most likely token at each step: ids (batch, <= max_new_tokens), PAD after each row's EOS, and
    each row's log-probability. A network without ``new_cache`` (the reference) recomputes the prefix."""
    memory, key_mask = module.encode(src)
    batch = src.size(0)
    ids = torch.full((batch, 1), BOS, dtype=torch.long, device=src.device)
    cache = _cache_of(module, batch, use_cache)
    done = torch.zeros(batch, dtype=torch.bool, device=src.device)
    score = torch.zeros(batch, device=src.device)
    for _ in range(max_new_tokens):
        log_probs = _step_log_probs(module, ids, memory, key_mask, cache)  # (batch, vocab)
        best = log_probs.argmax(dim=-1)
        score += torch.where(done, 0.0, log_probs.gather(1, best[:, None]).squeeze(1))
        best = best.masked_fill(done, PAD)
        ids = torch.cat([ids, best[:, None]], dim=1)
        done |= best == EOS
        if bool(done.all()):
            break
    return ids[:, 1:], score


@torch.inference_mode()
def beam_search(module, src: torch.Tensor, num_beams: int, max_new_tokens: int, use_cache: bool = True):
    """The highest-scoring of ``num_beams`` hypotheses kept at each step (score: the sum of the tokens'
    log-probabilities; a finished hypothesis keeps its score and competes with the rest): ids (batch,
    <= max_new_tokens), PAD after each row's EOS, and their scores. One beam is greedy decoding."""
    batch, beams = src.size(0), num_beams
    memory, key_mask = module.encode(src)
    memory, key_mask = memory.repeat_interleave(beams, 0), key_mask.repeat_interleave(beams, 0)  # (batch*beams, ..)
    device = src.device
    ids = torch.full((batch * beams, 1), BOS, dtype=torch.long, device=device)
    scores = torch.full((batch, beams), float("-inf"), device=device)
    scores[:, 0] = 0.0  # the beams start as copies: expand only the first at the first step
    done = torch.zeros(batch * beams, dtype=torch.bool, device=device)
    cache = _cache_of(module, batch * beams, use_cache)
    finished_row = None
    first_row = torch.arange(batch, device=device)[:, None] * beams  # (batch, 1)
    for _ in range(max_new_tokens):
        log_probs = _step_log_probs(module, ids, memory, key_mask, cache)  # (batch*beams, vocab)
        vocab = log_probs.size(-1)
        if finished_row is None:  # a finished hypothesis continues with PAD at no cost
            finished_row = torch.full((vocab,), float("-inf"), device=device)
            finished_row[PAD] = 0.0
        log_probs = torch.where(done[:, None], finished_row, log_probs)
        total = (scores.view(-1, 1) + log_probs).view(batch, beams * vocab)
        scores, chosen = total.topk(beams, dim=-1)  # (batch, beams)
        rows = (first_row + chosen // vocab).view(-1)  # the hypothesis each new one continues
        tokens = (chosen % vocab).view(-1, 1)
        ids = torch.cat([ids.index_select(0, rows), tokens], dim=1)
        done = done.index_select(0, rows) | (tokens.squeeze(1) == EOS)
        if cache is not None:
            cache.reorder(rows)
        if bool(done.all()):
            break
    best = scores.argmax(dim=-1)  # (batch,)
    picked = (first_row.squeeze(1) + best).long()
    return ids.index_select(0, picked)[:, 1:], scores.gather(1, best[:, None]).squeeze(1)


# -- the estimator ---------------------------------------------------------------------------------
def _integer(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


class Seq2SeqEstimator(TorchEstimator):
    """The loop and interface shared by ours and the reference; subclasses define ``_network(config)``.

    ``fit(X, y)``: X the sources (a text column), y the target texts. Fitted: ``module_`` (on the CPU,
    in eval mode), ``config_``, ``tokenizer_``, ``device_``, ``n_parameters_``, ``loss_history_`` (mean
    cross-entropy per epoch: the first ``pretrain_epochs`` of denoising, the rest of the tasks).
    ``predict(X)`` decodes with ``num_beams`` (1: greedy); ``decode(X, num_beams)`` with any.
    """

    def __init__(
        self,
        encoder_layers: int = 2,
        decoder_layers: int = 2,
        n_head: int = 4,
        n_embd: int = 64,
        block_size: int = CONTEXT,
        dropout: float = 0.0,
        bias: bool = False,
        batch_size: int = 64,
        max_epochs: int = 4,
        pretrain_epochs: int = 1,
        learning_rate: float = 2e-3,
        min_learning_rate: float | None = None,
        warmup_steps: int = 50,
        weight_decay: float = 0.01,
        clip: float = 1.0,
        mask_ratio: float = 0.3,
        mean_span: float = 3.0,
        shuffle_prob: float = 0.5,
        num_beams: int = 1,
        tol: float = 0.0,
        device: str = "auto",
        precision: str = "auto",
        random_state: int | None = None,
    ):
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.n_head = n_head
        self.n_embd = n_embd
        self.block_size = block_size
        self.dropout = dropout
        self.bias = bias
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.pretrain_epochs = pretrain_epochs
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.clip = clip
        self.mask_ratio = mask_ratio
        self.mean_span = mean_span
        self.shuffle_prob = shuffle_prob
        self.num_beams = num_beams
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _network(self, config: Seq2SeqConfig) -> EncoderDecoder:
        raise NotImplementedError

    # -- inputs ----------------------------------------------------------------------------------
    def _sources(self, X) -> list[str]:
        """The source texts of X, refused by name: empty, longer than the context, or (once fitted)
        holding characters the tokenizer does not know."""
        sources = documents(X)
        empty = [i for i, text in enumerate(sources) if not text.strip()]
        if empty:
            raise EmptySourceError(f"{len(empty)} source(s) are empty or only spaces (first: row {empty[0]})")
        long = [i for i, text in enumerate(sources) if len(text) > self.block_size]
        if long:
            first = long[0]
            raise SourceTooLongError(
                f"{len(long)} source(s) are longer than the context of {self.block_size} characters "
                f"(first: row {first}, {len(sources[first])} characters)"
            )
        if hasattr(self, "tokenizer_"):
            known = set(self.tokenizer_.alphabet)
            for text in sources:
                if set(text) - known:
                    self.tokenizer_.encode(text)  # raises UnknownCharacterError naming the characters
        return sources

    def check_inputs(self, X) -> None:
        """Refuse what ``predict`` cannot read (a ValueError naming the problem) before any work."""
        require_fitted(self, "tokenizer_")
        self._sources(X)

    def _texts(self, X, y) -> tuple[list[str], list[str]]:
        sources = self._sources(X)
        targets = documents(y)
        if len(targets) != len(sources):
            raise ValueError(f"X has {len(sources)} sources but y has {len(targets)} targets")
        long = [i for i, text in enumerate(targets) if len(text) + 1 > self.block_size]
        if long:
            raise TargetTooLongError(
                f"{len(long)} target(s) do not fit the decoder's {self.block_size} positions with their end "
                f"token (first: row {long[0]}, {len(targets[long[0]])} characters)"
            )
        return sources, targets

    def _validate(self, X, y):
        sources, targets = self._texts(X, y)
        return np.array(sources, dtype=object), np.array(targets, dtype=object)

    # -- the loop (models/phase2/trainer.py drives it: seeding, device, precision, epochs) -------------
    def _config(self, vocab_size: int) -> Seq2SeqConfig:
        return Seq2SeqConfig(vocab_size, self.block_size, self.encoder_layers, self.decoder_layers, self.n_head,
                             self.n_embd, self.dropout, self.bias)  # fmt: skip

    def _check_hyperparameters(self) -> None:
        for name in ("batch_size", "max_epochs", "num_beams"):
            value = getattr(self, name)
            if not _integer(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("pretrain_epochs", "warmup_steps"):
            value = getattr(self, name)
            if not _integer(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.pretrain_epochs >= self.max_epochs:
            raise ValueError(
                f"pretrain_epochs ({self.pretrain_epochs}) must be below max_epochs ({self.max_epochs}): "
                "at least one epoch trains the tasks"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.min_learning_rate is not None and not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError(f"min_learning_rate must lie in [0, learning_rate], got {self.min_learning_rate!r}")
        if not self.weight_decay >= 0 or not self.clip >= 0:
            raise ValueError(f"weight_decay and clip must be >= 0, got {self.weight_decay}, {self.clip}")
        if not 0.0 <= self.mask_ratio < 1.0 or not 0.0 <= self.shuffle_prob <= 1.0 or not self.mean_span > 0:
            raise ValueError(
                f"mask_ratio must lie in [0, 1), shuffle_prob in [0, 1] and mean_span be > 0; got "
                f"{self.mask_ratio}, {self.shuffle_prob}, {self.mean_span}"
            )
        self._config(1)  # the network's own checks

    def _init_state(self, X, y) -> None:
        self._check_hyperparameters()
        for stale in ("tokenizer_", "_data", "_data_key", "_cuda_module"):  # a refit learns all afresh
            self.__dict__.pop(stale, None)
        sources, targets = self._texts(X, y)
        self.tokenizer_ = Seq2SeqTokenizer().fit(sources + targets)
        self.config_ = self._config(self.tokenizer_.vocab_size)
        self.n_train_ = len(sources)
        super()._init_state(X, y)  # seed, device, module_, optimizer_, precision, loss_history_
        self.phase_step_ = 0

    def _module(self, X, y) -> nn.Module:
        return self._network(self.config_)

    def _optimizer(self, parameters):
        """AdamW with weight decay on the matrices only (nanoGPT's groups)."""
        parameters = list(parameters)
        groups = [
            {"params": [p for p in parameters if p.dim() >= 2], "weight_decay": self.weight_decay},
            {"params": [p for p in parameters if p.dim() < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=self.learning_rate, betas=(0.9, 0.99))

    def _tensors(self, X, y):
        """Sources (n, block_size) and start + target + end (n, block_size + 1), right-padded."""
        sources, targets = documents(X), documents(y)
        encode = self.tokenizer_.encode
        src = pad_rows([encode(text) for text in sources], self.block_size)
        tgt = pad_rows([encode(text) for text in targets], self.block_size + 1, start=True, end=True)
        return torch.from_numpy(src), torch.from_numpy(tgt)

    def _epoch_data(self, X, y, rng: np.random.Generator, denoising: bool):
        """(src, tgt) on the device and each row's source and target lengths (NumPy, to crop batches).
        The task rows are moved once per process; the denoising pairs are drawn afresh each epoch."""
        key = (id(X), id(y))
        if getattr(self, "_data_key", None) != key:
            src, tgt = self._tensors(X, y)
            self._data = {"tasks": self._on_device(src, tgt), "texts": None}
            self._data_key = key
        if not denoising:
            return self._data["tasks"]
        if self._data["texts"] is None:  # every training text that fits the decoder, as ids
            texts = [text for text in (*documents(X), *documents(y)) if len(text) + 1 <= self.block_size]
            self._data["texts"] = [self.tokenizer_.encode(text) for text in texts]
        texts = self._data["texts"]
        space = self.tokenizer_.encode(" ")[0] if " " in self.tokenizer_.alphabet else None
        noisy = [corrupt(ids, rng, space, self.mask_ratio, self.mean_span, self.shuffle_prob) for ids in texts]
        src = torch.from_numpy(pad_rows(noisy, self.block_size))
        tgt = torch.from_numpy(pad_rows(texts, self.block_size + 1, start=True, end=True))
        return self._on_device(src, tgt)

    def _on_device(self, src: torch.Tensor, tgt: torch.Tensor):
        lengths = ((src != PAD).sum(1).numpy(), (tgt != PAD).sum(1).numpy())
        return src.to(self.device_), tgt.to(self.device_), *lengths

    def _phase_steps(self, denoising: bool) -> int:
        """Optimizer steps of the whole phase (pretraining, or the tasks): the span of its cosine decay."""
        if denoising:
            return self.pretrain_epochs * math.ceil(len(self._data["texts"]) / self.batch_size)
        return (self.max_epochs - self.pretrain_epochs) * math.ceil(self.n_train_ / self.batch_size)

    def _run_epoch(self, X, y, rng: np.random.Generator) -> float:
        epoch = len(self.loss_history_)
        denoising = epoch < self.pretrain_epochs
        if epoch == self.pretrain_epochs:
            self.phase_step_ = 0  # the tasks start their own warm-up and decay
        src, tgt, src_lengths, tgt_lengths = self._epoch_data(X, y, rng, denoising)
        module, optimizer, scaler = self.module_, self.optimizer_, self.scaler_
        floor = self.learning_rate / 10 if self.min_learning_rate is None else self.min_learning_rate
        total_steps = self._phase_steps(denoising)
        module.train()
        order = rng.permutation(len(src))
        total = torch.zeros((), device=self.device_)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            index = torch.from_numpy(rows).to(self.device_)
            s = src.index_select(0, index)[:, : src_lengths[rows].max()]  # (batch, longest source)
            t = tgt.index_select(0, index)[:, : tgt_lengths[rows].max()]  # (batch, 1 + longest target + 1)
            rate = learning_rate_at(self.phase_step_, self.learning_rate, floor, self.warmup_steps, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = rate
            with torch.autocast(self.device_, dtype=self.amp_dtype_, enabled=self.amp_dtype_ is not None):
                _, loss = module(s, t[:, :-1], t[:, 1:])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if self.clip:  # the global gradient norm, on unscaled gradients
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(module.parameters(), self.clip)
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach().float() * len(rows)
            self.phase_step_ += 1
        return float(total) / len(order)

    def _finish(self) -> None:
        super()._finish()  # the network on the CPU in eval mode; optimizer and data dropped
        self.n_parameters_ = sum(p.numel() for p in self.module_.parameters())

    # -- inference -----------------------------------------------------------------------------
    @property
    def vocabulary(self) -> set[str]:
        """The characters the model reads: drift monitoring measures the share of others."""
        require_fitted(self, "tokenizer_")
        return set(self.tokenizer_.alphabet)

    def _inference_module(self) -> nn.Module:
        """The trained network where it decodes: on cuda when the estimator's device is cuda and one is
        present (a copy, kept for later calls and never pickled), else ``module_`` on the CPU."""
        if best_device(self.device) != "cuda" or not torch.cuda.is_available():
            return self.module_.eval()
        if self.__dict__.get("_cuda_module") is None:
            self._cuda_module = copy.deepcopy(self.module_).to("cuda").eval()
        return self._cuda_module

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_cuda_module", None)
        return state

    def _source_batches(self, X, batch_size: int):
        sources = self._sources(X)
        encoded = pad_rows([self.tokenizer_.encode(text) for text in sources], self.block_size)
        for start in range(0, len(encoded), batch_size):
            chunk = torch.from_numpy(encoded[start : start + batch_size])
            yield chunk[:, : max(int((chunk != PAD).sum(1).max()), 1)]

    def decode(self, X, num_beams: int | None = None, use_cache: bool = True, batch_size: int = 256) -> np.ndarray:
        """The target text of each source: greedy with one beam, else beam search (``num_beams``:
        the estimator's by default). ``use_cache`` False recomputes the prefix at each step."""
        require_fitted(self, "module_")
        beams = self.num_beams if num_beams is None else num_beams
        if not _integer(beams) or beams < 1:
            raise ValueError(f"num_beams must be a positive integer, got {beams!r}")
        module = self._inference_module()
        device = next(module.parameters()).device
        out = []
        for src in self._source_batches(X, batch_size):
            src = src.to(device)
            if beams == 1:
                ids, _ = greedy_decode(module, src, self.block_size, use_cache)
            else:
                ids, _ = beam_search(module, src, beams, self.block_size, use_cache)
            out += [self.tokenizer_.decode(row) for row in ids.tolist()]
        return np.array(out, dtype=object)

    def predict(self, X) -> np.ndarray:
        return self.decode(X)

    @torch.inference_mode()
    def log_likelihood(self, X, y, batch_size: int = 512) -> np.ndarray:
        """log p(target + end | source) of each row under the model (nats), by teacher forcing."""
        require_fitted(self, "module_")
        sources, targets = self._texts(X, y)
        encode = self.tokenizer_.encode
        src = torch.from_numpy(pad_rows([encode(text) for text in sources], self.block_size))
        tgt = torch.from_numpy(pad_rows([encode(text) for text in targets], self.block_size + 1, True, True))
        width = int((tgt != PAD).sum(1).max())
        tgt = tgt[:, :width]
        module = self._inference_module()
        device = next(module.parameters()).device
        out = []
        for start in range(0, len(src), batch_size):
            s, t = src[start : start + batch_size].to(device), tgt[start : start + batch_size].to(device)
            logits, _ = module(s, t[:, :-1])
            log_probs = torch.log_softmax(logits.float(), dim=-1).gather(2, t[:, 1:, None]).squeeze(2)
            out.append((log_probs * (t[:, 1:] != PAD)).sum(1).double().cpu())
        return torch.cat(out).numpy()

    # -- persistence: safetensors and JSON, no pickled modules -------------------------------------
    def save(self, directory) -> Path:
        require_fitted(self, "module_")
        fitted = {name: getattr(self, name) for name in ("device_", "n_parameters_", "loss_history_")}
        return store(directory, self, {"model": self.module_}, network=asdict(self.config_),
                     tokenizer=self.tokenizer_.to_json(), fitted=fitted)  # fmt: skip

    @classmethod
    def load(cls, directory) -> Seq2SeqEstimator:
        document = stored_document(directory, cls)
        estimator = cls(**document["hyperparameters"])
        estimator.config_ = Seq2SeqConfig(**document["network"])
        estimator.tokenizer_ = Seq2SeqTokenizer.from_json(document["tokenizer"])
        for name, value in document["fitted"].items():
            setattr(estimator, name, value)
        estimator.module_ = restored(directory, "model", estimator._network(estimator.config_))
        return estimator


class Seq2SeqTransformer(Seq2SeqEstimator):
    """This file's encoder-decoder trained by the shared loop: see ``Seq2SeqEstimator``."""

    def _network(self, config: Seq2SeqConfig) -> EncoderDecoder:
        return Seq2SeqNetwork(config)
