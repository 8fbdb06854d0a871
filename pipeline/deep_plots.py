"""The plots of the deep-learning deliverables (Phase 2); pipeline/plots.py registers them.

Same contract as there: a function of ``PlotData`` returning a figure and an optional JSON table.
"""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, _axes


def _grid(images: np.ndarray, rows: int, columns: int, titles=None, size: float = 1.3):
    """A figure of ``rows`` x ``columns`` greyscale images (ink 0-1), no axes."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.3), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(np.asarray(images[index]).reshape(images[index].shape[-2:]), cmap="gray_r", vmin=0, vmax=1)
            if titles is not None:
                axis.set_title(titles[index], fontsize=7)
    return figure


def image_predictions(data: PlotData):
    """Test images with the true class and what ours and the reference predicted (wrong ones first)."""
    ours, theirs = data.outputs["ours"], data.outputs["reference"]
    order = np.argsort(ours == data.y_test, kind="stable")[:24]
    titles = [f"{data.y_test[i]}: ours {ours[i]}, ref {theirs[i]}" for i in order]
    figure = _grid(data.X_test[order], 3, 8, titles, size=1.6)
    figure.suptitle("Test images, true class: predictions (our mistakes first)", fontsize=9)
    return figure, None


def gradient_norms(data: PlotData):
    """Mean gradient norm of each layer's weights per epoch: where the gradient fades or grows."""
    model = data.models["ours"]
    norms = np.asarray(model.grad_norms_)
    names = model.weight_names()
    figure, ((axis,),) = _axes(1, 7)
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
    figure, axes = _axes(len(grads), 3.2)
    for axis, (name, values) in zip(axes[0], grads.items(), strict=True):
        axis.hist(values, bins=40)
        axis.set_title(f"{name}\nstd {values.std():.2e}", fontsize=8)
        axis.set_xlabel("dL/dW", fontsize=8)
    return figure, None


def conv_filters(data: PlotData):
    """The first convolution's filters as learned by ours (NumPy) and the reference (torch)."""
    ours = data.models["ours"].net_.layers[0].params["weight"]
    theirs = data.models["reference"].module_[0].weight.detach().numpy()
    filters = np.concatenate([ours[:, 0], theirs[:, 0]])
    low, high = filters.min(), filters.max()
    titles = [f"ours {i}" for i in range(len(ours))] + [f"torch {i}" for i in range(len(theirs))]
    figure = _grid((filters - low) / (high - low + 1e-12), 2, len(ours), titles, size=1.2)
    figure.suptitle("First-layer convolution filters (same scale)", fontsize=9)
    return figure, None


PROMPTS = ("The movie", "I", "This film is", "An utterly", "The acting", "It is not")


def generated_text(data: PlotData):
    """What each language model writes after the same prompts (greedy), and the held-out perplexity."""
    import textwrap

    figure, ((axis,),) = _axes(1, 10)
    axis.axis("off")
    prompts = np.array(PROMPTS, dtype=object)[:, None]
    table, lines = [], []
    for who, model in data.models.items():
        continuations = model.predict(prompts)
        lines.append(f"{who}  (perplexity {model.perplexity(data.X_test):.2f})")
        for prompt, continuation in zip(PROMPTS, continuations, strict=True):
            lines.append(textwrap.shorten(f"    {prompt} | {continuation}", 110))
            table.append({"model": who, "prompt": prompt, "continuation": continuation})
        lines.append("")
    axis.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8, transform=axis.transAxes)
    axis.set_title("Prompt | generated continuation")
    return figure, table


def attention_maps(data: PlotData):
    """Last-layer attention (head-averaged) of three test sequences: which input position each
    output position reads, ours beside the reference."""
    import matplotlib.pyplot as plt

    rows = data.X_test[:3]
    figure, axes = plt.subplots(2, len(rows), figsize=(3.2 * len(rows), 6.4), squeeze=False)
    for row, (who, model) in enumerate(data.models.items()):
        maps = model.attention_maps(rows)[-1]
        predicted = model.predict(rows)
        for column, (sequence, weights) in enumerate(zip(rows, maps, strict=True)):
            axis = axes[row, column]
            axis.imshow(weights, cmap="viridis", vmin=0, vmax=1)
            ticks = range(len(sequence))
            axis.set_xticks(ticks, [str(int(v)) for v in sequence], fontsize=7)
            axis.set_yticks(ticks, [str(int(v)) for v in predicted[column]], fontsize=7)
            axis.set(xlabel="input", ylabel="output")
            axis.set_title(f"{who}: sequence {column + 1}", fontsize=8)
    return figure, None


def reconstructions(data: PlotData):
    """Test images (top row) and their reconstructions by ours (the VAE) and by the reference (PCA)."""
    images = data.X_test[:10]
    rows = [images]
    for model in data.models.values():
        rows.append(np.asarray(model.inverse_transform(model.transform(images))).reshape(images.shape))
    figure = _grid(np.concatenate(rows), len(rows), len(images), size=1.0)
    figure.suptitle("Test images; ours (VAE); reference (PCA), same latent size", fontsize=9)
    return figure, None


def latent_traversal(data: PlotData, steps: int = 9):
    """Decoded images as one latent dimension moves from -3 to 3 (the others at 0), a row each."""
    model = data.models["ours"]
    latent = model.transform(data.X_test[:1]).shape[1]
    values = np.linspace(-3, 3, steps)
    codes = np.zeros((latent * steps, latent))
    for dim in range(latent):
        codes[dim * steps : (dim + 1) * steps, dim] = values
    side = data.X_test.shape[1:]
    images = np.asarray(model.inverse_transform(codes)).reshape(len(codes), *side)
    figure = _grid(images, latent, steps, size=1.0)
    figure.suptitle("Latent traversal: dimension by row, -3 to 3 across", fontsize=9)
    return figure, None


def gan_progress(data: PlotData):
    """The generator's image of each digit from one fixed noise, at snapshots over training."""
    snapshots = data.models["ours"].snapshots_
    images = np.concatenate([grid for _, grid in snapshots])
    per_row = len(snapshots[0][1])
    titles = [f"epoch {epoch}" if i == 0 else "" for epoch, _ in snapshots for i in range(per_row)]
    figure = _grid(images, len(snapshots), per_row, titles, size=1.0)
    figure.suptitle("Generated digits 0-9 over training (fixed noise)", fontsize=9)
    return figure, None


def generated_samples(data: PlotData, per_class: int = 4):
    """Four images of each digit from ours (the GAN, left) and the reference (a mixture per class)."""
    labels = np.repeat(np.arange(10), per_class)
    grids = [np.asarray(model.predict(labels[:, None])) for model in data.models.values()]
    images = np.concatenate([np.concatenate([g[labels == d] for g in grids]) for d in range(10)])
    figure = _grid(images, 10, 2 * per_class, size=0.9)
    figure.suptitle("Each digit: ours (GAN) on the left, the Gaussian mixture on the right", fontsize=9)
    return figure, None


#: The vanishing / exploding demonstration: (activation, init, weight-scale multiplier).
DEPTH_SETTINGS = (("sigmoid", "xavier", 1.0), ("tanh", "xavier", 1.0), ("relu", "he", 1.0), ("relu", "he", 2.0))


def gradient_depth(data: PlotData, depth: int = 12, width: int = 64):
    """Vanishing and exploding gradients: per-layer gradient norm at initialization of 12-layer nets
    on a batch of training images. Sigmoid's gradient fades layer by layer towards the input; ReLU
    with He initialization keeps its size; the same ReLU net with weights twice too large grows it."""
    from models.phase2.layers import Activation, Dense, Sequential, softmax_cross_entropy

    X = data.X_train[:256].reshape(min(256, len(data.X_train)), -1)
    classes = np.searchsorted(np.unique(data.y_train), data.y_train[: len(X)])
    figure, ((axis,),) = _axes(1, 7)
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


DEEP_PLOTS = {
    function.__name__: function
    for function in (
        image_predictions, gradient_norms, gradient_histograms, gradient_depth, conv_filters, generated_text,
        attention_maps, reconstructions, latent_traversal, gan_progress, generated_samples,
    )
}  # fmt: skip
