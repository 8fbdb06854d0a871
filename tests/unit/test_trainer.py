"""The torch training loop: determinism, checkpoint and resume, device and precision choice."""

import pickle

import numpy as np
import pytest
import torch

from models.phase2.mlp.model import TorchMLPClassifier
from models.phase2.trainer import autocast_dtype, best_device


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data[:600].reshape(-1, 8, 8) / 16, data.target[:600]


def state(model) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.module_.parameters()]


def test_the_same_seed_gives_the_same_model_twice(digits):
    X, y = digits
    first = TorchMLPClassifier(hidden=(16,), max_epochs=3, random_state=7).fit(X, y)
    second = TorchMLPClassifier(hidden=(16,), max_epochs=3, random_state=7).fit(X, y)
    other = TorchMLPClassifier(hidden=(16,), max_epochs=3, random_state=8).fit(X, y)
    assert first.loss_history_ == second.loss_history_
    for a, b in zip(state(first), state(second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.loss_history_ != other.loss_history_


def test_a_run_resumed_from_a_checkpoint_ends_where_an_unbroken_run_does(digits):
    """Epochs 1-2, a pickle round trip (what the train step's checkpoint is), then epochs 3-4."""
    X, y = digits
    unbroken = TorchMLPClassifier(hidden=(16,), max_epochs=4, random_state=3)
    rng = np.random.default_rng(3)
    unbroken._init_state(X, y)
    for _ in range(4):
        unbroken._epoch(X, y, rng)

    broken = TorchMLPClassifier(hidden=(16,), max_epochs=4, random_state=3)
    rng = np.random.default_rng(3)
    broken._init_state(X, y)
    for _ in range(2):
        broken._epoch(X, y, rng)
    saved = pickle.dumps({"estimator": broken, "rng": rng})
    torch.manual_seed(12345)  # another process's torch state: the checkpoint must not depend on it
    restored = pickle.loads(saved)
    resumed, rng = restored["estimator"], restored["rng"]
    for _ in range(2):
        resumed._epoch(X, y, rng)
    assert resumed.loss_history_ == unbroken.loss_history_
    for a, b in zip(state(resumed), state(unbroken), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_fitted_model_keeps_no_training_state_and_predicts_on_the_cpu(digits):
    X, y = digits
    model = TorchMLPClassifier(hidden=(16,), max_epochs=1, random_state=0).fit(X, y)
    assert not hasattr(model, "optimizer_") and next(model.module_.parameters()).device.type == "cpu"
    assert model.predict_proba(X[:5]).shape == (5, 10)
    assert pickle.loads(pickle.dumps(model)).predict(X[:5]).tolist() == model.predict(X[:5]).tolist()


def test_device_and_precision():
    assert best_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else best_device()
    assert best_device() == expected
    assert autocast_dtype("cpu", "auto") is None and autocast_dtype("cuda", "fp32") is None
    if torch.cuda.is_available():
        assert autocast_dtype("cuda", "auto") in (torch.bfloat16, torch.float16)
    with pytest.raises(ValueError, match="precision must be"):
        autocast_dtype("cpu", "fp8")
