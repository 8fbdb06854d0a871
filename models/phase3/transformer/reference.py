"""The reference: the same sentence classifier built from torch.nn.TransformerEncoderLayer.

Embedding, sinusoidal positions, pooling, head, data, steps, seed, optimizer and loop are
``TorchTransformerClassifier``'s (model.py); only the block differs: torch's own layer
(batch_first=True, ReLU, dropout 0, the same norm placement), whose multi-head attention runs on its
fused scaled-dot-product kernel, and in inference on the encoder's fast path.
"""

from __future__ import annotations

from models.phase3.transformer.model import TorchTransformerClassifier


class ReferenceTransformerClassifier(TorchTransformerClassifier):
    block = "torch"
