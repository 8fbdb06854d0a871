"""The ``rnn`` deliverable: the NumPy recurrent cells and the character language model against torch (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.phase2.rnn import model as rnn

RNG = np.random.default_rng(0)

TORCH_CELLS = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}


@pytest.mark.parametrize("kind", rnn.CELLS)
def test_cell_forward_and_backward_equal_torchs_cell(kind):
    n_in, hidden, rows = 5, 4, 3
    p = rnn.init_cell(kind, n_in, hidden, RNG)
    cell = TORCH_CELLS[kind](n_in, hidden).double()
    with torch.no_grad():
        for name, parameter in cell.named_parameters():
            parameter.copy_(torch.from_numpy(p[name]))
    x = RNG.normal(size=(rows, n_in))
    state = tuple(RNG.normal(size=(rows, hidden)) for _ in range(2 if kind == "lstm" else 1))
    tx = torch.tensor(x, requires_grad=True)
    tstate = tuple(torch.tensor(s, requires_grad=True) for s in state)
    out = cell(tx, tstate if kind == "lstm" else tstate[0])
    out = out if kind == "lstm" else (out,)
    upstream = tuple(RNG.normal(size=(rows, hidden)) for _ in out)
    sum((o * torch.from_numpy(u)).sum() for o, u in zip(out, upstream, strict=True)).backward()

    x_proj = x @ p["weight_ih"].T + p["bias_ih"]
    new_state, cache = rnn.cell_forward(kind, p, x_proj, state)
    for ours, theirs in zip(new_state, out, strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-6)
    grads = {"weight_hh": np.zeros_like(p["weight_hh"]), "bias_hh": np.zeros_like(p["bias_hh"])}
    d_x_proj, d_prev = rnn.cell_backward(kind, p, upstream, cache, grads)
    np.testing.assert_allclose(d_x_proj @ p["weight_ih"], tx.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(d_x_proj.T @ x, cell.weight_ih.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(d_x_proj.sum(0), cell.bias_ih.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(grads["weight_hh"], cell.weight_hh.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(grads["bias_hh"], cell.bias_hh.grad.numpy(), atol=1e-6)
    for ours, theirs in zip(d_prev, tstate, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("kind", rnn.CELLS)
def test_truncated_bptt_over_a_chunk_equals_autograd(kind):
    """The whole chunk: teacher-forced loss and every gradient, against nn.RNN/GRU/LSTM + Linear."""
    texts = ["the cat sat on the mat", "a dog ate the bone"]
    model = rnn.CharLanguageModel(cell=kind, hidden=6, batch_size=2, random_state=0)
    model._init_state(np.array(texts, dtype=object)[:, None], None)
    streams = model._streams(np.array(texts, dtype=object)[:, None])
    inputs, targets = streams[:, :7], streams[:, 1:8]
    state = tuple(RNG.normal(size=(2, 6)) * 0.5 for _ in range(2 if kind == "lstm" else 1))
    loss, grads, _ = model.chunk_loss_and_grads(inputs, targets, state)

    V = len(model.vocabulary_)
    recurrent = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](V, 6, batch_first=True)
    recurrent = recurrent.double()
    out = torch.nn.Linear(6, V).double()
    with torch.no_grad():
        for name, parameter in recurrent.named_parameters():
            parameter.copy_(torch.from_numpy(model.params_[name.removesuffix("_l0")]))
        out.weight.copy_(torch.from_numpy(model.params_["weight_out"]))
        out.bias.copy_(torch.from_numpy(model.params_["bias_out"]))
    start = tuple(torch.from_numpy(s)[None] for s in state)
    hs, _ = recurrent(F.one_hot(torch.from_numpy(inputs), V).double(), start if kind == "lstm" else start[0])
    expected = F.cross_entropy(out(hs).reshape(-1, V), torch.from_numpy(targets).reshape(-1))
    expected.backward()
    assert loss == pytest.approx(expected.item(), abs=1e-10)
    for name, parameter in recurrent.named_parameters():
        np.testing.assert_allclose(grads[name.removesuffix("_l0")], parameter.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(grads["weight_out"], out.weight.grad.numpy(), atol=1e-6)


def test_language_model_learns_generates_and_scores_held_out_text():
    from s2p.sources import movie_reviews

    texts = movie_reviews()["text"].sample(700, random_state=0).tolist()
    X = np.array(texts, dtype=object)[:, None]
    untrained = rnn.CharLanguageModel(hidden=32, max_epochs=0, random_state=0).fit(X[:600], None)
    model = rnn.CharLanguageModel(cell="gru", hidden=32, max_epochs=2, random_state=0).fit(X[:600], None)
    assert model.loss_history_[-1] < model.loss_history_[0]
    assert model.perplexity(X[600:]) < 0.5 * untrained.perplexity(X[600:])  # chance is the vocabulary size
    first, second = model.predict(np.array([["The film"], ["The film"]], dtype=object))
    assert first == second and len(first) <= model.generate_chars and "\n" not in first
    with pytest.raises(ValueError, match="reads texts"):
        model.predict(np.array([[1.0]], dtype=object))
