"""Our optimizers take exactly torch.optim's steps; our network trains exactly as torch's."""

import numpy as np
import pytest
import torch
from sklearn import datasets

from models import optim as o
from models.phase1.optimizers import model as mlp
from models.phase1.optimizers.reference import TorchMLPRegressor

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


@pytest.mark.parametrize("kind", o.OPTIMIZERS)
def test_a_small_network_trains_exactly_as_in_torch(kind):
    X, y = datasets.load_diabetes(return_X_y=True)
    settings = {"optimizer": kind, "learning_rate": 0.01, "hidden": 8, "max_epochs": 5, "random_state": 3}
    ours = mlp.MLPRegressor(**settings).fit(X, y)
    theirs = TorchMLPRegressor(**settings).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-6)


def test_backpropagation_matches_finite_differences():
    rng = np.random.default_rng(0)
    params = mlp.init_mlp(3, 4, rng)
    Z, target = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    _, grads = mlp.mlp_loss_and_gradients(params, Z, target)
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            saved = value[index]
            value[index] = saved + 1e-6
            up = mlp.mlp_loss_and_gradients(params, Z, target)[0]
            value[index] = saved - 1e-6
            down = mlp.mlp_loss_and_gradients(params, Z, target)[0]
            value[index] = saved
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grads[name], numeric, atol=1e-6)


def test_adaptive_methods_cope_with_ill_conditioning_where_gd_must_crawl():
    gd = o.minimize("gd", o.quadratic_gradient, [1.8, 1.5], 0.019, 300)  # lr < 2/100: gd's stable limit
    adam = o.minimize("adam", o.quadratic_gradient, [1.8, 1.5], 0.05, 300)
    assert o.quadratic(adam[-1]) < o.quadratic(gd[-1])
    diverged = o.minimize("gd", o.quadratic_gradient, [1.8, 1.5], 0.021, 300)  # past the limit
    assert o.quadratic(diverged[-1]) > o.quadratic(diverged[0])


def test_unknown_optimizer_is_refused_by_name():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        o.Optimizer("lion", 0.1)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_backpropagation_through_a_dropout_mask_matches_finite_differences(activation):
    rng = np.random.default_rng(1)
    params = mlp.init_mlp(3, 5, rng, activation)
    Z, target = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    mask = (rng.random((8, 5)) < 0.6) / 0.6
    _, grads = mlp.mlp_loss_and_gradients(params, Z, target, activation, mask)
    for name, value in params.items():
        for index in np.ndindex(value.shape):
            saved = value[index]
            value[index] = saved + 1e-6
            up = mlp.mlp_loss_and_gradients(params, Z, target, activation, mask)[0]
            value[index] = saved - 1e-6
            down = mlp.mlp_loss_and_gradients(params, Z, target, activation, mask)[0]
            value[index] = saved
            assert grads[name][index] == pytest.approx((up - down) / 2e-6, abs=1e-6)
