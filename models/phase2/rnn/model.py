"""Recurrent cells from scratch in NumPy (RNN, GRU, LSTM, forward and backward) and a
character-level language model built on them, beside the same model in PyTorch.

The cells use torch's weight layout and gate order, so torch.nn.RNNCell / GRUCell / LSTMCell with
copied weights give the same outputs and gradients (tests/deliverables/test_rnn.py, 1e-6):

    rnn   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    gru   r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) n + z h
    lstm  i, f, g, o = W_ih x + b_ih + W_hh h + b_hh  (sigmoid, sigmoid, tanh, sigmoid)
          c' = f c + i g;  h' = o tanh(c')

The language model reads one character at a time (one-hot), predicts the next (softmax over the
characters seen in training) and is trained with teacher forcing and truncated backpropagation
through time: the text is one stream cut into ``batch_size`` parallel rows, walked ``seq_len``
characters at a time; the hidden state carries over from one chunk to the next, gradients stop at
the chunk's start. Sentences are separated by a newline, which also starts and ends generation.
"""

from __future__ import annotations

import numpy as np

from models.base import EpochTrainable, require_fitted
from models.optim import Optimizer
from models.phase2.layers import sigmoid
from models.phase2.trainer import TorchEstimator

CELLS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
BOUNDARY = "\n"  # between sentences; starts and ends a generated text
UNKNOWN = 0  # index of characters not seen in training


def init_cell(kind: str, n_in: int, hidden: int, rng) -> dict[str, np.ndarray]:
    """torch's initialization: uniform in +-1/sqrt(hidden)."""
    bound, rows = 1.0 / np.sqrt(hidden), GATES[kind] * hidden
    return {
        "weight_ih": rng.uniform(-bound, bound, (rows, n_in)),
        "weight_hh": rng.uniform(-bound, bound, (rows, hidden)),
        "bias_ih": rng.uniform(-bound, bound, rows),
        "bias_hh": rng.uniform(-bound, bound, rows),
    }


def cell_forward(kind: str, p: dict, x_proj: np.ndarray, state: tuple) -> tuple[tuple, tuple]:
    """One step. ``x_proj`` is W_ih x + b_ih (the caller may compute it for a whole sequence);
    ``state`` is (h,) or, for the LSTM, (h, c). Returns the new state and what backward needs."""
    h = state[0]
    h_proj = h @ p["weight_hh"].T + p["bias_hh"]
    if kind == "rnn":
        h_new = np.tanh(x_proj + h_proj)
        return (h_new,), (h, h_new)
    if kind == "gru":
        H = h.shape[1]
        r = sigmoid(x_proj[:, :H] + h_proj[:, :H])
        z = sigmoid(x_proj[:, H : 2 * H] + h_proj[:, H : 2 * H])
        n = np.tanh(x_proj[:, 2 * H :] + r * h_proj[:, 2 * H :])
        h_new = (1.0 - z) * n + z * h
        return (h_new,), (h, r, z, n, h_proj[:, 2 * H :])
    c = state[1]
    gates = x_proj + h_proj
    H = h.shape[1]
    i, f, o = sigmoid(gates[:, :H]), sigmoid(gates[:, H : 2 * H]), sigmoid(gates[:, 3 * H :])
    g = np.tanh(gates[:, 2 * H : 3 * H])
    c_new = f * c + i * g
    tanh_c = np.tanh(c_new)
    h_new = o * tanh_c
    return (h_new, c_new), (h, c, i, f, g, o, tanh_c)


def cell_backward(kind: str, p: dict, d_state: tuple, cache: tuple, grads: dict) -> tuple[np.ndarray, tuple]:
    """Backward through one step: accumulates weight_hh / bias_hh gradients into ``grads`` and
    returns d(x_proj) (the caller turns it into weight_ih / bias_ih / input gradients) and the
    gradient of the previous state."""
    if kind == "rnn":
        h, h_new = cache
        d_pre = d_state[0] * (1.0 - h_new**2)
        d_x_proj = d_h_proj = d_pre
    elif kind == "gru":
        h, r, z, n, hn = cache
        dh = d_state[0]
        dn = dh * (1.0 - z) * (1.0 - n**2)
        dz = dh * (h - n) * z * (1.0 - z)
        dr = dn * hn * r * (1.0 - r)
        d_x_proj = np.concatenate([dr, dz, dn], axis=1)
        d_h_proj = np.concatenate([dr, dz, dn * r], axis=1)
    else:
        h, c, i, f, g, o, tanh_c = cache
        dh, dc = d_state
        dc = dc + dh * o * (1.0 - tanh_c**2)
        d_gates = np.concatenate(
            [dc * g * i * (1.0 - i), dc * c * f * (1.0 - f), dc * i * (1.0 - g**2), dh * tanh_c * o * (1.0 - o)],
            axis=1,
        )
        d_x_proj = d_h_proj = d_gates
    grads["weight_hh"] += d_h_proj.T @ h
    grads["bias_hh"] += d_h_proj.sum(axis=0)
    dh_prev = d_h_proj @ p["weight_hh"]
    if kind == "gru":
        dh_prev += d_state[0] * z
    if kind == "lstm":
        return d_x_proj, (dh_prev, dc * f)
    return d_x_proj, (dh_prev,)


def zero_state(kind: str, rows: int, hidden: int) -> tuple:
    h = np.zeros((rows, hidden))
    return (h, np.zeros((rows, hidden))) if kind == "lstm" else (h,)


class Vocabulary:
    """Characters seen in training, index 0 for any other."""

    def __init__(self, texts):
        self.chars = ["\x00", *sorted(set("".join(texts)) | {BOUNDARY})]
        self.index = {char: i for i, char in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index.get(char, UNKNOWN) for char in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def texts_of(X) -> list[str]:
    X = np.asarray(X, dtype=object)
    values = X[:, 0] if X.ndim == 2 else X
    if not all(isinstance(value, str) for value in values):
        raise ValueError("a language model reads texts (one column of strings)")
    return list(values)


class LanguageModelMixin:
    """Perplexity and generation, shared by the NumPy model and its torch twin. A model provides
    ``_step_logits(ids, state) -> (logits, state)`` for a batch of current characters."""

    def _run(self, prompts: list[np.ndarray]) -> tuple[tuple, float, int]:
        """Feed each (boundary + prompt) from a zero state, in one batch with masks; returns the final
        states, the summed negative log-likelihood of each next character and how many were scored."""
        rows, longest = len(prompts), max(len(p) for p in prompts)
        state = self._zero_state(rows)
        nll, count = 0.0, 0
        for t in range(longest - 1):
            active = np.array([t < len(p) - 1 for p in prompts])
            current = np.array([p[t] if t < len(p) else 0 for p in prompts])
            following = np.array([p[t + 1] if t + 1 < len(p) else 0 for p in prompts])
            logits, new_state = self._step_logits(current, state)
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            nll -= log_probs[np.arange(rows), following][active].sum()
            count += int(active.sum())
            state = tuple(np.where(active[:, None], new, old) for new, old in zip(new_state, state, strict=True))
        return state, nll, count

    def perplexity(self, X) -> float:
        """exp(mean negative log-likelihood per character) of each text and its closing newline."""
        require_fitted(self, "vocabulary_")
        encoded = [self.vocabulary_.encode(BOUNDARY + text + BOUNDARY) for text in texts_of(X)]
        nll, count = 0.0, 0
        for start in range(0, len(encoded), 256):
            _, part_nll, part_count = self._run(encoded[start : start + 256])
            nll, count = nll + part_nll, count + part_count
        return float(np.exp(nll / count))

    def predict(self, X) -> np.ndarray:
        """Each prompt's continuation: up to ``generate_chars`` characters until a newline, the most
        likely one each step (``temperature`` 0, the default) or sampled at ``temperature``."""
        require_fitted(self, "vocabulary_")
        texts = texts_of(X)
        out = np.empty(len(texts), dtype=object)
        for start in range(0, len(texts), 256):
            out[start : start + 256] = self._generate(texts[start : start + 256])
        return out

    def _generate(self, texts: list[str]) -> list[str]:
        prompts = [self.vocabulary_.encode(BOUNDARY + text) for text in texts]
        state, _, _ = self._run(prompts)  # every prompt character but the last one fed
        current = np.array([p[-1] for p in prompts])
        rng = np.random.default_rng(self.random_state)
        generated = np.zeros((len(texts), self.generate_chars), dtype=np.int64)
        done = np.zeros(len(texts), dtype=bool)
        end = self.vocabulary_.index[BOUNDARY]
        for t in range(self.generate_chars):
            logits, state = self._step_logits(current, state)
            if self.temperature == 0:
                current = logits.argmax(axis=1)
            else:
                scaled = logits / self.temperature
                probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
                probs /= probs.sum(axis=1, keepdims=True)
                current = (probs.cumsum(axis=1) > rng.random((len(texts), 1))).argmax(axis=1)
            current = np.where(done, end, current)
            generated[:, t] = current
            done |= current == end
            if done.all():
                break
        return [self.vocabulary_.decode(row).split(BOUNDARY)[0] for row in generated]


class CharLanguageModel(LanguageModelMixin, EpochTrainable):
    """Fitted: ``vocabulary_``, ``params_`` (cell and output layer), ``loss_history_`` (mean
    cross-entropy per character, nats)."""

    def __init__(self, cell: str = "lstm", hidden: int = 128, seq_len: int = 32, batch_size: int = 32,
                 optimizer: str = "adam", learning_rate: float = 0.003, clip: float = 5.0, max_epochs: int = 3,
                 generate_chars: int = 40, temperature: float = 0.0, tol: float = 0.0,
                 random_state: int | None = None):  # fmt: skip
        self.cell = cell
        self.hidden = hidden
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.clip = clip
        self.max_epochs = max_epochs
        self.generate_chars = generate_chars
        self.temperature = temperature
        self.tol = tol
        self.random_state = random_state

    def _validate(self, X, y):
        return np.asarray(texts_of(X), dtype=object), y

    def _init_state(self, X, y) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        texts = texts_of(X)
        self.vocabulary_ = Vocabulary(texts)
        rng = np.random.default_rng(self.random_state)
        V = len(self.vocabulary_)
        bound = 1.0 / np.sqrt(self.hidden)
        self.params_ = init_cell(self.cell, V, self.hidden, rng) | {
            "weight_out": rng.uniform(-bound, bound, (V, self.hidden)),
            "bias_out": np.zeros(V),
        }
        self.optimizer_ = Optimizer(self.optimizer, self.learning_rate)
        self.loss_history_ = []

    def _zero_state(self, rows: int) -> tuple:
        return zero_state(self.cell, rows, self.hidden)

    def _step_logits(self, ids, state):
        p = self.params_
        x_proj = p["weight_ih"][:, ids].T + p["bias_ih"]
        state, _ = cell_forward(self.cell, p, x_proj, state)
        return state[0] @ p["weight_out"].T + p["bias_out"], state

    def _streams(self, X) -> np.ndarray:
        """The training text as ``batch_size`` rows of one stream (the ragged tail dropped)."""
        ids = self.vocabulary_.encode(BOUNDARY + BOUNDARY.join(texts_of(X)) + BOUNDARY)
        width = len(ids) // self.batch_size
        if width < 2:
            raise ValueError(f"{len(ids)} characters are too few for {self.batch_size} parallel streams")
        return ids[: width * self.batch_size].reshape(self.batch_size, width)

    def chunk_loss_and_grads(self, inputs: np.ndarray, targets: np.ndarray, state: tuple):
        """Forward over a chunk (batch, steps) with teacher forcing, then backpropagation through time
        to the chunk's start. Returns the mean loss, the gradients and the final state."""
        p, kind = self.params_, self.cell
        B, T = inputs.shape
        V = len(self.vocabulary_)
        caches, hs = [], []
        for t in range(T):
            x_proj = p["weight_ih"][:, inputs[:, t]].T + p["bias_ih"]
            state, cache = cell_forward(kind, p, x_proj, state)
            caches.append(cache)
            hs.append(state[0])
        H = np.stack(hs, axis=1).reshape(B * T, -1)
        logits = H @ p["weight_out"].T + p["bias_out"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        flat_targets = targets.reshape(-1)
        loss = -log_probs[np.arange(B * T), flat_targets].mean()
        d_logits = np.exp(log_probs)
        d_logits[np.arange(B * T), flat_targets] -= 1.0
        d_logits /= B * T
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        grads["weight_out"] = d_logits.T @ H
        grads["bias_out"] = d_logits.sum(axis=0)
        dH = (d_logits @ p["weight_out"]).reshape(B, T, -1)
        d_state = tuple(np.zeros_like(s) for s in state)
        for t in reversed(range(T)):
            d_state = (d_state[0] + dH[:, t], *d_state[1:])
            d_x_proj, d_state = cell_backward(kind, p, d_state, caches[t], grads)
            onehot = np.zeros((B, V))
            onehot[np.arange(B), inputs[:, t]] = 1.0
            grads["weight_ih"] += d_x_proj.T @ onehot
            grads["bias_ih"] += d_x_proj.sum(axis=0)
        return float(loss), grads, state

    def _run_epoch(self, X, y, rng) -> float:
        streams = self._streams(X)
        state = self._zero_state(self.batch_size)
        total, chunks = 0.0, 0
        for start in range(0, streams.shape[1] - 1, self.seq_len):
            stop = min(start + self.seq_len, streams.shape[1] - 1)
            inputs, targets = streams[:, start:stop], streams[:, start + 1 : stop + 1]
            loss, grads, state = self.chunk_loss_and_grads(inputs, targets, state)
            norm = np.sqrt(sum((g**2).sum() for g in grads.values()))
            if norm > self.clip:  # clip the global gradient norm, as torch.nn.utils.clip_grad_norm_
                grads = {name: g * (self.clip / norm) for name, g in grads.items()}
            self.optimizer_.step(self.params_, grads)
            total, chunks = total + loss, chunks + 1
        return total / chunks

    def _finish(self) -> None:
        self.__dict__.pop("optimizer_", None)


class TorchCharLanguageModel(LanguageModelMixin, TorchEstimator):
    """The same model in torch (nn.RNN / nn.GRU / nn.LSTM over one-hot characters, a linear output),
    trained by the project's torch loop on shuffled chunks of ``seq_len`` characters, each from a
    zero state."""

    def __init__(self, cell: str = "lstm", hidden: int = 128, seq_len: int = 32, batch_size: int = 32,
                 learning_rate: float = 0.003, clip: float = 5.0, max_epochs: int = 3, generate_chars: int = 40,
                 temperature: float = 0.0, tol: float = 0.0, device: str = "auto", precision: str = "auto",
                 random_state: int | None = None):  # fmt: skip
        self.cell = cell
        self.hidden = hidden
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.clip = clip
        self.max_epochs = max_epochs
        self.generate_chars = generate_chars
        self.temperature = temperature
        self.tol = tol
        self.device = device
        self.precision = precision
        self.random_state = random_state

    def _validate(self, X, y):
        return np.asarray(texts_of(X), dtype=object), y

    def _module(self, X, y):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        from models.phase2.torch_nets import CharModel

        self.vocabulary_ = Vocabulary(texts_of(X))
        return CharModel(self.cell, len(self.vocabulary_), self.hidden)

    def _tensors(self, X, y):
        import torch

        ids = self.vocabulary_.encode(BOUNDARY + BOUNDARY.join(texts_of(X)) + BOUNDARY)
        count = (len(ids) - 1) // self.seq_len
        if count < 1:
            raise ValueError(f"{len(ids)} characters are too few for chunks of {self.seq_len}")
        starts = np.arange(count) * self.seq_len
        chunks = np.stack([ids[s : s + self.seq_len + 1] for s in starts])
        tensor = torch.from_numpy(chunks)
        return tensor[:, :-1], tensor[:, 1:]

    def _loss(self, module, inputs, targets):
        import torch.nn.functional as F

        logits, _ = module(F.one_hot(inputs, len(self.vocabulary_)).float())
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))

    def _zero_state(self, rows: int) -> tuple:
        return zero_state(self.cell, rows, self.hidden)

    def _step_logits(self, ids, state):
        import torch
        import torch.nn.functional as F

        module = self.module_
        onehot = F.one_hot(torch.from_numpy(np.asarray(ids)), len(self.vocabulary_)).float()[:, None]
        torch_state = tuple(torch.from_numpy(s).float()[None] for s in state)
        with torch.no_grad():
            logits, new = module(onehot, torch_state if self.cell == "lstm" else torch_state[0])
        new = new if self.cell == "lstm" else (new,)
        return logits[:, 0].double().numpy(), tuple(s[0].double().numpy() for s in new)
