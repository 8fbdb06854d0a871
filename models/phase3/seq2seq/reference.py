"""The reference: the same sizes built from torch.nn.Transformer.

``nn.Transformer(norm_first=True, activation="gelu", batch_first=True)``: pre-norm encoder layers
(torch's multi-head attention over the source, padding masked), pre-norm decoder layers (causal
self-attention, cross-attention, the 4x GELU feed-forward), and the final layer norm of each side.
Around it the same shared token embedding, learned positions and tied read-out as ours, the same
initialization (its matrices come in our order and shapes, so one seed gives both networks the same
initial weights: reference.py's test checks it) and the same estimator: data, epochs, denoising
pretraining, seed, optimizer, loop and decoding are ``Seq2SeqEstimator``'s. Torch's decoder keeps no
KV cache, so the reference decodes by recomputing the prefix at each token.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn

from models.phase3.seq2seq.data import PAD
from models.phase3.seq2seq.model import EncoderDecoder, Seq2SeqConfig, Seq2SeqEstimator, init_seq2seq_weights


class TorchSeq2SeqNetwork(EncoderDecoder):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        rng_state = torch.random.get_rng_state()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.wpe_dec = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        with warnings.catch_warnings():  # "enable_nested_tensor is True, but ... norm_first was True": expected
            warnings.simplefilter("ignore", UserWarning)
            self.transformer = nn.Transformer(
                d_model=config.n_embd,
                nhead=config.n_head,
                num_encoder_layers=config.encoder_layers,
                num_decoder_layers=config.decoder_layers,
                dim_feedforward=4 * config.n_embd,
                dropout=config.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
                bias=config.bias,
            )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        init_seq2seq_weights(self, config, rng_state)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (batch, S) -> the encoder's output (batch, S, C) and the mask of real positions (batch, S)."""
        S = src.size(1)
        self._check_length(S, "source")
        key_mask = src != PAD
        x = self.drop(self.wte(src) + self.wpe(torch.arange(S, device=src.device)))  # (batch, S, C)
        return self.transformer.encoder(x, src_key_padding_mask=~key_mask), key_mask  # torch: True = ignore

    def decode(self, tgt, memory, key_mask, cache=None) -> torch.Tensor:
        """tgt (batch, T) -> logits (batch, T, vocab), the whole prefix recomputed (no cache)."""
        if cache is not None:
            raise ValueError("nn.TransformerDecoder keeps no KV cache: decode the whole prefix")
        T = tgt.size(1)
        self._check_length(T, "target")
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt.device).triu(1)  # True above the diagonal: hidden
        x = self.drop(self.wte(tgt) + self.wpe_dec(torch.arange(T, device=tgt.device)))  # (batch, T, C)
        y = self.transformer.decoder(x, memory, tgt_mask=causal, tgt_is_causal=True, memory_key_padding_mask=~key_mask)
        return self.lm_head(y)  # (batch, T, vocab); the decoder's final norm is inside it


class TorchTransformerSeq2Seq(Seq2SeqEstimator):
    """The reference network trained by the shared loop (``Seq2SeqEstimator``)."""

    def _network(self, config: Seq2SeqConfig) -> EncoderDecoder:
        return TorchSeq2SeqNetwork(config)
