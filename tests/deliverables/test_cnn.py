"""The ``cnn`` deliverable: convolution and pooling by hand (im2col), forward and backward against torch (float64)."""

import numpy as np
import pytest
import torch.nn.functional as F

from models.phase2 import layers as L
from tests.deliverables._helpers import grads_by_autograd

RNG = np.random.default_rng(0)


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
