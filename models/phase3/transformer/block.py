"""One transformer encoder block in NumPy, forward and hand-written backward, as pure functions.

The block is torch.nn.TransformerEncoderLayer's (batch_first, ReLU, dropout 0), post-norm as in
"Attention Is All You Need" or pre-norm with ``norm_first``:

    post-norm   h = LN1(x + MHA(x));     y = LN2(h + FF(h))
    pre-norm    h = x + MHA(LN1(x));     y = h + FF(LN2(h))
    MHA(x)      = concat_heads(softmax(q k^T / sqrt(d_head), padding masked) v) W_o^T + b_o
    FF(h)       = W_2 relu(W_1 h + b_1) + b_2

Parameters are a dict under nn.TransformerEncoderLayer's state_dict names and shapes
(``self_attn.in_proj_weight`` (3E, E), ``linear1.weight`` (F, E), ``norm1.weight`` (E,), ...), so a
torch layer's weights load as they are. The attention is the Phase 2 deliverable's equation
(models/phase2/attention/model.py: ``scaled_dot_product_attention``, which the tests hold it equal to),
written here to keep float32 float32 and to take its softmax in place. Each ``*_forward`` returns its
output and the cache its ``*_backward`` reads; each backward returns the input's gradient and the
parameters' gradients. Every function keeps the dtype of its inputs: the classifier trains in float32,
tests/deliverables/test_transformer.py checks every output and gradient against torch autograd in
float64 (1e-6).

``sinusoidal_positions`` is the fixed position encoding of the same paper.
"""

from __future__ import annotations

import math

import numpy as np

LAYER_NORM_EPS = 1e-5  # torch's default


def sinusoidal_positions(length: int, d_model: int) -> np.ndarray:
    """(length, d_model): PE[p, 2i] = sin(p / 10000^(2i / d_model)), PE[p, 2i + 1] = cos(the same)."""
    if length < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"sinusoidal positions need length >= 1 and an even d_model >= 2, got {length}, {d_model}")
    positions = np.arange(length)[:, None]
    frequencies = np.exp(-np.log(10000.0) * np.arange(0, d_model, 2) / d_model)  # (d_model / 2,)
    table = np.empty((length, d_model))
    table[:, 0::2] = np.sin(positions * frequencies)
    table[:, 1::2] = np.cos(positions * frequencies)
    return table


def uniform(shape: tuple[int, ...], bound: float, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-bound, bound, shape)


def init_linear(n_out: int, n_in: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """nn.Linear's initialization: weight and bias uniform in +-1/sqrt(n_in)."""
    bound = 1.0 / np.sqrt(n_in)
    return uniform((n_out, n_in), bound, rng), uniform((n_out,), bound, rng)


def init_block(d_model: int, n_head: int, d_ff: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The distributions nn.TransformerEncoderLayer starts from: Xavier-uniform q, k, v projections and
    zero biases around the attention, nn.Linear's for the rest, unit layer norms."""
    if d_model % n_head:
        raise ValueError(f"d_model {d_model} is not divisible by {n_head} heads")
    in_proj = uniform((3 * d_model, d_model), np.sqrt(6.0 / (d_model + 3 * d_model)), rng)  # fan in + fan out
    linear1, linear2 = init_linear(d_ff, d_model, rng), init_linear(d_model, d_ff, rng)
    return {
        "self_attn.in_proj_weight": in_proj,
        "self_attn.in_proj_bias": np.zeros(3 * d_model),
        "self_attn.out_proj.weight": init_linear(d_model, d_model, rng)[0],
        "self_attn.out_proj.bias": np.zeros(d_model),
        "linear1.weight": linear1[0],
        "linear1.bias": linear1[1],
        "linear2.weight": linear2[0],
        "linear2.bias": linear2[1],
        "norm1.weight": np.ones(d_model),
        "norm1.bias": np.zeros(d_model),
        "norm2.weight": np.ones(d_model),
        "norm2.bias": np.zeros(d_model),
    }


# -- linear and layer norm ----------------------------------------------------------------------------
def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``x @ weight.T + bias`` over any leading dimensions, as one 2-D product (NumPy's stacked matmul
    does not reach BLAS for a transposed operand)."""
    out = x.reshape(-1, x.shape[-1]) @ weight.T
    out += bias
    return out.reshape(*x.shape[:-1], weight.shape[0])


def linear_backward(dy: np.ndarray, x: np.ndarray, weight: np.ndarray):
    """Gradients of ``linear(x, weight, bias)``: dx, d_weight, d_bias."""
    flat_dy, flat_x = dy.reshape(-1, dy.shape[-1]), x.reshape(-1, x.shape[-1])
    return (flat_dy @ weight).reshape(x.shape), flat_dy.T @ flat_x, flat_dy.sum(axis=0)


def layer_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = LAYER_NORM_EPS):
    """Normalize the last axis to zero mean and unit variance (biased), then scale and shift."""
    x_hat = x - x.mean(axis=-1, keepdims=True)
    inv_std = np.square(x_hat).mean(axis=-1, keepdims=True)
    inv_std += eps
    np.sqrt(inv_std, out=inv_std)
    np.reciprocal(inv_std, out=inv_std)
    x_hat *= inv_std
    y = x_hat * gamma
    y += beta
    return y, (x_hat, inv_std)


def layer_norm_backward(dy: np.ndarray, cache: tuple, gamma: np.ndarray):
    """dx = inv_std (d_hat - mean(d_hat) - x_hat mean(d_hat x_hat)) with d_hat = dy gamma; both means are
    matrix-vector products with gamma over the rows of dy and of dy x_hat."""
    x_hat, inv_std = cache
    width = dy.shape[-1]
    flat_dy, flat_hat = dy.reshape(-1, width), x_hat.reshape(-1, width)
    dy_hat = flat_dy * flat_hat  # (rows, E)
    mean_d_hat = flat_dy @ (gamma / width)  # (rows,)
    mean_d_hat_x_hat = dy_hat @ (gamma / width)
    dx = flat_dy * gamma
    dx -= mean_d_hat[:, None]
    dx -= flat_hat * mean_d_hat_x_hat[:, None]
    dx = dx.reshape(dy.shape)
    dx *= inv_std
    return dx, dy_hat.sum(axis=0), flat_dy.sum(axis=0)


# -- multi-head self-attention ------------------------------------------------------------------------
def padding_bias(padding: np.ndarray | None, dtype) -> np.ndarray | None:
    """(batch, 1, 1, T): -inf on the padded keys, 0 elsewhere, added to the attention scores."""
    if padding is None:
        return None
    return np.where(padding, -np.inf, 0.0).astype(dtype)[:, None, None, :]


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None = None):
    """softmax(q k^T / sqrt(d) + bias) v on (batch, heads, T, d) stacks, the softmax in place on the
    scores: the Phase 2 ``scaled_dot_product_attention`` (the tests hold them equal) without its
    float64 scale and its copies. Returns the output (batch, heads, T, d) and the weights (batch, heads, T, T)."""
    scores = q @ np.swapaxes(k, -1, -2)  # (batch, heads, T, T)
    scores *= 1.0 / math.sqrt(q.shape[-1])
    if bias is not None:
        scores += bias
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores, out=scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


def softmax_backward(d_weights: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """d scores = weights (d_weights - sum(d_weights weights)) over the last axis, in place on ``d_weights``."""
    d_weights -= np.einsum("...k,...k->...", d_weights, weights)[..., None]
    d_weights *= weights
    return d_weights


def self_attention_forward(params: dict, x: np.ndarray, n_head: int, padding: np.ndarray | None = None):
    """x (batch, T, E); ``padding`` (batch, T) True at padded positions, which no query attends to.
    ``params`` holds ``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``.
    Returns the output (batch, T, E) and the cache; the cache's ``weights`` are (batch, heads, T, T)."""
    batch, length, d_model = x.shape
    head = d_model // n_head
    qkv = linear(x, params["in_proj_weight"], params["in_proj_bias"])  # (batch, T, 3E)
    q, k, v = qkv.reshape(batch, length, 3, n_head, head).transpose(2, 0, 3, 1, 4)  # 3 x (batch, heads, T, d) views
    context, weights = attention_forward(q, k, v, padding_bias(padding, x.dtype))  # (batch, heads, T, d), (.., T, T)
    merged = context.transpose(0, 2, 1, 3).reshape(batch, length, d_model)
    out = linear(merged, params["out_proj.weight"], params["out_proj.bias"])
    return out, {"x": x, "q": q, "k": k, "v": v, "weights": weights, "merged": merged}


def self_attention_backward(params: dict, dy: np.ndarray, cache: dict):
    x, q, k, v, weights, merged = (cache[name] for name in ("x", "q", "k", "v", "weights", "merged"))
    batch, length, d_model = x.shape
    n_head, head = q.shape[1], q.shape[-1]
    d_merged, d_out_w, d_out_b = linear_backward(dy, merged, params["out_proj.weight"])
    d_context = d_merged.reshape(batch, length, n_head, head).transpose(0, 2, 1, 3)  # (batch, heads, T, d)
    d_qkv = np.empty((batch, length, 3, n_head, head), dtype=x.dtype)  # dq, dk, dv written in place
    dq, dk, dv = d_qkv.transpose(2, 0, 3, 1, 4)  # 3 x (batch, heads, T, d) views
    np.matmul(np.swapaxes(weights, -1, -2), d_context, out=dv)
    d_scores = softmax_backward(d_context @ np.swapaxes(v, -1, -2), weights)  # (batch, heads, T, T)
    d_scores *= 1.0 / math.sqrt(head)
    np.matmul(d_scores, k, out=dq)
    np.matmul(np.swapaxes(d_scores, -1, -2), q, out=dk)
    dx, d_in_w, d_in_b = linear_backward(d_qkv.reshape(batch, length, 3 * d_model), x, params["in_proj_weight"])
    grads = {"in_proj_weight": d_in_w, "in_proj_bias": d_in_b, "out_proj.weight": d_out_w, "out_proj.bias": d_out_b}
    return dx, grads


# -- the encoder block --------------------------------------------------------------------------------
def _part(params: dict, prefix: str) -> dict:
    return {name.removeprefix(prefix): value for name, value in params.items() if name.startswith(prefix)}


def feed_forward_forward(params: dict, h: np.ndarray):
    hidden = linear(h, params["linear1.weight"], params["linear1.bias"])  # (batch, T, F)
    np.maximum(hidden, 0.0, out=hidden)
    return linear(hidden, params["linear2.weight"], params["linear2.bias"]), (h, hidden)


def feed_forward_backward(params: dict, dy: np.ndarray, cache: tuple):
    h, hidden = cache
    d_hidden, d_w2, d_b2 = linear_backward(dy, hidden, params["linear2.weight"])
    np.multiply(d_hidden, hidden > 0, out=d_hidden)
    dh, d_w1, d_b1 = linear_backward(d_hidden, h, params["linear1.weight"])
    return dh, {"linear1.weight": d_w1, "linear1.bias": d_b1, "linear2.weight": d_w2, "linear2.bias": d_b2}


def encoder_block_forward(params: dict, x: np.ndarray, n_head: int, padding: np.ndarray | None = None,
                          norm_first: bool = False):  # fmt: skip
    """nn.TransformerEncoderLayer's forward on x (batch, T, E). Returns y (batch, T, E) and the cache
    (``cache["attention"]["weights"]``: each head's attention, (batch, heads, T, T))."""
    attn = _part(params, "self_attn.")
    norm1 = params["norm1.weight"], params["norm1.bias"]
    norm2 = params["norm2.weight"], params["norm2.bias"]
    if norm_first:
        x_in, ln1 = layer_norm_forward(x, *norm1)
        a, attention = self_attention_forward(attn, x_in, n_head, padding)
        h = x + a
        h_in, ln2 = layer_norm_forward(h, *norm2)
        f, ff = feed_forward_forward(params, h_in)
        y = h + f
    else:
        a, attention = self_attention_forward(attn, x, n_head, padding)
        h, ln1 = layer_norm_forward(x + a, *norm1)
        f, ff = feed_forward_forward(params, h)
        y, ln2 = layer_norm_forward(h + f, *norm2)
    return y, {"attention": attention, "ln1": ln1, "ln2": ln2, "ff": ff, "norm_first": norm_first}


def encoder_block_backward(params: dict, dy: np.ndarray, cache: dict):
    """dL/dx and dL/d(every parameter, under the same names) from dL/dy."""
    grads = {}

    def norm_backward(which: str, d_out: np.ndarray) -> np.ndarray:  # records the norm's own gradients
        d_in, grads[f"{which}.weight"], grads[f"{which}.bias"] = layer_norm_backward(
            d_out, cache[f"ln{which[-1]}"], params[f"{which}.weight"]
        )
        return d_in

    def attention_backward(d_out: np.ndarray) -> np.ndarray:
        d_in, attn_grads = self_attention_backward(_part(params, "self_attn."), d_out, cache["attention"])
        grads.update({f"self_attn.{name}": g for name, g in attn_grads.items()})
        return d_in

    if cache["norm_first"]:  # y = h + FF(LN2(h)), h = x + MHA(LN1(x))
        d_ff_in, ff_grads = feed_forward_backward(params, dy, cache["ff"])
        dh = dy + norm_backward("norm2", d_ff_in)
        dx = dh + norm_backward("norm1", attention_backward(dh))
    else:  # y = LN2(h + FF(h)), h = LN1(x + MHA(x))
        d_sum2 = norm_backward("norm2", dy)
        d_h, ff_grads = feed_forward_backward(params, d_sum2, cache["ff"])
        d_sum1 = norm_backward("norm1", d_sum2 + d_h)
        dx = d_sum1 + attention_backward(d_sum1)
    grads |= ff_grads
    return dx, {name: grads[name] for name in params}
