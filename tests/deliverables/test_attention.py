"""The ``attention`` deliverable: attention in NumPy and in torch ops against torch.nn.MultiheadAttention."""

import numpy as np
import pytest
import torch

from models.phase2.attention import model as attention
from models.phase2.torch_nets import MultiHeadAttention

RNG = np.random.default_rng(0)


def reference_attention(d_model: int, heads: int) -> torch.nn.MultiheadAttention:
    torch.manual_seed(0)
    module = torch.nn.MultiheadAttention(d_model, heads, batch_first=True).double()
    with torch.no_grad():  # torch starts the biases at zero: make them count
        module.in_proj_bias.normal_()
        module.out_proj.bias.normal_()
    return module.eval()


def numpy_params(module) -> dict:
    return {
        "in_proj_weight": module.in_proj_weight.detach().numpy(),
        "in_proj_bias": module.in_proj_bias.detach().numpy(),
        "out_proj_weight": module.out_proj.weight.detach().numpy(),
        "out_proj_bias": module.out_proj.bias.detach().numpy(),
    }


def test_scaled_dot_product_attention_equals_torchs():
    q, k, v = RNG.normal(size=(2, 5, 4)), RNG.normal(size=(2, 7, 4)), RNG.normal(size=(2, 7, 3))
    mask = RNG.random((5, 7)) < 0.3
    mask[:, 0] = False  # every query may attend somewhere
    out, weights = attention.scaled_dot_product_attention(q, k, v, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(a) for a in (q, k, v)), attn_mask=~torch.from_numpy(mask)
    )
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-10)
    np.testing.assert_allclose(weights.sum(-1), 1.0)
    assert (weights[:, mask] == 0).all()


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_numpy_multi_head_attention_equals_nn_multiheadattention(heads):
    module = reference_attention(8, heads)
    query, key = RNG.normal(size=(3, 5, 8)), RNG.normal(size=(3, 6, 8))
    expected, expected_weights = module(*(torch.from_numpy(a) for a in (query, key, key)))
    out, weights = attention.multi_head_attention(query, key, key, numpy_params(module), heads)
    np.testing.assert_allclose(out, expected.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(weights, expected_weights.detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("heads", [1, 4])
def test_our_torch_attention_loads_nn_multiheadattentions_weights_and_agrees(heads):
    module = reference_attention(8, heads)
    ours = MultiHeadAttention(8, heads).double().eval()
    ours.load_state_dict(module.state_dict())
    x = torch.from_numpy(RNG.normal(size=(2, 6, 8)))
    (out, weights), (expected, expected_weights) = ours(x, x, x), module(x, x, x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=1e-5, rtol=0)


def test_the_toy_tasks_and_a_model_that_learns_to_reverse():
    from models.phase2.attention.data import toy_sequences

    frame = toy_sequences("reverse", count=1200)
    X, y = np.stack(frame["sequence"]), np.stack(frame["answer"])
    assert (y == X[:, ::-1]).all() and (np.stack(toy_sequences("copy", 10)["answer"]) == np.stack(
        toy_sequences("copy", 10)["sequence"])).all()  # fmt: skip
    model = attention.SequenceTransformer(d_model=32, max_epochs=12, random_state=0).fit(X[:1000], y[:1000])
    assert (model.predict(X[1000:]) == y[1000:]).mean() > 0.95
    maps = model.attention_maps(X[1000:1002])
    assert maps.shape == (2, 2, 8, 8) and np.allclose(maps.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="whole token ids"):
        model.predict(X[:2] + 0.5)
