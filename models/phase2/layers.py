"""Neural-network layers from scratch in NumPy: forward and backward by hand.

Every layer keeps what its backward pass needs from the last forward pass, holds its parameters
in ``params`` and, after ``backward``, their gradients in ``grads`` (same names). Shapes and
weight layouts are torch's (a dense weight is (out, in), a convolution's (out, in, kh, kw)), so
the tests copy weights across and compare outputs and gradients with torch.nn.functional and
autograd. Convolution and pooling run on im2col views (numpy stride tricks): no Python loop over
positions, only over the kh x kw kernel offsets when gradients are scattered back.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITS = ("he", "xavier")


def init_weight(shape: tuple[int, ...], fan_in: int, fan_out: int, init: str, rng: np.random.Generator):
    """He (normal, 2 / fan_in) for ReLU nets, Xavier/Glorot (normal, 2 / (fan_in + fan_out)) otherwise."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    variance = 2.0 / fan_in if init == "he" else 2.0 / (fan_in + fan_out)
    return rng.normal(0.0, np.sqrt(variance), shape)


class Layer:
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Dense(Layer):
    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, init: str = "he"):
        super().__init__()
        self.params = {"weight": init_weight((n_out, n_in), n_in, n_out, init, rng), "bias": np.zeros(n_out)}

    def forward(self, x, training=False):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, dy):
        self.grads = {"weight": dy.T @ self.x, "bias": dy.sum(axis=0)}
        return dy @ self.params["weight"]


class Activation(Layer):
    def __init__(self, kind: str):
        super().__init__()
        if kind not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {kind!r}")
        self.kind = kind

    def forward(self, x, training=False):
        if self.kind == "relu":
            self.y = np.maximum(x, 0.0)
        elif self.kind == "tanh":
            self.y = np.tanh(x)
        else:
            self.y = sigmoid(x)
        return self.y

    def backward(self, dy):
        if self.kind == "relu":
            return dy * (self.y > 0)
        if self.kind == "tanh":
            return dy * (1.0 - self.y**2)
        return dy * self.y * (1.0 - self.y)


def sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1.0 + e)
    return out


class Flatten(Layer):
    def forward(self, x, training=False):
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy):
        return dy.reshape(self.shape)


# -- convolution and pooling -----------------------------------------------------------------
def windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Every kh x kw window of x (N, C, H, W) as a view of shape (N, C, kh, kw, out_h, out_w)."""
    n, c, h, w = x.shape
    out_h, out_w = (h - kh) // stride + 1, (w - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"a {kh}x{kw} window does not fit a {h}x{w} input")
    sn, sc, sh, sw = x.strides
    return as_strided(x, (n, c, kh, kw, out_h, out_w), (sn, sc, sh, sw, sh * stride, sw * stride), writeable=False)


def scatter_windows(d_windows: np.ndarray, shape: tuple[int, ...], stride: int) -> np.ndarray:
    """The adjoint of ``windows``: add each window's gradient back to the input positions it read."""
    dx = np.zeros(shape)
    _, _, kh, kw, out_h, out_w = d_windows.shape
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride] += d_windows[:, :, i, j]
    return dx


def pad(x: np.ndarray, padding: int, value: float = 0.0) -> np.ndarray:
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=value)


def conv2d(x, weight, bias, stride: int = 1, padding: int = 0) -> tuple[np.ndarray, tuple]:
    """Cross-correlation as torch.nn.functional.conv2d: x (N, C, H, W), weight (F, C, kh, kw).
    im2col: the windows become rows of a matrix and the convolution one matrix product."""
    f, c, kh, kw = weight.shape
    xp = pad(x, padding)
    cols = windows(xp, kh, kw, stride)  # (N, C, kh, kw, oh, ow)
    n, _, _, _, out_h, out_w = cols.shape
    rows = cols.transpose(0, 4, 5, 1, 2, 3).reshape(n * out_h * out_w, c * kh * kw)
    out = rows @ weight.reshape(f, -1).T + bias
    return out.reshape(n, out_h, out_w, f).transpose(0, 3, 1, 2), (x.shape, xp.shape, rows, weight, stride, padding)


def conv2d_backward(dy: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of conv2d with respect to its input, weight and bias."""
    _, padded_shape, rows, weight, stride, padding = cache
    f, c, kh, kw = weight.shape
    n, _, out_h, out_w = dy.shape
    dy_rows = dy.transpose(0, 2, 3, 1).reshape(-1, f)
    d_weight = (dy_rows.T @ rows).reshape(weight.shape)
    d_bias = dy_rows.sum(axis=0)
    d_cols = (dy_rows @ weight.reshape(f, -1)).reshape(n, out_h, out_w, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    dx = scatter_windows(d_cols, padded_shape, stride)
    if padding:
        dx = dx[:, :, padding:-padding, padding:-padding]
    return dx, d_weight, d_bias


def pool2d(x, kernel: int, stride: int | None = None, padding: int = 0, kind: str = "max") -> tuple[np.ndarray, tuple]:
    """Max or average pooling as torch's max_pool2d / avg_pool2d (which counts padding zeros)."""
    if kind not in ("max", "avg"):
        raise ValueError(f"pooling must be max or avg, got {kind!r}")
    stride = stride or kernel
    xp = pad(x, padding, -np.inf if kind == "max" else 0.0)
    cols = windows(xp, kernel, kernel, stride)
    n, c, _, _, out_h, out_w = cols.shape
    flat = cols.reshape(n, c, kernel * kernel, out_h, out_w)
    if kind == "avg":
        return flat.mean(axis=2), (kind, x.shape, xp.shape, None, kernel, stride, padding)
    choice = flat.argmax(axis=2)  # the first maximum of each window, as torch
    out = np.take_along_axis(flat, choice[:, :, None], axis=2)[:, :, 0]
    return out, (kind, x.shape, xp.shape, choice, kernel, stride, padding)


def pool2d_backward(dy: np.ndarray, cache: tuple) -> np.ndarray:
    kind, _, padded_shape, choice, kernel, stride, padding = cache
    n, c, out_h, out_w = dy.shape
    if kind == "avg":
        d_flat = np.broadcast_to(dy[:, :, None] / (kernel * kernel), (n, c, kernel * kernel, out_h, out_w))
    else:
        d_flat = (np.arange(kernel * kernel)[None, None, :, None, None] == choice[:, :, None]) * dy[:, :, None]
    dx = scatter_windows(d_flat.reshape(n, c, kernel, kernel, out_h, out_w), padded_shape, stride)
    if padding:
        dx = dx[:, :, padding:-padding, padding:-padding]
    return dx


class Conv2d(Layer):
    def __init__(self, c_in: int, c_out: int, kernel: int, rng, stride: int = 1, padding: int = 0, init="he"):
        super().__init__()
        fan_in, fan_out = c_in * kernel * kernel, c_out * kernel * kernel
        self.params = {
            "weight": init_weight((c_out, c_in, kernel, kernel), fan_in, fan_out, init, rng),
            "bias": np.zeros(c_out),
        }
        self.stride, self.padding = stride, padding

    def forward(self, x, training=False):
        y, self.cache = conv2d(x, self.params["weight"], self.params["bias"], self.stride, self.padding)
        return y

    def backward(self, dy):
        dx, d_weight, d_bias = conv2d_backward(dy, self.cache)
        self.grads = {"weight": d_weight, "bias": d_bias}
        return dx


class Pool2d(Layer):
    def __init__(self, kernel: int, stride: int | None = None, padding: int = 0, kind: str = "max"):
        super().__init__()
        self.kernel, self.stride, self.padding, self.kind = kernel, stride, padding, kind

    def forward(self, x, training=False):
        y, self.cache = pool2d(x, self.kernel, self.stride, self.padding, self.kind)
        return y

    def backward(self, dy):
        return pool2d_backward(dy, self.cache)


# -- a stack of layers, and its loss ---------------------------------------------------------
class Sequential:
    """Layers applied in order; parameters and gradients under "index.name" (as torch's)."""

    def __init__(self, layers: list[Layer]):
        self.layers = layers

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def params(self) -> dict[str, np.ndarray]:
        return {f"{i}.{name}": p for i, layer in enumerate(self.layers) for name, p in layer.params.items()}

    def grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{name}": g for i, layer in enumerate(self.layers) for name, g in layer.grads.items()}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, classes: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of the softmax of ``logits`` against class indices, and d loss / d logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(classes))
    loss = -log_probs[rows, classes].mean()
    d_logits = np.exp(log_probs)
    d_logits[rows, classes] -= 1.0
    return float(loss), d_logits / len(classes)
