"""Oracle tests of the NumPy layers (Phase 2): forward and backward against torch (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.phase2 import layers as L
from models.phase2.mlp.model import MLPClassifier, TorchMLPClassifier, torch_mlp

RNG = np.random.default_rng(0)


def grads_by_autograd(function, *arrays):
    """Values and gradients of sum(function(*tensors) * upstream) with respect to each input."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = function(*tensors)
    upstream = torch.tensor(RNG.normal(size=tuple(out.shape)))
    (out * upstream).sum().backward()
    return out.detach().numpy(), upstream.numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 2), (2, 1), (3, 0)])
def test_conv2d_forward_and_backward_equal_torch(stride, padding):
    x, w, b = RNG.normal(size=(3, 2, 9, 8)), RNG.normal(size=(4, 2, 3, 3)), RNG.normal(size=4)
    expected, upstream, (dx, dw, db) = grads_by_autograd(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b
    )
    out, cache = L.conv2d(x, w, b, stride, padding)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    ours = L.conv2d_backward(upstream, cache)
    for got, want in zip(ours, (dx, dw, db), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 1, 1), (3, 2, 0), (2, 1, 0)])
def test_pooling_forward_and_backward_equal_torch(kind, kernel, stride, padding):
    x = RNG.normal(size=(2, 3, 8, 7))
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    expected, upstream, (dx,) = grads_by_autograd(lambda x: pool(x, kernel, stride, padding), x)
    out, cache = L.pool2d(x, kernel, stride, padding, kind)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(L.pool2d_backward(upstream, cache), dx, atol=1e-6)


@pytest.mark.parametrize("activation", L.ACTIVATIONS)
def test_dense_and_activation_gradients_equal_autograd_and_finite_differences(activation):
    layer, act = L.Dense(5, 4, RNG, "xavier"), L.Activation(activation)
    x = RNG.normal(size=(6, 5))
    torch_act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation]
    expected, upstream, (dx, dw, db) = grads_by_autograd(
        lambda x, w, b: torch_act(x @ w.T + b), x, layer.params["weight"], layer.params["bias"]
    )
    out = act.forward(layer.forward(x))
    np.testing.assert_allclose(out, expected, atol=1e-12)
    ours_dx = layer.backward(act.backward(upstream))
    for got, want in zip((ours_dx, layer.grads["weight"], layer.grads["bias"]), (dx, dw, db), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-10)
    # finite differences on the weights (central, step 1e-6)
    w = layer.params["weight"]
    numeric = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        saved = w[index]
        w[index] = saved + 1e-6
        plus = (act.forward(layer.forward(x)) * upstream).sum()
        w[index] = saved - 1e-6
        minus = (act.forward(layer.forward(x)) * upstream).sum()
        w[index] = saved
        numeric[index] = (plus - minus) / 2e-6
    np.testing.assert_allclose(layer.grads["weight"], numeric, atol=1e-6)


def test_softmax_cross_entropy_equals_torch():
    logits, classes = RNG.normal(size=(7, 4)) * 5, RNG.integers(0, 4, 7)
    t = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(t, torch.tensor(classes))
    loss.backward()
    ours, d_logits = L.softmax_cross_entropy(logits, classes)
    assert ours == pytest.approx(loss.item(), abs=1e-12)
    np.testing.assert_allclose(d_logits, t.grad.numpy(), atol=1e-12)


def test_mlp_backprop_equals_autograd_through_a_deep_net():
    """The whole network's manual gradients equal autograd's for every parameter (1e-6)."""
    X, y = RNG.random((16, 4, 4)), RNG.integers(0, 3, 16)
    model = MLPClassifier(hidden=(8, 8, 8), activation="sigmoid", init="xavier", random_state=0)
    model._init_state(X, y)
    net = model.net_
    logits = net.forward(X.reshape(16, -1), training=True)
    _, d_logits = L.softmax_cross_entropy(logits, y)
    net.backward(d_logits)
    twin = torch_mlp(16, (8, 8, 8), 3, "sigmoid").double()
    ours = net.params()
    with torch.no_grad():
        for name, parameter in twin.named_parameters():  # torch: "1.weight" is our "1.weight" (after Flatten)
            parameter.copy_(torch.from_numpy(ours[name]))
    F.cross_entropy(twin(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    grads = net.grads()
    for name, parameter in twin.named_parameters():
        np.testing.assert_allclose(grads[name], parameter.grad.numpy(), atol=1e-6)


def test_initializations_have_the_he_and_xavier_variance():
    rng = np.random.default_rng(1)
    assert L.init_weight((400, 300), 300, 400, "he", rng).var() == pytest.approx(2 / 300, rel=0.02)
    assert L.init_weight((400, 300), 300, 400, "xavier", rng).var() == pytest.approx(2 / 700, rel=0.02)
    with pytest.raises(ValueError, match="init must be"):
        L.init_weight((2, 2), 2, 2, "zeros", rng)


def test_numpy_mlp_and_torch_mlp_learn_the_same_task():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data.reshape(-1, 8, 8) / 16, digits.target
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    ours = MLPClassifier(hidden=(32,), max_epochs=15, random_state=0).fit(X[train], y[train])
    theirs = TorchMLPClassifier(hidden=(32,), max_epochs=15, random_state=0).fit(X[train], y[train])
    ours_accuracy, their_accuracy = ours.score(X[test], y[test]), theirs.score(X[test], y[test])
    assert ours_accuracy > 0.93 and their_accuracy > 0.93, (ours_accuracy, their_accuracy)
    assert abs(ours_accuracy - their_accuracy) < 0.03
