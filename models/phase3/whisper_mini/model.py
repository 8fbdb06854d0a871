"""Whisper-mini: an encoder-decoder transformer over log-mel frames, written out in torch ops, with a CTC
head as the ablation; the estimator that trains it with the project's loop and transcribes greedily (or
by beam search, decoding.py).

The network (Whisper's shape, Radford et al. 2022, at the scale of a few hundred spoken commands):

    audio (16 kHz, zero-padded to a fixed length) -> log-mel (audio.py, librosa's) -> Whisper's scaling
    encoder  conv1d(k3, stride 2) GELU -> conv1d(k3, stride 2) GELU -> + sinusoidal positions (40 ms each)
             -> ``n_layer`` pre-norm blocks of GPT-mini without the causal mask -> layer norm
    decoder  character embeddings + learned positions -> ``n_layer`` blocks of causal self-attention
             (GPT-mini's, with its KV cache), cross-attention to the encoder and GPT-mini's MLP
             -> layer norm -> read-out tied to the embedding; trained with teacher forcing
    hybrid   the seq2seq loss is mixed with ``ctc_weight`` x a CTC loss on the encoder (Watanabe et al.
             2017's hybrid CTC/attention): it teaches the encoder to align audio and characters early
    ctc      (``head="ctc"``, the ablation) the encoder alone, a linear read-out per frame to the
             characters and a blank, trained with the CTC loss; decoded by collapsing repeats and blanks

The blocks, attention, MLP and KV cache are models/phase3/gpt_mini/model.py's. Tokens are characters:
0 padding (and CTC's blank), 1 start, 2 end, then the training transcripts' characters. Like Whisper, the
padding needs no mask: the encoder sees the silence. Training adds SpecAugment-style masks (a band of
mel channels and a span of frames zeroed per utterance).

``WhisperMini`` is a scikit-learn estimator trained by ``TorchEstimator`` (models/phase2/trainer.py:
device, mixed precision on cuda, seeding, epochs, checkpoints) with AdamW, warm-up and cosine decay
per epoch and gradient clipping. ``X`` is a record array of utterances (``utterances``): the padded
audio, its true length and its voice; rows whose voice is in ``held_out_voices`` are never trained on.
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
from models.phase3.gpt_mini.data import CharTokenizer
from models.phase3.gpt_mini.model import (
    MLP,
    Block,
    CausalSelfAttention,
    GPTConfig,
    KVCache,
    causal_attention,
    init_gpt_weights,
    learning_rate_at,
)
from models.phase3.whisper_mini.audio import log_mel_spectrogram, whisper_features
from models.phase3.whisper_mini.data import HELD_OUT_VOICES, MAX_SAMPLES, SAMPLE_RATE
from models.phase3.whisper_mini.decoding import CharNgram, beam_decode

PAD, START, END = 0, 1, 2  # PAD is also CTC's blank
SPECIALS = 3
HEADS = ("seq2seq", "ctc")


class AudioError(ValueError):
    """Audio the model cannot read: the wrong shape, too long, not finite."""


# -- the utterances a model reads -------------------------------------------------------------------
def utterance_dtype(samples: int = MAX_SAMPLES) -> np.dtype:
    return np.dtype([("audio", np.float32, (samples,)), ("length", np.int64), ("voice", "U40")])


def utterances(audio, lengths=None, voices=None, samples: int = MAX_SAMPLES) -> np.ndarray:
    """A record array of utterances: each waveform zero-padded to ``samples``, its true length (default: the
    waveform's) and its voice ("" when unknown, as served). ``audio``: (n, samples) padded, or n waveforms."""
    waveforms = list(audio)
    n = len(waveforms)
    lengths = [len(w) for w in waveforms] if lengths is None else [int(v) for v in lengths]
    voices = [""] * n if voices is None else [str(v) for v in voices]
    if not len(lengths) == len(voices) == n:
        raise AudioError(f"{n} waveforms, {len(lengths)} lengths and {len(voices)} voices differ in number")
    out = np.zeros(n, dtype=utterance_dtype(samples))
    for i, (waveform, length) in enumerate(zip(waveforms, lengths, strict=True)):
        waveform = np.asarray(waveform, dtype=np.float32).ravel()
        if not 1 <= length <= min(len(waveform), samples):
            raise AudioError(
                f"utterance {i}: length {length} is not within its {len(waveform)} samples (max {samples})"
            )
        if not np.isfinite(waveform[:length]).all():
            raise AudioError(f"utterance {i} holds NaN or infinite samples")
        out["audio"][i, :length] = waveform[:length]
    out["length"], out["voice"] = lengths, voices
    return out


def as_utterances(X, samples: int = MAX_SAMPLES) -> np.ndarray:
    """X as a record array of utterances: one already, or (n, samples) padded audio."""
    if isinstance(X, np.ndarray) and X.dtype.names == utterance_dtype(samples).names:
        if X["audio"].shape[1:] != (samples,):
            raise AudioError(f"utterances of {X['audio'].shape[1]} samples; the model reads {samples}")
        return X
    array = np.asarray(X, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != samples:
        raise AudioError(f"X must be utterances or padded audio (n, {samples}), got shape {array.shape}")
    return utterances(array, [samples] * len(array))


# -- the network ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WhisperConfig:
    vocab_size: int = 32  # characters and the three special tokens
    n_mels: int = 40
    n_frames: int = 301  # log-mel frames of the padded audio
    max_tokens: int = 64  # the decoder's positions: start, characters, end
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    head: str = "seq2seq"
    ctc_weight: float = 0.3  # seq2seq: the share of an auxiliary CTC loss on the encoder (hybrid CTC/attention)

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if not 0.0 <= self.ctc_weight < 1.0:
            raise ValueError(f"ctc_weight must lie in [0, 1), got {self.ctc_weight}")

    @property
    def audio_positions(self) -> int:
        """The encoder's positions: the frames after two convolutions of stride 2."""
        return ((self.n_frames + 1) // 2 + 1) // 2

    def blocks(self, causal: bool) -> GPTConfig:
        positions = self.max_tokens if causal else self.audio_positions
        return GPTConfig(self.vocab_size, positions, self.n_layer, self.n_head, self.n_embd, self.dropout, True, causal)


def sinusoids(length: int, channels: int) -> torch.Tensor:
    """Whisper's sinusoidal positions: (length, channels), sines then cosines at geometric timescales."""
    increment = math.log(10_000) / (channels // 2 - 1)
    inverse = torch.exp(-increment * torch.arange(channels // 2))
    angles = torch.arange(length)[:, None] * inverse[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class AudioEncoder(nn.Module):
    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.conv1 = nn.Conv1d(config.n_mels, config.n_embd, 3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(config.n_embd, config.n_embd, 3, stride=2, padding=1)
        self.register_buffer("positions", sinusoids(config.audio_positions, config.n_embd), persistent=False)
        blocks = config.blocks(causal=False)
        self.blocks = nn.ModuleList(Block(blocks) for _ in range(config.n_layer))
        self.ln = nn.LayerNorm(config.n_embd)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (batch, n_mels, frames) -> (batch, audio_positions, n_embd): one position per 4 frames."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel))))  # (batch, C, T / 4)
        x = x.transpose(1, 2) + self.positions[: x.size(2)]  # (batch, T / 4, C)
        for block in self.blocks:
            x = block(x)
        return self.ln(x)


class CrossAttention(nn.Module):
    """Queries from the text, keys and values from the audio (no mask: every frame is seen)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.q = nn.Linear(config.n_embd, config.n_embd)
        self.kv = nn.Linear(config.n_embd, 2 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def memory(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values of the encoded audio (batch, Ta, C): 2 x (batch, heads, Ta, d), once per utterance."""
        batch, T, C = audio.shape
        k, v = self.kv(audio).split(C, dim=2)
        return tuple(t.view(batch, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (k, v))

    def forward(self, x: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        batch, T, C = x.shape
        q = self.q(x).view(batch, T, self.n_head, C // self.n_head).transpose(1, 2)  # (batch, heads, T, d)
        y = causal_attention(q, *memory, causal=False)  # (batch, heads, T, d)
        return self.proj(y.transpose(1, 2).contiguous().view(batch, T, C))


class DecoderBlock(nn.Module):
    """x + self_attention(norm(x)) (causal, cached), x + cross_attention(norm(x), audio), x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.attn = CausalSelfAttention(config)
        self.cross = CrossAttention(config)
        self.mlp = MLP(config)
        self.ln_1, self.ln_2, self.ln_3 = (nn.LayerNorm(config.n_embd) for _ in range(3))

    def forward(self, x, memory, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        x = x + self.cross(self.ln_2(x), memory)
        return x + self.mlp(self.ln_3(x))


class WhisperMiniNetwork(nn.Module):
    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.encoder = AudioEncoder(config)
        if config.head == "ctc" or config.ctc_weight > 0:
            self.ctc_head = nn.Linear(config.n_embd, config.vocab_size)
        if config.head == "seq2seq":
            text = config.blocks(causal=True)
            self.wte = nn.Embedding(config.vocab_size, config.n_embd)
            self.wpe = nn.Embedding(config.max_tokens, config.n_embd)
            self.blocks = nn.ModuleList(DecoderBlock(text) for _ in range(config.n_layer))
            self.ln_f = nn.LayerNorm(config.n_embd)
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.lm_head.weight = self.wte.weight  # weight tying
        init_gpt_weights(self, config.n_layer)

    def memories(self, audio: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each decoder layer's keys and values of the encoded audio (batch, Ta, C)."""
        return [block.cross.memory(audio) for block in self.blocks]

    def decode(self, idx: torch.Tensor, memories, cache: KVCache | None = None) -> torch.Tensor:
        """idx (batch, T) -> logits (batch, T, vocab); with a cache, idx follows the cached positions."""
        start = 0 if cache is None else cache.length
        positions = torch.arange(start, start + idx.size(1), device=idx.device)
        x = self.wte(idx) + self.wpe(positions)  # (batch, T, C)
        for layer, (block, memory) in enumerate(zip(self.blocks, memories, strict=True)):
            x = block(x, memory, cache, layer)
        if cache is not None:
            cache.length += idx.size(1)
        return self.lm_head(self.ln_f(x))

    def forward(self, mel: torch.Tensor, tokens: torch.Tensor | None = None):
        """mel (batch, n_mels, frames), tokens (batch, U): start, characters, end, padding.

        seq2seq: logits (batch, U - 1, vocab) for each next token and their mean cross-entropy (padding
        ignored; plus ``ctc_weight`` x the encoder's CTC loss); ctc: per-frame log-probabilities (batch, Ta,
        vocab) and the CTC loss (blank = PAD)."""
        audio = self.encoder(mel)  # (batch, Ta, C)
        if self.config.head == "ctc":
            log_probs = F.log_softmax(self.ctc_head(audio).float(), dim=-1)  # (batch, Ta, vocab)
            return log_probs, None if tokens is None else ctc_loss(log_probs, tokens)
        if tokens is None:
            raise ValueError("the seq2seq head scores tokens given with the audio; transcribe with greedy_decode")
        logits = self.decode(tokens[:, :-1], self.memories(audio))  # (batch, U - 1, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), tokens[:, 1:].flatten(), ignore_index=PAD)
        if self.config.ctc_weight > 0:
            log_probs = F.log_softmax(self.ctc_head(audio).float(), dim=-1)
            loss = (1 - self.config.ctc_weight) * loss + self.config.ctc_weight * ctc_loss(log_probs, tokens)
        return logits, loss


def ctc_loss(log_probs: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """CTC of per-frame log-probabilities (batch, Ta, vocab) against the characters of ``tokens`` (batch, U:
    start, characters, end, padding), every frame of every utterance read (the padding is silence)."""
    labels = tokens[:, 1:]
    lengths = (labels > END).sum(dim=1)
    labels = labels.masked_fill(labels <= END, PAD)  # characters first, then blanks (ignored past lengths)
    frames = torch.full((len(tokens),), log_probs.size(1), dtype=torch.long, device=tokens.device)
    return F.ctc_loss(log_probs.transpose(0, 1), labels, frames, lengths, blank=PAD, zero_infinity=True)


@torch.inference_mode()
def greedy_decode(module: WhisperMiniNetwork, mel: torch.Tensor, max_tokens: int | None = None) -> list[list[int]]:
    """The most likely token at each step (KV-cached self-attention, the audio's keys/values once), until
    END or ``max_tokens``; returns each utterance's token ids without START / END. The CTC head: the best
    token per frame, repeats collapsed and blanks dropped."""
    module.eval()
    audio = module.encoder(mel)
    if module.config.head == "ctc":
        best = module.ctc_head(audio).argmax(dim=-1).cpu().numpy()  # (batch, Ta)
        return [[int(t) for i, t in enumerate(row) if t != PAD and (i == 0 or t != row[i - 1])] for row in best]
    limit = module.config.max_tokens if max_tokens is None else min(max_tokens, module.config.max_tokens)
    batch = mel.size(0)
    weight = module.wte.weight
    cache = KVCache(module.config.blocks(causal=True), batch, weight.device, weight.dtype)
    memories = module.memories(audio)
    current = torch.full((batch, 1), START, dtype=torch.long, device=mel.device)
    done = torch.zeros(batch, dtype=torch.bool, device=mel.device)
    out = []
    for _ in range(limit - 1):
        current = module.decode(current, memories, cache)[:, -1].argmax(dim=-1, keepdim=True)  # (batch, 1)
        current = current.masked_fill(done[:, None], END)
        out.append(current)
        done |= current[:, 0] == END
        if done.all():
            break
    ids = torch.cat(out, dim=1).cpu().numpy() if out else np.zeros((batch, 0), dtype=np.int64)
    return [
        [int(t) for t in row[: list(row).index(END)] if t > END] if END in row else [int(t) for t in row if t > END]
        for row in ids
    ]


# -- the estimator ----------------------------------------------------------------------------------
class WhisperMini(TorchEstimator):
    """Speech to text. Fitted: ``module_`` (on the CPU), ``tokenizer_`` (the training transcripts'
    characters), ``language_model_`` (their character n-gram, decoding.py), ``config_``, ``loss_history_``
    (mean training loss per epoch), ``device_``. Decoding is greedy unless ``num_beams`` > 1 or
    ``lm_weight`` > 0 (beam search, the n-gram fused with that weight: the reference's trigram's match)."""

    def __init__(self, head: str = "seq2seq", n_layer: int = 2, n_head: int = 4, n_embd: int = 128,
                 n_mels: int = 40, dropout: float = 0.1, batch_size: int = 16, max_epochs: int = 30,
                 learning_rate: float = 1e-3, min_learning_rate: float | None = None, warmup_epochs: int = 2,
                 weight_decay: float = 0.01, clip: float = 1.0, freq_mask: int = 6, time_mask: int = 20,
                 ctc_weight: float = 0.3, num_beams: int = 1, lm_weight: float = 0.0, lm_order: int = 6,
                 max_tokens: int = 64, held_out_voices: tuple[str, ...] = HELD_OUT_VOICES,
                 sample_rate: int = SAMPLE_RATE, max_samples: int = MAX_SAMPLES, tol: float = 0.0,
                 device: str = "auto", precision: str = "auto", random_state: int | None = None):  # fmt: skip
        self.head = head
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.n_mels = n_mels
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.clip = clip
        self.freq_mask = freq_mask
        self.time_mask = time_mask
        self.ctc_weight = ctc_weight
        self.num_beams = num_beams
        self.lm_weight = lm_weight
        self.lm_order = lm_order
        self.max_tokens = max_tokens
        self.held_out_voices = held_out_voices
        self.sample_rate = sample_rate
        self.max_samples = max_samples
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    # -- features and tokens -------------------------------------------------------------------------
    def features(self, X) -> torch.Tensor:
        """Whisper-scaled log-mel frames of each utterance: (n, n_mels, frames), float32."""
        audio = torch.from_numpy(np.ascontiguousarray(as_utterances(X, self.max_samples)["audio"]))
        parts = [whisper_features(log_mel_spectrogram(chunk, self.sample_rate, n_mels=self.n_mels))
                 for chunk in audio.split(256)]  # fmt: skip
        return torch.cat(parts) if parts else torch.empty(0, self.n_mels, 1 + self.max_samples // 160)

    def _tokens(self, texts) -> torch.Tensor:
        rows = [[START, *(self.tokenizer_.encode(str(text)) + SPECIALS).tolist(), END] for text in texts]
        longest = max(len(row) for row in rows)
        if longest > self.max_tokens:
            raise ValueError(f"a transcript of {longest - 2} characters exceeds max_tokens {self.max_tokens} - 2")
        return torch.tensor([row + [PAD] * (longest - len(row)) for row in rows], dtype=torch.long)

    def _trained_rows(self, X) -> np.ndarray:
        """The rows it trains on: every voice but the held-out ones."""
        return ~np.isin(as_utterances(X, self.max_samples)["voice"], list(self.held_out_voices))

    # -- TorchEstimator -------------------------------------------------------------------------------
    def _module(self, X, y):
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        texts = np.asarray(y, dtype=object)[self._trained_rows(X)]
        if len(texts) == 0:
            raise ValueError(f"no training rows outside the held-out voices {list(self.held_out_voices)}")
        self.tokenizer_ = CharTokenizer().fit("".join(str(text) for text in texts))
        sequences = [(self.tokenizer_.encode(str(text)) + SPECIALS).tolist() for text in texts]
        # the training transcripts' character n-gram (milliseconds): beam search fuses it with lm_weight > 0
        self.language_model_ = CharNgram(self.lm_order).fit(sequences, self.tokenizer_.vocab_size + SPECIALS)
        frames = 1 + self.max_samples // 160
        self.config_ = WhisperConfig(self.tokenizer_.vocab_size + SPECIALS, self.n_mels, frames, self.max_tokens,
                                     self.n_layer, self.n_head, self.n_embd, self.dropout, self.head,
                                     self.ctc_weight if self.head == "seq2seq" else 0.0)  # fmt: skip
        return WhisperMiniNetwork(self.config_)

    def _tensors(self, X, y):
        if y is None:
            return self.features(X), torch.zeros(len(X), 1, dtype=torch.long)
        keep = self._trained_rows(X)
        return self.features(as_utterances(X, self.max_samples)[keep]), self._tokens(np.asarray(y, dtype=object)[keep])

    def _loss(self, module, mel, tokens):
        if module.training and (self.freq_mask or self.time_mask):
            mel = spec_augment(mel, self.freq_mask, self.time_mask)
        return module(mel, tokens)[1]

    def _optimizer(self, parameters):
        return torch.optim.AdamW(parameters, lr=self.learning_rate, weight_decay=self.weight_decay)

    def _run_epoch(self, X, y, rng) -> float:
        """One epoch at this epoch's learning rate: linear warm-up, then cosine decay."""
        floor = self.learning_rate / 10 if self.min_learning_rate is None else self.min_learning_rate
        rate = learning_rate_at(len(self.loss_history_), self.learning_rate, floor, self.warmup_epochs, self.max_epochs)
        for group in self.optimizer_.param_groups:
            group["lr"] = rate
        return super()._run_epoch(X, y, rng)

    def _validate(self, X, y):
        return as_utterances(X, self.max_samples), np.asarray(y, dtype=object)

    # -- inference -------------------------------------------------------------------------------------
    def predict(self, X, batch_size: int = 64) -> np.ndarray:
        """The transcript of each utterance (greedy decoding; beam search with ``num_beams`` > 1 or a language
        model, decoding.py), as an object array of str."""
        require_fitted(self, "module_")
        mel = self.features(X)
        beam = self.head == "seq2seq" and (self.num_beams > 1 or self.lm_weight)
        lm = getattr(self, "language_model_", None)  # models pickled before it existed decode without one
        texts = []
        for chunk in mel.split(batch_size):
            if beam:
                decoded = beam_decode(self.module_, chunk, self.num_beams, lm, self.lm_weight)
            else:
                decoded = greedy_decode(self.module_, chunk)
            for ids in decoded:
                texts.append(self.tokenizer_.decode(np.asarray(ids, dtype=np.int64) - SPECIALS))
        out = np.empty(len(texts), dtype=object)
        out[:] = texts
        return out

    @property
    def vocabulary(self) -> list[str]:
        """The characters it writes (the transcript-length descriptors read them)."""
        require_fitted(self, "tokenizer_")
        return list(self.tokenizer_.alphabet_)


def spec_augment(mel: torch.Tensor, freq_mask: int, time_mask: int) -> torch.Tensor:
    """One band of up to ``freq_mask`` mel channels and one span of up to ``time_mask`` frames per utterance
    set to the utterance's mean (Park et al. 2019, without time warping)."""
    batch, channels, frames = mel.shape
    device = mel.device
    mask = torch.zeros_like(mel, dtype=torch.bool)
    for size, axis, extent in ((freq_mask, 1, channels), (time_mask, 2, frames)):
        if size <= 0:
            continue
        width = torch.randint(0, size + 1, (batch, 1), device=device)
        start = (torch.rand(batch, 1, device=device) * (extent - width)).long()
        index = torch.arange(extent, device=device)[None, :]
        band = (index >= start) & (index < start + width)  # (batch, extent)
        mask |= band[:, :, None] if axis == 1 else band[:, None, :]
    return mel.masked_fill(mask, 0.0) + mask * mel.mean(dim=(1, 2), keepdim=True)
