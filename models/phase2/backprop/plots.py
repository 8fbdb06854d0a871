"""The plots of `backprop` (named in its declaration, drawn by evaluate, logged to MLflow)."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots

DEPTH_SETTINGS = (("sigmoid", "xavier", 1.0), ("tanh", "xavier", 1.0), ("relu", "he", 1.0), ("relu", "he", 2.0))


def gradient_norms(data: PlotData):
    """Mean gradient norm of each layer's weights per epoch: where the gradient fades or grows."""
    model = data.models["ours"]
    norms = np.asarray(model.grad_norms_)
    names = model.weight_names()
    figure, ((axis,),) = subplots(1, 7)
    for index, name in enumerate(names):
        axis.plot(np.arange(1, len(norms) + 1), norms[:, index], label=f"layer {index + 1} ({name})")
    axis.set(xlabel="epoch", ylabel="mean ||dL/dW|| per batch", yscale="log", title="Gradient norm per layer")
    axis.legend(fontsize=7)
    table = [{"layer": name, "first_epoch": float(norms[0, i]), "last_epoch": float(norms[-1, i])} for i, name in
             enumerate(names)]  # fmt: skip
    return figure, table


def gradient_histograms(data: PlotData):
    """Histograms of each layer's weight gradients in the last batch of training."""
    model = data.models["ours"]
    grads = model.last_grads_
    figure, axes = subplots(len(grads), 3.2)
    for axis, (name, values) in zip(axes[0], grads.items(), strict=True):
        axis.hist(values, bins=40)
        axis.set_title(f"{name}\nstd {values.std():.2e}", fontsize=8)
        axis.set_xlabel("dL/dW", fontsize=8)
    return figure, None


def gradient_depth(data: PlotData, depth: int = 12, width: int = 64):
    """Vanishing and exploding gradients: per-layer gradient norm at initialization of 12-layer nets
    on a batch of training images. Sigmoid's gradient fades layer by layer towards the input; ReLU
    with He initialization keeps its size; the same ReLU net with weights twice too large grows it."""
    from models.phase2.layers import Activation, Dense, Sequential, softmax_cross_entropy

    X = data.X_train[:256].reshape(min(256, len(data.X_train)), -1)
    classes = np.searchsorted(np.unique(data.y_train), data.y_train[: len(X)])
    figure, ((axis,),) = subplots(1, 7)
    table = []
    for activation, init, scale in DEPTH_SETTINGS:
        rng = np.random.default_rng(data.seed)
        layers, n_in = [], X.shape[1]
        for _ in range(depth):
            dense = Dense(n_in, width, rng, init)
            dense.params["weight"] *= scale
            layers += [dense, Activation(activation)]
            n_in = width
        net = Sequential([*layers, Dense(n_in, int(classes.max()) + 1, rng, init)])
        _, d_logits = softmax_cross_entropy(net.forward(X, training=True), classes)
        net.backward(d_logits)
        grads = net.grads()
        norms = [float(np.linalg.norm(grads[f"{2 * i}.weight"])) for i in range(depth)]
        label = f"{activation}, {init}" + (f", weights x{scale:g}" if scale != 1 else "")
        axis.plot(np.arange(1, depth + 1), norms, marker="o", label=label)
        table.append({"setting": label, "first_layer": norms[0], "last_layer": norms[-1]})
    axis.set(xlabel="layer (input side first)", ylabel="||dL/dW|| at initialization", yscale="log",
             title=f"Vanishing and exploding gradients, {depth} layers of {width}")  # fmt: skip
    axis.legend(fontsize=7)
    return figure, table


PLOTS = {
    function.__name__: function
    for function in (
        gradient_norms,
        gradient_histograms,
        gradient_depth,
    )
}
