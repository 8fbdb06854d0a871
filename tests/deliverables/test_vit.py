"""vit: the patch embedding, GPT-mini's block (non-causal) and the whole network against torch's own layers,
attention rollout, persistence, training against the nn.TransformerEncoder reference, and bad input.
Small networks on a few hundred Fashion-MNIST images: every test runs in seconds on the CPU."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError

from models.phase3.gpt_mini.model import Block, causal_attention
from models.phase3.vit.model import (
    ImageShapeError,
    PatchEmbedding,
    VisionTransformerClassifier,
    ViT,
    ViTConfig,
    attention_rollout,
    augment_images,
)
from models.phase3.vit.reference import TorchVisionTransformerClassifier, TorchViT, block_state

SMALL = dict(n_layer=2, n_head=2, n_embd=32, batch_size=64, max_epochs=3, learning_rate=0.003, device="cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small networks gain nothing from more threads, and lose much to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def fashion():
    """1,200 Fashion-MNIST images (28x28, ink 0-1) and labels: 1,000 to train, 200 to test."""
    from s2p.sources import fashion_mnist

    frame = fashion_mnist().sample(1200, random_state=0)
    X = np.stack(frame["image"].to_numpy()).reshape(-1, 28, 28)
    y = frame["label"].to_numpy()
    return X[:1000], y[:1000], X[1000:], y[1000:]


@pytest.fixture(scope="module")
def fitted(fashion):
    X, y, _, _ = fashion
    ours = VisionTransformerClassifier(**SMALL, random_state=0).fit(X, y)
    reference = TorchVisionTransformerClassifier(**SMALL, random_state=0).fit(X, y)
    return ours, reference


# -- the layers against torch's ----------------------------------------------------------------------
@pytest.mark.parametrize(("channels", "patch", "side"), [(1, 7, 28), (1, 4, 28), (3, 4, 16), (2, 1, 3)])
def test_patch_embedding_equals_a_conv2d_with_stride_patch(channels, patch, side):
    torch.manual_seed(side)
    config = ViTConfig(image_size=side, patch_size=patch, channels=channels, n_head=2, n_embd=16)
    embedding = PatchEmbedding(config).double()
    images = torch.rand(3, channels, side, side, dtype=torch.float64)
    kernel = embedding.proj.weight.view(16, channels, patch, patch)  # (out, in, P, P): the (c, i, j) order
    expected = F.conv2d(images, kernel, embedding.proj.bias, stride=patch).flatten(2).transpose(1, 2)
    torch.testing.assert_close(embedding(images), expected, rtol=0, atol=1e-10)


def random_encoder_layer(n_embd: int, n_head: int, seed: int) -> nn.TransformerEncoderLayer:
    """torch's pre-norm encoder layer with every weight random (layer-norm gains and biases too)."""
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(
        n_embd, n_head, 4 * n_embd, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    )
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3)
    return layer


@pytest.mark.parametrize(("n_embd", "n_head", "tokens"), [(64, 4, 17), (32, 2, 50), (48, 3, 5)])
def test_our_block_equals_torch_encoder_layer_with_the_same_weights(n_embd, n_head, tokens):
    layer = random_encoder_layer(n_embd, n_head, seed=tokens)
    config = ViTConfig(n_layer=1, n_head=n_head, n_embd=n_embd)
    block = Block(config.block_config())
    block.load_state_dict(block_state(layer))
    x = torch.randn(4, tokens, n_embd, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    layer.train(), block.train()  # torch's slow path in both: its fused inference path is checked below
    ours, theirs = block(x), layer(x_ref)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    upstream = torch.randn_like(ours)
    (ours * upstream).sum().backward()
    (theirs * upstream).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-5)
    with torch.inference_mode():
        torch.testing.assert_close(block.eval()(x), layer.eval()(x), rtol=0, atol=1e-5)


def test_non_causal_attention_equals_torch_scaled_dot_product_attention():
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 17, 8, generator=generator, dtype=torch.float64) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=False)
    torch.testing.assert_close(causal_attention(q, k, v, causal=False), expected, rtol=0, atol=1e-10)
    assert not torch.allclose(causal_attention(q, k, v), expected)  # the default stays causal (GPT-mini)


def test_ours_and_the_reference_start_from_the_same_network():
    config = ViTConfig(n_layer=3, n_head=4, n_embd=32)
    torch.manual_seed(7)
    ours = ViT(config).eval()
    torch.manual_seed(7)
    reference = TorchViT(config).eval()
    images = torch.rand(8, 1, 28, 28)
    with torch.inference_mode():
        torch.testing.assert_close(ours(images)[0], reference(images)[0], rtol=0, atol=1e-5)
        torch.testing.assert_close(reference.as_vit()(images)[0], reference(images)[0], rtol=0, atol=1e-5)


# -- attention rollout ---------------------------------------------------------------------------------
def test_rollout_rows_are_distributions_over_the_tokens():
    torch.manual_seed(0)
    vit = ViT(ViTConfig(n_layer=3, n_head=4, n_embd=32)).eval()
    with torch.inference_mode():
        maps = vit.attention_weights(torch.rand(5, 1, 28, 28))
    assert len(maps) == 3 and maps[0].shape == (5, 4, 17, 17)
    for weights in maps:
        torch.testing.assert_close(weights.sum(-1), torch.ones(5, 4, 17), rtol=0, atol=1e-6)
    for residual in (0.0, 0.5, 0.9):
        rollout = attention_rollout(maps, residual)
        assert rollout.shape == (5, 17, 17) and rollout.min() >= 0
        torch.testing.assert_close(rollout.sum(-1), torch.ones(5, 17), rtol=0, atol=1e-5)
    torch.testing.assert_close(attention_rollout(maps, 1.0), torch.eye(17).expand(5, 17, 17))  # no mixing at all
    with pytest.raises(ValueError, match="residual"):
        attention_rollout(maps, 1.5)


def test_rollout_of_a_single_block_is_its_mean_attention_mixed_with_the_identity():
    weights = torch.softmax(torch.randn(2, 3, 5, 5), dim=-1)
    expected = 0.5 * torch.eye(5) + 0.5 * weights.mean(dim=1)
    torch.testing.assert_close(attention_rollout([weights]), expected)


def test_fitted_models_draw_rollout_maps_per_patch(fitted, fashion):
    _, _, X_test, _ = fashion
    for model in fitted:
        maps = model.attention_rollout(X_test[:4])
        assert maps.shape == (4, 4, 4) and (maps >= 0).all() and (maps.sum(axis=(1, 2)) <= 1 + 1e-6).all()


# -- training, persistence ------------------------------------------------------------------------------
def test_training_lowers_the_loss_and_ours_tracks_the_reference(fitted, fashion):
    _, _, X_test, y_test = fashion
    ours, reference = fitted
    assert ours.loss_history_[-1] < ours.loss_history_[0] and len(ours.loss_history_) == 3
    accuracy = {name: float(np.mean(m.predict(X_test) == y_test)) for name, m in zip("or", fitted, strict=True)}
    assert accuracy["o"] > 0.5  # ten classes: chance is 0.1
    assert abs(accuracy["o"] - accuracy["r"]) <= 0.05  # the same initial weights, batches and learning rates
    np.testing.assert_allclose(ours.loss_history_, reference.loss_history_, rtol=0.02)
    proba = ours.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert set(ours.classes_) == set(range(10))


@pytest.mark.parametrize("which", [0, 1])
def test_save_and_load_give_identical_logits(fitted, fashion, tmp_path, which):
    model = fitted[which]
    _, _, X_test, _ = fashion
    restored = type(model).load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(restored.decision_function(X_test), model.decision_function(X_test))
    assert restored.get_params() == model.get_params() and restored.loss_history_ == model.loss_history_
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(unpickled.decision_function(X_test), model.decision_function(X_test))
    with pytest.raises(ValueError, match="holds a"):
        (VisionTransformerClassifier if which else TorchVisionTransformerClassifier).load(tmp_path / "model")


def test_training_is_seeded_and_augmentation_keeps_shapes(fashion):
    X, y, X_test, _ = fashion
    params = dict(SMALL, max_epochs=1, augment=True)
    first = VisionTransformerClassifier(**params, random_state=3).fit(X[:300], y[:300])
    second = VisionTransformerClassifier(**params, random_state=3).fit(X[:300], y[:300])
    np.testing.assert_array_equal(first.decision_function(X_test), second.decision_function(X_test))
    torch.manual_seed(0)
    images = torch.rand(6, 1, 28, 28)
    moved = augment_images(images, max_shift=2)
    assert moved.shape == images.shape and moved.sum() <= images.sum() + 1e-4  # shifts drop pixels, add none
    assert torch.equal(augment_images(images, max_shift=0).sort(-1).values, images.sort(-1).values)  # flips only


# -- bad input -----------------------------------------------------------------------------------------
def test_unfitted_and_misshapen_input_are_refused_by_name(fitted):
    ours, _ = fitted
    with pytest.raises(NotFittedError):
        VisionTransformerClassifier().predict(np.zeros((2, 28, 28)))
    with pytest.raises(ImageShapeError, match=r"1x28x28.*got 1x27x27"):
        ours.predict(np.zeros((2, 27, 27)))
    with pytest.raises(ValueError, match="NaN"):
        ours.predict(np.full((1, 28, 28), np.nan))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(patch_size=5), "patch_size 5 does not divide image_size 28"),
        (dict(n_embd=30, n_head=4), "not divisible"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(warmup_epochs=-1), "warmup_epochs"),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(fashion, params, message):
    X, y, _, _ = fashion
    with pytest.raises(ValueError, match=message):
        VisionTransformerClassifier(**{**SMALL, **params}).fit(X[:100], y[:100])


def test_validation_refuses_images_out_of_range_or_of_the_wrong_shape(fashion):
    from pipeline.etl import build_dataset
    from pipeline.validate import validate_frame
    from s2p import catalog

    vit = catalog.get("vit")
    X, y, _, _ = fashion
    raw = pd.DataFrame({"image": list(X[:200].reshape(200, -1)), "label": y[:200]})
    frame, _ = build_dataset(raw, ["image", "label"], seed=0, test_size=0.2, size=None)
    assert validate_frame(frame, vit, vit.min_rows).passed
    bad = frame.copy()
    bad.at[0, "image"] = np.asarray(bad.at[0, "image"]) * 255  # 0-255 pixels
    bad.at[1, "image"] = np.asarray(bad.at[1, "image"]) - 0.5  # negative ink
    bad.at[2, "image"] = np.asarray(bad.at[2, "image"])[: 27 * 27]  # 27x27
    report = validate_frame(bad, vit, vit.min_rows)
    failed = {(failure.column, failure.unexpected_count) for failure in report.failures}
    assert not report.passed
    assert {("image_max", 1), ("image_min", 1), ("image_size", 1)} <= failed, report.describe()
