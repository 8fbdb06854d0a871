"""The ``backprop`` deliverable: the NumPy network's hand-written gradients against autograd."""

import numpy as np
import torch
import torch.nn.functional as F

from models.phase2 import layers as L
from models.phase2.mlp.model import MLPClassifier, torch_mlp

RNG = np.random.default_rng(0)


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
