"""A sentence classifier on transformer encoder blocks: in NumPy with a hand-written backward (ours, the
one the deliverable trains), and the same network in torch ops.

    ids (batch, T): [CLS] w1 .. wn [PAD] ..           data.py (models/text.py's tokenizer)
    x = embedding[ids] + sinusoidal positions          (batch, T, E)
    x = block(x) x n_layer, padding masked             block.py: nn.TransformerEncoderLayer's block
    x = LN(x)                                          pre-norm stacks only
    pooled = mean of x over the real tokens, or x[:, 0] ([CLS])          (batch, E)
    logits = head(pooled); loss = softmax cross-entropy                  (batch, classes)

``TransformerClassifier`` trains the NumPy network with Adam (models/optim.py) on mini-batches, each
padded to its longest sentence; ``loss_and_grads`` is one batch's loss and every parameter's gradient,
under the names of the torch network's state_dict (tests: equal to torch autograd to 1e-6, float64).
``TorchTransformerClassifier`` is torch_block.py's ``SentenceNet`` with our torch-ops block, trained
by the project's torch loop (models/phase2/trainer.py); reference.py swaps in nn.TransformerEncoderLayer.
Both answer ``attention(text)``: each head's attention weights over the words of a sentence.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import ClassifierMixin

from models.base import EpochTrainable, require_fitted
from models.optim import Optimizer
from models.phase2.layers import softmax, softmax_cross_entropy
from models.phase2.network import TorchClassifierMixin
from models.phase2.trainer import TorchEstimator
from models.phase3.transformer.block import (
    encoder_block_backward,
    encoder_block_forward,
    init_block,
    init_linear,
    layer_norm_backward,
    layer_norm_forward,
    linear_backward,
    sinusoidal_positions,
)
from models.phase3.transformer.data import PAD, EmptySentenceError, WordVocabulary, sentences

POOLINGS = ("mean", "cls")
DTYPES = ("float32", "float64")


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place to a global norm of at most ``max_norm``, as torch.nn.utils.clip_grad_norm_;
    returns the norm before."""
    norm = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads.values()))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / (norm + 1e-6)
    return norm


class SentenceClassifierMixin:
    """What the NumPy and torch classifiers share: hyperparameter checks, vocabulary, classes, the
    attention answer. A class defines ``_head_weights(ids) -> (heads, T, T)`` for one sentence."""

    max_len: int
    d_model: int
    n_head: int
    n_layer: int
    pooling: str
    min_df: int

    def _check_hyperparameters(self) -> None:
        for name in ("max_len", "d_model", "n_head", "d_ff", "n_layer", "batch_size", "min_df"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_len < 2:
            raise ValueError(f"max_len must leave room for [CLS] and a word, got {self.max_len}")
        if self.d_model % self.n_head or self.d_model % 2:
            raise ValueError(f"d_model {self.d_model} must be even and divisible by n_head {self.n_head}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")

    def _validate(self, X, y):
        X = np.asarray(sentences(X), dtype=object)
        y = np.asarray(y).ravel()
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} sentences but y has {len(y)} labels")
        return X, y

    def _fit_vocabulary(self, X, y) -> int:
        """The vocabulary and classes of the training data; returns the number of classes."""
        self._check_hyperparameters()
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y has a single class ({self.classes_.tolist()}); a classifier needs at least two")
        self.vocabulary_ = WordVocabulary(sentences(X), self.min_df)
        return len(self.classes_)

    def predict(self, X) -> np.ndarray:
        probabilities = self.predict_proba(X)  # refuses an unfitted model first
        return self.classes_[probabilities.argmax(axis=1)]

    def attention_maps(self, X) -> list[dict]:
        """``attention`` of the last block for each row's sentence (the served POST /explain)."""
        return [self.attention(text) for text in sentences(X)]

    def attention(self, text: str, layer: int = -1) -> dict:
        """Each head's attention weights in ``layer`` over the tokens the model reads of ``text``:
        ``{"tokens": [T], "weights": [heads][T][T]}`` (row i: how token i spreads its attention)."""
        require_fitted(self, "vocabulary_")
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        if not -self.n_layer <= layer < self.n_layer:
            raise ValueError(f"layer must lie in [-{self.n_layer}, {self.n_layer}), got {layer}")
        (text,) = sentences([text])
        tokens = self.vocabulary_.tokens(text, self.max_len)
        if len(tokens) < 2:
            raise EmptySentenceError(f"the sentence {text!r} has no words the tokenizer reads")
        ids, _ = self.vocabulary_.encode([text], self.max_len)
        weights = self._head_weights(ids, layer)
        return {"tokens": tokens, "weights": np.asarray(weights, dtype=float).tolist()}


class TransformerClassifier(SentenceClassifierMixin, ClassifierMixin, EpochTrainable):
    """The NumPy network, trained with its hand-written backward. Fitted: ``params_`` (torch's names),
    ``vocabulary_``, ``classes_``, ``loss_history_`` (mean cross-entropy per epoch)."""

    def __init__(self, max_len: int = 48, d_model: int = 64, n_head: int = 4, d_ff: int = 128, n_layer: int = 1,
                 norm_first: bool = False, pooling: str = "mean", min_df: int = 2, learning_rate: float = 0.003,
                 batch_size: int = 32, clip: float | None = 1.0, max_epochs: int = 4, tol: float = 0.0,
                 dtype: str = "float32", random_state: int | None = None):  # fmt: skip
        self.max_len = max_len
        self.d_model = d_model
        self.n_head = n_head
        self.d_ff = d_ff
        self.n_layer = n_layer
        self.norm_first = norm_first
        self.pooling = pooling
        self.min_df = min_df
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.clip = clip
        self.max_epochs = max_epochs
        self.tol = tol
        self.dtype = dtype
        self.random_state = random_state

    # -- the network ---------------------------------------------------------------------------------
    def _init_state(self, X, y) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        n_classes = self._fit_vocabulary(X, y)
        rng = np.random.default_rng(self.random_state)
        E = self.d_model
        params = {"embedding.weight": rng.normal(0.0, 1.0, (len(self.vocabulary_), E))}  # as nn.Embedding
        for i in range(self.n_layer):
            block = init_block(E, self.n_head, self.d_ff, rng)
            params |= {f"layers.{i}.{name}": value for name, value in block.items()}
        if self.norm_first:
            params |= {"norm.weight": np.ones(E), "norm.bias": np.zeros(E)}
        head_weight, head_bias = init_linear(n_classes, E, rng)
        params |= {"head.weight": head_weight, "head.bias": head_bias}
        self.params_ = {name: value.astype(self.dtype) for name, value in params.items()}  # drawn in float64
        self.positions_ = sinusoidal_positions(self.max_len, E).astype(self.dtype)
        self.optimizer_ = Optimizer("adam", self.learning_rate)
        self.loss_history_ = []

    def _layer(self, i: int) -> dict:
        prefix = f"layers.{i}."
        return {name.removeprefix(prefix): p for name, p in self.params_.items() if name.startswith(prefix)}

    def _forward(self, ids: np.ndarray) -> tuple[np.ndarray, dict]:
        """Logits (batch, classes) of padded ids (batch, T), and the cache the backward reads."""
        p = self.params_
        padding = ids == PAD
        x = p["embedding.weight"][ids]  # (batch, T, E)
        x += self.positions_[: ids.shape[1]]
        layers = []
        for i in range(self.n_layer):
            x, cache = encoder_block_forward(self._layer(i), x, self.n_head, padding, self.norm_first)
            layers.append(cache)
        final = None
        if self.norm_first:
            x, final = layer_norm_forward(x, p["norm.weight"], p["norm.bias"])
        keep = (~padding)[..., None].astype(x.dtype)  # (batch, T, 1)
        pooled = x[:, 0] if self.pooling == "cls" else (x * keep).sum(axis=1) / keep.sum(axis=1)  # (batch, E)
        logits = pooled @ p["head.weight"].T + p["head.bias"]
        return logits, {"ids": ids, "keep": keep, "layers": layers, "final": final, "pooled": pooled}

    def _backward(self, d_logits: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
        p, keep = self.params_, cache["keep"]
        grads = {}
        d_pooled, grads["head.weight"], grads["head.bias"] = linear_backward(
            d_logits, cache["pooled"], p["head.weight"]
        )
        if self.pooling == "cls":
            dx = np.zeros((*keep.shape[:2], self.d_model), dtype=d_pooled.dtype)
            dx[:, 0] = d_pooled
        else:
            dx = keep * (d_pooled / keep.sum(axis=1))[:, None, :]  # (batch, T, E)
        if self.norm_first:
            dx, grads["norm.weight"], grads["norm.bias"] = layer_norm_backward(dx, cache["final"], p["norm.weight"])
        for i in reversed(range(self.n_layer)):
            dx, block_grads = encoder_block_backward(self._layer(i), dx, cache["layers"][i])
            grads |= {f"layers.{i}.{name}": g for name, g in block_grads.items()}
        d_embedding = np.zeros_like(p["embedding.weight"])
        np.add.at(d_embedding, cache["ids"].ravel(), dx.reshape(-1, self.d_model))  # positions are fixed
        grads["embedding.weight"] = d_embedding
        return {name: grads[name] for name in p}

    def loss_and_grads(self, ids: np.ndarray, targets: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy of a batch of padded ids against class indices, and every parameter's gradient."""
        logits, cache = self._forward(ids)
        loss, d_logits = softmax_cross_entropy(logits, targets)
        return loss, self._backward(d_logits, cache)

    # -- training ------------------------------------------------------------------------------------
    def _run_epoch(self, X, y, rng) -> float:
        ids, lengths = self.vocabulary_.encode(sentences(X), self.max_len)
        targets = np.searchsorted(self.classes_, np.asarray(y).ravel())
        total = 0.0
        for batch in np.array_split(rng.permutation(len(ids)), max(1, -(-len(ids) // self.batch_size))):
            loss, grads = self.loss_and_grads(ids[batch, : lengths[batch].max()], targets[batch])
            if self.clip:
                clip_grad_norm(grads, self.clip)
            self.optimizer_.step(self.params_, grads)
            total += loss * len(batch)
        return total / len(ids)

    def _finish(self) -> None:
        self.__dict__.pop("optimizer_", None)

    # -- inference -----------------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        require_fitted(self, "params_")
        texts = sentences(X)
        parts = []
        for start in range(0, len(texts), 256):
            ids, _ = self.vocabulary_.encode(texts[start : start + 256], self.max_len)
            parts.append(softmax(self._forward(ids)[0].astype(np.float64)))  # probabilities in float64, as sklearn
        return np.concatenate(parts) if parts else np.empty((0, len(self.classes_)))

    def _head_weights(self, ids: np.ndarray, layer: int) -> np.ndarray:
        return self._forward(ids)[1]["layers"][layer]["attention"]["weights"][0]


class TorchTransformerClassifier(SentenceClassifierMixin, TorchClassifierMixin, TorchEstimator):
    """The same classifier in torch ops (torch_block.py, ``block = "ours"``), on the project's torch
    loop: the best device, mixed precision on cuda. Fitted: ``module_``, ``vocabulary_``, ``classes_``,
    ``loss_history_``."""

    block = "ours"

    def __init__(self, max_len: int = 48, d_model: int = 64, n_head: int = 4, d_ff: int = 128, n_layer: int = 1,
                 norm_first: bool = False, pooling: str = "mean", min_df: int = 2, learning_rate: float = 0.003,
                 batch_size: int = 32, clip: float | None = 1.0, max_epochs: int = 4, tol: float = 0.0,
                 device: str = "auto", precision: str = "auto", random_state: int | None = None):  # fmt: skip
        self.max_len = max_len
        self.d_model = d_model
        self.n_head = n_head
        self.d_ff = d_ff
        self.n_layer = n_layer
        self.norm_first = norm_first
        self.pooling = pooling
        self.min_df = min_df
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.clip = clip
        self.max_epochs = max_epochs
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _config(self, n_classes: int):
        from models.phase3.transformer.torch_block import TransformerConfig

        return TransformerConfig(
            len(self.vocabulary_), n_classes, self.max_len, self.d_model, self.n_head, self.d_ff, self.n_layer,
            self.norm_first, self.pooling,
        )  # fmt: skip

    def _module(self, X, y):
        from models.phase3.transformer.torch_block import SentenceNet

        return SentenceNet(self._config(self._fit_vocabulary(X, y)), self.block)

    def _tensors(self, X, y):
        import torch

        ids, _ = self.vocabulary_.encode(sentences(X), self.max_len)
        inputs = torch.from_numpy(ids)
        if y is None:
            return inputs, None
        return inputs, torch.from_numpy(np.searchsorted(self.classes_, np.asarray(y).ravel()).astype(np.int64))

    def _loss(self, module, inputs, targets):
        length = int((inputs != PAD).sum(dim=1).max())  # the batch padded to its longest sentence, as ours
        return module(inputs[:, :length], targets)[1]

    def predict_proba(self, X) -> np.ndarray:
        import torch

        return self._forward(X, lambda module, batch: torch.softmax(module(batch)[0].float(), dim=1))

    def _head_weights(self, ids: np.ndarray, layer: int) -> np.ndarray:
        import torch

        self.module_.eval()
        return self.module_.attention(torch.from_numpy(ids), layer)[0].float().numpy()
