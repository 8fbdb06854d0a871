"""Oracle tests of the shared NumPy layers (Phase 2): forward and backward against torch (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.phase2 import layers as L
from tests.deliverables._helpers import grads_by_autograd

RNG = np.random.default_rng(0)


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


def test_initializations_have_the_he_and_xavier_variance():
    rng = np.random.default_rng(1)
    assert L.init_weight((400, 300), 300, 400, "he", rng).var() == pytest.approx(2 / 300, rel=0.02)
    assert L.init_weight((400, 300), 300, 400, "xavier", rng).var() == pytest.approx(2 / 700, rel=0.02)
    with pytest.raises(ValueError, match="init must be"):
        L.init_weight((2, 2), 2, 2, "zeros", rng)
