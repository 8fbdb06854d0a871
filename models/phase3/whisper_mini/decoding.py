"""Beam search for whisper-mini's decoder, with shallow fusion of a character n-gram language model of the
training transcripts (the reference, pocketsphinx, decodes with a trigram of the same transcripts).

    score(hypothesis) = sum over its tokens of  log p_decoder(token | audio, prefix)
                                              + lm_weight * log p_lm(token | the last order - 1 tokens)

``CharNgram`` is an interpolated Witten-Bell n-gram over the decoder's token ids (characters and END,
the sentence starting at START): P(c | h) = (C(h c) + T(h) P(c | h')) / (C(h) + T(h)), with T(h) the
number of distinct tokens seen after h and h' the context one token shorter, down to a uniform
distribution. ``beam_decode`` keeps ``beams`` hypotheses per utterance (KV-cached, the cache reordered
as beams are chosen); one beam without a language model is greedy decoding.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from models.phase3.gpt_mini.model import KVCache

PAD, START, END = 0, 1, 2  # model.py's


class CharNgram:
    """Fitted: ``counts_`` (context tuple -> counts of each next token id), ``vocab_size_``."""

    def __init__(self, order: int = 6):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive integer, got {order!r}")
        self.order = order

    def fit(self, sequences: list[list[int]], vocab_size: int) -> CharNgram:
        """``sequences``: token ids of each transcript, characters only (START and END are added here)."""
        if not sequences:
            raise ValueError("no transcripts to build the language model from")
        self.vocab_size_ = vocab_size
        self.counts_: dict[tuple[int, ...], np.ndarray] = {}
        for sequence in sequences:
            tokens = [START, *sequence, END]
            for i in range(1, len(tokens)):
                for k in range(min(self.order, i + 1)):  # contexts of 0 .. order - 1 tokens
                    context = tuple(tokens[i - k : i])
                    self.counts_.setdefault(context, np.zeros(vocab_size))[tokens[i]] += 1
        self._cache: dict[tuple[int, ...], np.ndarray] = {}
        return self

    def log_probs(self, context: tuple[int, ...]) -> np.ndarray:
        """log P(token | context) for every token id (vocab_size,): -inf for PAD and START."""
        context = tuple(context[-(self.order - 1) :]) if self.order > 1 else ()
        if context not in self._cache:
            probs = np.zeros(self.vocab_size_)
            probs[END:] = 1.0 / (self.vocab_size_ - END)
            for k in range(len(context) + 1):
                counts = self.counts_.get(context[len(context) - k :])
                if counts is None:
                    break  # a longer context was never seen either
                total, types = counts.sum(), np.count_nonzero(counts)
                probs = (counts + types * probs) / (total + types)
            with np.errstate(divide="ignore"):
                self._cache[context] = np.log(probs)
        return self._cache[context]


@torch.inference_mode()
def beam_decode(module, mel: torch.Tensor, beams: int, lm: CharNgram | None = None, lm_weight: float = 0.0,
                max_tokens: int | None = None) -> list[list[int]]:  # fmt: skip
    """The best of ``beams`` hypotheses per utterance of ``mel`` (batch, n_mels, frames) under the decoder's
    log-probabilities plus ``lm_weight`` x the language model's; each as token ids without START / END."""
    if beams < 1:
        raise ValueError(f"beams must be at least 1, got {beams}")
    module.eval()
    config = module.config
    limit = config.max_tokens if max_tokens is None else min(max_tokens, config.max_tokens)
    batch, width = mel.size(0), beams
    rows = batch * width
    memories = [(k.repeat_interleave(width, 0), v.repeat_interleave(width, 0))
                for k, v in module.memories(module.encoder(mel))]  # fmt: skip
    weight = module.wte.weight
    cache = KVCache(config.blocks(causal=True), rows, weight.device, weight.dtype)
    scores = torch.full((batch, width), -torch.inf, device=mel.device)
    scores[:, 0] = 0.0  # one live hypothesis per utterance to start
    hypotheses = [[START] for _ in range(rows)]
    done = torch.zeros(rows, dtype=torch.bool, device=mel.device)
    current = torch.full((rows, 1), START, dtype=torch.long, device=mel.device)
    for _ in range(limit - 1):
        log_probs = F.log_softmax(module.decode(current, memories, cache)[:, -1].float(), dim=-1)  # (rows, vocab)
        if lm is not None and lm_weight:
            fused = np.stack([lm.log_probs(tuple(h)) for h in hypotheses])
            log_probs = log_probs + lm_weight * torch.from_numpy(fused).to(log_probs)
        log_probs[done] = -torch.inf
        log_probs[done, END] = 0.0  # a finished hypothesis stays as it is
        vocab = log_probs.size(1)
        top, index = (scores.reshape(rows, 1) + log_probs).view(batch, width * vocab).topk(width, dim=1)
        origin = (torch.arange(batch, device=mel.device)[:, None] * width + index // vocab).view(-1)  # (rows,)
        tokens = (index % vocab).view(-1)
        cache.keys, cache.values = cache.keys[:, origin], cache.values[:, origin]
        hypotheses = [hypotheses[o] + [t] for o, t in zip(origin.tolist(), tokens.tolist(), strict=True)]
        done = done[origin] | (tokens == END)
        scores, current = top, tokens[:, None]
        if done.all():
            break
    best = scores.argmax(dim=1).tolist()
    out = []
    for b, choice in enumerate(best):
        tokens = hypotheses[b * width + choice][1:]
        out.append([t for t in tokens[: tokens.index(END) if END in tokens else None] if t > END])
    return out
