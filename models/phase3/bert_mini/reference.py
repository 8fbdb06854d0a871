"""The reference: Hugging Face's BertForMaskedLM, then BertForSequenceClassification, built from a BertConfig
of BERT-mini's sizes (no weights downloaded), trained by BERT-mini's own recipe (``MaskedLMClassifier``):
the same tokens, masks, batches, steps, optimizer and seed.

The same initial weights too: each network is drawn as ours is under the run's seed and loaded into Hugging
Face's layout (``to_hugging_face``: q, k and v unstacked, the names mapped), and attention is Hugging Face's
"eager" implementation, so both draw the same dropout masks from the same random state. What differs is
only the implementation of the forward and backward passes.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from models.phase3.bert_mini.model import BertClassifier, BertMaskedLM, BertMiniConfig, MaskedLMClassifier


def hugging_face_config(config: BertMiniConfig):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.n_embd,
        num_hidden_layers=config.n_layer,
        num_attention_heads=config.n_head,
        intermediate_size=4 * config.n_embd,
        hidden_act="gelu",
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        max_position_embeddings=config.max_len,
        type_vocab_size=config.n_segments,
        layer_norm_eps=config.layer_norm_eps,
        pad_token_id=config.pad_id,
        num_labels=config.n_classes,
        attn_implementation="eager",
    )


_BLOCK = {
    "attn.proj": "attention.output.dense",
    "ln_1": "attention.output.LayerNorm",
    "mlp.fc": "intermediate.dense",
    "mlp.proj": "output.dense",
    "ln_2": "output.LayerNorm",
}
_TOP = {
    "encoder.wte": "bert.embeddings.word_embeddings",
    "encoder.wpe": "bert.embeddings.position_embeddings",
    "encoder.wse": "bert.embeddings.token_type_embeddings",
    "encoder.ln": "bert.embeddings.LayerNorm",
    "head.dense": "cls.predictions.transform.dense",
    "head.ln": "cls.predictions.transform.LayerNorm",
    "pooler": "bert.pooler.dense",
    "classifier": "classifier",
}


def block_to_hugging_face(state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """One encoder block's state dict (keys after ``prefix``) in BertLayer's names: qkv split in three."""
    out = {}
    for kind in ("weight", "bias"):
        q, k, v = state[f"{prefix}attn.qkv.{kind}"].chunk(3, dim=0)
        out |= {f"attention.self.query.{kind}": q, f"attention.self.key.{kind}": k, f"attention.self.value.{kind}": v}
        out |= {f"{theirs}.{kind}": state[f"{prefix}{ours}.{kind}"] for ours, theirs in _BLOCK.items()}
    return out


def to_hugging_face(state: dict[str, torch.Tensor], n_layer: int) -> dict[str, torch.Tensor]:
    """A BertMaskedLM's or BertClassifier's state dict in BertForMaskedLM's / BertForSequenceClassification's
    names (the tied read-out is the word embedding there as here; the masked-LM bias is ``cls.predictions.bias``)."""
    out = {}
    for i in range(n_layer):
        layer = block_to_hugging_face(state, f"encoder.blocks.{i}.")
        out |= {f"bert.encoder.layer.{i}.{name}": value for name, value in layer.items()}
    for name, value in state.items():
        parts = name.rsplit(".", 1)
        if parts[0] in _TOP:
            out[f"{_TOP[parts[0]]}.{parts[1]}"] = value
    if "head.bias" in state:
        out["cls.predictions.bias"] = state["head.bias"]
    return out


class HuggingFaceMaskedLM(nn.Module):
    """BertForMaskedLM behind BERT-mini's interface: (idx, targets) -> (logits, loss)."""

    def __init__(self, config: BertMiniConfig):
        from transformers import BertForMaskedLM

        super().__init__()
        self.pad_id = config.pad_id
        weights = to_hugging_face(BertMaskedLM(config).state_dict(), config.n_layer)  # ours, drawn first
        self.model = BertForMaskedLM(hugging_face_config(config))
        self.model.load_state_dict(weights, strict=False)  # the read-out is tied to the word embedding

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        out = self.model(input_ids=idx, attention_mask=(idx != self.pad_id).long(), labels=targets)
        return out.logits, out.loss  # logits (batch, T, vocab): every position


class HuggingFaceClassifier(nn.Module):
    """BertForSequenceClassification behind BERT-mini's interface: (idx, targets) -> (logits, loss)."""

    def __init__(self, config: BertMiniConfig):
        from transformers import BertForSequenceClassification

        super().__init__()
        self.pad_id = config.pad_id
        weights = to_hugging_face(BertClassifier(config).state_dict(), config.n_layer)  # ours, drawn first
        self.model = BertForSequenceClassification(hugging_face_config(config))
        self.model.load_state_dict(weights)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        out = self.model(input_ids=idx, attention_mask=(idx != self.pad_id).long(), labels=targets)
        return out.logits, out.loss  # logits (batch, n_classes)


class HuggingFaceBertClassifier(MaskedLMClassifier):
    """The reference networks trained by BERT-mini's recipe (``MaskedLMClassifier``)."""

    def _masked_lm(self, config: BertMiniConfig) -> nn.Module:
        return HuggingFaceMaskedLM(config)

    def _classifier(self, config: BertMiniConfig) -> nn.Module:
        return HuggingFaceClassifier(config)

    def _transfer(self, masked_lm: nn.Module, classifier: nn.Module) -> None:
        classifier.model.bert.load_state_dict(masked_lm.model.bert.state_dict(), strict=False)  # all but the pooler
