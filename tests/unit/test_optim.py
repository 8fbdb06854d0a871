"""The shared optimizers (models/optim.py) take exactly torch.optim's steps."""

import numpy as np
import pytest
import torch

from models import optim as o

SETTINGS = {"gd": {}, "momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True}}


def torch_optimizer(kind: str, parameters, lr: float):
    if kind in SETTINGS:
        return torch.optim.SGD(parameters, lr=lr, **SETTINGS[kind])
    if kind == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, alpha=0.99, eps=1e-8)
    return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def torch_path(kind, function, start, lr, steps):
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = torch_optimizer(kind, [x], lr)
    path = [x.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        function(x).backward()
        optimizer.step()
        path.append(x.detach().numpy().copy())
    return np.array(path)


def torch_rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def torch_quadratic(x):
    return 0.5 * (x[0] ** 2 + 100 * x[1] ** 2)


@pytest.mark.parametrize("kind", o.OPTIMIZERS)
@pytest.mark.parametrize(
    ("ours", "theirs", "lr"),
    [(o.rosenbrock_gradient, torch_rosenbrock, 1e-3), (o.quadratic_gradient, torch_quadratic, 1e-2)],
    ids=["rosenbrock", "ill-conditioned quadratic"],
)
def test_every_step_equals_torch_optim(kind, ours, theirs, lr):
    start = [-1.5, 2.0]
    np.testing.assert_allclose(
        o.minimize(kind, ours, start, lr, 300), torch_path(kind, theirs, start, lr, 300), atol=1e-6
    )


def test_adaptive_methods_cope_with_ill_conditioning_where_gd_must_crawl():
    gd = o.minimize("gd", o.quadratic_gradient, [1.8, 1.5], 0.019, 300)  # lr < 2/100: gd's stable limit
    adam = o.minimize("adam", o.quadratic_gradient, [1.8, 1.5], 0.05, 300)
    assert o.quadratic(adam[-1]) < o.quadratic(gd[-1])
    diverged = o.minimize("gd", o.quadratic_gradient, [1.8, 1.5], 0.021, 300)  # past the limit
    assert o.quadratic(diverged[-1]) > o.quadratic(diverged[0])


def test_unknown_optimizer_is_refused_by_name():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        o.Optimizer("lion", 0.1)
