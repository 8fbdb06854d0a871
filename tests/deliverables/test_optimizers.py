"""The ``optimizers`` deliverable: the NumPy network's backpropagation, and its training step for step as torch's."""

import numpy as np
import pytest
from sklearn import datasets

from models import optim as o
from models.phase1.optimizers import model as mlp
from models.phase1.optimizers.reference import TorchMLPRegressor


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
