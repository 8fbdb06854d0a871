"""Attention from scratch: scaled dot-product and multi-head attention in NumPy (checked against
torch.nn.MultiheadAttention to 1e-5), and a small attention model trained on a toy sequence task.

    attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V
    multi-head: project x to Q, K, V (in_proj), split d_model into heads, attend in each head,
                concatenate and project (out_proj); torch's layout and its head-averaged weights.

``SequenceTransformer`` learns to copy, reverse or sort a sequence of digits, answering every
position at once. Its attention is ours (models/phase2/torch_nets.py, the same equations in torch
ops); ``TorchAttentionTransformer``, the reference, is the same model with
torch.nn.MultiheadAttention. The attention maps show what each output position reads: for
sorting, the input positions that hold the answer.
"""

from __future__ import annotations

import numpy as np

from models.phase2.trainer import TorchEstimator


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def scaled_dot_product_attention(q, k, v, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """q (..., Lq, d), k (..., Lk, d), v (..., Lk, dv); ``mask`` True where attention is not allowed.
    Returns the output (..., Lq, dv) and the weights (..., Lq, Lk)."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, -np.inf, scores)
    weights = softmax(scores)
    return weights @ v, weights


def multi_head_attention(query, key, value, params: dict, heads: int, mask=None):
    """nn.MultiheadAttention's forward (batch_first): ``params`` holds in_proj_weight (3E, E),
    in_proj_bias (3E), out_proj_weight (E, E), out_proj_bias (E). Returns the output and the
    attention weights averaged over heads, as torch does by default."""
    batch, length, d_model = query.shape
    head = d_model // heads
    w_q, w_k, w_v = np.split(params["in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(params["in_proj_bias"], 3)

    def split(x, w, b):
        return (x @ w.T + b).reshape(batch, -1, heads, head).transpose(0, 2, 1, 3)

    out, weights = scaled_dot_product_attention(split(query, w_q, b_q), split(key, w_k, b_k), split(value, w_v, b_v),
                                                None if mask is None else mask[:, None])  # fmt: skip
    out = out.transpose(0, 2, 1, 3).reshape(batch, length, d_model)
    return out @ params["out_proj_weight"].T + params["out_proj_bias"], weights.mean(axis=1)


class SequenceTransformer(TorchEstimator):
    """Reads sequences of token ids (n, length) and predicts a token at every position.
    Fitted: ``module_``, ``loss_history_`` (mean cross-entropy per position)."""

    attention = "ours"

    def __init__(self, vocabulary: int = 10, d_model: int = 64, heads: int = 4, layers: int = 2,
                 learning_rate: float = 0.003, batch_size: int = 64, max_epochs: int = 40, tol: float = 0.0,
                 device: str = "auto", precision: str = "auto", random_state: int | None = None):  # fmt: skip
        self.vocabulary = vocabulary
        self.d_model = d_model
        self.heads = heads
        self.layers = layers
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _validate(self, X, y):
        return self._tokens(X), self._tokens(y)

    def _tokens(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"sequences must be (n, length), got shape {values.shape}")
        tokens = np.rint(values)
        if not np.array_equal(tokens, values) or tokens.min() < 0 or tokens.max() >= self.vocabulary:
            raise ValueError(f"sequences must hold whole token ids 0..{self.vocabulary - 1}")
        return tokens.astype(np.int64)

    def _module(self, X, y):
        from models.phase2.torch_nets import SequenceModel

        length = np.shape(X)[1]
        return SequenceModel(self.vocabulary, length, self.d_model, self.heads, self.layers, self.attention)

    def _tensors(self, X, y):
        import torch

        inputs = torch.from_numpy(self._tokens(X))
        return inputs, None if y is None else torch.from_numpy(self._tokens(y))

    def _loss(self, module, inputs, targets):
        import torch.nn.functional as F

        logits = module(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))

    def predict(self, X) -> np.ndarray:
        """The token predicted at every position, (n, length)."""
        return self._forward(X, lambda module, batch: module(batch).argmax(dim=-1)).astype(np.int64)

    def attention_maps(self, X) -> np.ndarray:
        """Head-averaged attention weights of every layer: (layers, n, length, length)."""
        import torch

        from models.base import require_fitted

        require_fitted(self, "module_")
        inputs, _ = self._tensors(X, None)
        self.module_.eval()
        with torch.no_grad():
            _, maps = self.module_(inputs, return_weights=True)
        return np.stack([m.numpy() for m in maps])


class TorchAttentionTransformer(SequenceTransformer):
    """The reference: the same model with torch.nn.MultiheadAttention."""

    attention = "torch"
