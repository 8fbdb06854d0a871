"""The ``transformer`` deliverable: the NumPy encoder block and its hand-written backward against torch
autograd (float64, 1e-6), our torch-ops block against nn.TransformerEncoderLayer (1e-5), the sentence
classifier's gradients, training, attention answers and bad input."""

import json
import pickle

import numpy as np
import pytest
import torch

from models.phase3.transformer import block as numpy_block
from models.phase3.transformer.data import CLS, PAD, EmptySentenceError, WordVocabulary
from models.phase3.transformer.model import TorchTransformerClassifier, TransformerClassifier
from models.phase3.transformer.reference import ReferenceTransformerClassifier
from models.phase3.transformer.torch_block import EncoderBlock, SentenceNet, TransformerConfig, torch_block

RNG = np.random.default_rng(0)
E, HEADS, FF = 8, 2, 12
SENTENCES = [
    "a gripping, beautifully acted film",
    "dull and far too long",
    "the best movie of the year",
    "i hated every minute of it",
    "funny, warm and smart",
    "a boring mess with no story",
]
LABELS = np.array([1, 0, 1, 0, 1, 0])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small networks gain nothing from more threads, and lose much to a busy machine."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(threads)


def torch_layer(norm_first: bool, dtype=torch.float64) -> torch.nn.TransformerEncoderLayer:
    """nn.TransformerEncoderLayer as ours is configured, with non-trivial biases and norms."""
    torch.manual_seed(0)
    layer = torch_block(TransformerConfig(vocab_size=1, d_model=E, n_head=HEADS, d_ff=FF, norm_first=norm_first))
    with torch.no_grad():
        for name, parameter in layer.named_parameters():
            if parameter.dim() == 1:
                parameter.normal_(1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") else 0.0, 0.3)
    return layer.to(dtype)


def padding_mask(lengths, length: int) -> np.ndarray:
    return np.arange(length)[None, :] >= np.asarray(lengths)[:, None]  # True at padding


# -- the NumPy block against torch autograd (float64) -------------------------------------------------
def test_sinusoidal_positions_follow_the_papers_formula():
    table = numpy_block.sinusoidal_positions(7, 6)
    for pos in range(7):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert table[pos, 2 * i] == pytest.approx(np.sin(angle), abs=1e-12)
            assert table[pos, 2 * i + 1] == pytest.approx(np.cos(angle), abs=1e-12)
    with pytest.raises(ValueError, match="even d_model"):
        numpy_block.sinusoidal_positions(4, 5)


def test_numpy_block_starts_from_the_distributions_of_torchs_layer():
    ours = numpy_block.init_block(64, 4, 256, np.random.default_rng(0))
    torch.manual_seed(0)
    theirs = torch_block(TransformerConfig(vocab_size=1, d_model=64, n_head=4, d_ff=256)).state_dict()
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        value = value.double().numpy()
        assert ours[name].shape == value.shape, name
        assert ours[name].std() == pytest.approx(value.std(), rel=0.25, abs=1e-12), name
        assert np.abs(ours[name]).max() <= np.abs(value).max() * 1.05 + 1e-12, name


def test_layer_norm_forward_and_backward_equal_torch():
    x, gamma, beta = RNG.normal(size=(3, 4, E)), RNG.normal(size=E), RNG.normal(size=E)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    expected = torch.nn.functional.layer_norm(tensors[0], (E,), tensors[1], tensors[2], eps=1e-5)
    upstream = RNG.normal(size=x.shape)
    (expected * torch.from_numpy(upstream)).sum().backward()
    y, cache = numpy_block.layer_norm_forward(x, gamma, beta)
    np.testing.assert_allclose(y, expected.detach().numpy(), atol=1e-10)
    for ours, tensor in zip(numpy_block.layer_norm_backward(upstream, cache, gamma), tensors, strict=True):
        np.testing.assert_allclose(ours, tensor.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("padded", [False, True])
def test_self_attention_and_each_heads_weights_equal_nn_multiheadattention(padded):
    layer = torch_layer(norm_first=False)
    attention = layer.self_attn
    x = RNG.normal(size=(3, 5, E))
    padding = padding_mask([5, 3, 1] if padded else [5, 5, 5], 5)
    tx = torch.tensor(x, requires_grad=True)
    expected, weights = attention(tx, tx, tx, key_padding_mask=torch.from_numpy(padding) if padded else None,
                                  average_attn_weights=False)  # fmt: skip
    upstream = RNG.normal(size=x.shape)
    (expected * torch.from_numpy(upstream)).sum().backward()
    params = {name: p.detach().numpy() for name, p in attention.named_parameters()}
    out, cache = numpy_block.self_attention_forward(params, x, HEADS, padding if padded else None)
    np.testing.assert_allclose(out, expected.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(cache["weights"], weights.detach().numpy(), atol=1e-6)
    dx, grads = numpy_block.self_attention_backward(params, upstream, cache)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-6)
    for name, parameter in attention.named_parameters():
        np.testing.assert_allclose(grads[name], parameter.grad.numpy(), atol=1e-6, err_msg=name)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("padded", [False, True], ids=["full", "padded"])
def test_numpy_block_forward_and_every_gradient_equal_torch_autograd(norm_first, padded):
    """nn.TransformerEncoderLayer in float64 (training mode: autograd, no fast path), same weights."""
    layer = torch_layer(norm_first)
    x = RNG.normal(size=(3, 6, E))
    padding = padding_mask([6, 4, 2] if padded else [6, 6, 6], 6)
    tx = torch.tensor(x, requires_grad=True)
    expected = layer(tx, src_key_padding_mask=torch.from_numpy(padding) if padded else None)
    upstream = RNG.normal(size=x.shape)
    (expected * torch.from_numpy(upstream)).sum().backward()

    params = {name: p.detach().numpy().copy() for name, p in layer.state_dict().items()}
    y, cache = numpy_block.encoder_block_forward(params, x, HEADS, padding if padded else None, norm_first)
    np.testing.assert_allclose(y, expected.detach().numpy(), atol=1e-6)
    dx, grads = numpy_block.encoder_block_backward(params, upstream, cache)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-6)
    assert set(grads) == {name for name, _ in layer.named_parameters()}
    for name, parameter in layer.named_parameters():
        np.testing.assert_allclose(grads[name], parameter.grad.numpy(), atol=1e-6, err_msg=name)


def test_numpy_attention_equals_the_phase2_scaled_dot_product_attention():
    """block.py's in-place attention is the Phase 2 deliverable's equation, padding included, in either dtype."""
    from models.phase2.attention.model import scaled_dot_product_attention

    q, k, v = RNG.normal(size=(3, 3, 2, 5, 4))  # 3 x (batch, heads, T, d)
    padding = padding_mask([5, 3, 1], 5)
    expected, expected_weights = scaled_dot_product_attention(q, k, v, padding[:, None, None, :])
    out, weights = numpy_block.attention_forward(q, k, v, numpy_block.padding_bias(padding, q.dtype))
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-12)
    q32, k32, v32 = (a.astype(np.float32) for a in (q, k, v))
    out32, weights32 = numpy_block.attention_forward(q32, k32, v32, numpy_block.padding_bias(padding, np.float32))
    assert out32.dtype == weights32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, atol=1e-5)


# -- our torch-ops block against nn.TransformerEncoderLayer (float32, 1e-5) ---------------------------
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_torch_ops_block_equals_nn_transformer_encoder_layer_with_the_same_weights(norm_first):
    reference = torch_layer(norm_first, torch.float32)
    ours = EncoderBlock(E, HEADS, FF, norm_first)
    ours.load_state_dict(reference.state_dict())
    x = torch.from_numpy(RNG.normal(size=(4, 7, E))).float()
    padding = torch.from_numpy(padding_mask([7, 5, 3, 1], 7))
    for mask in (None, padding):
        x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
        out, expected = ours(x_ours, mask), reference(x_ref, src_key_padding_mask=mask)  # training mode
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
        upstream = torch.randn_like(out)
        (out * upstream).sum().backward()
        (expected * upstream).sum().backward()
        torch.testing.assert_close(x_ours.grad, x_ref.grad, atol=1e-5, rtol=0)
        for (name, mine), theirs in zip(ours.named_parameters(), reference.parameters(), strict=True):
            torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-5, rtol=0, msg=name)
            mine.grad = theirs.grad = None
    ours.eval(), reference.eval()
    with torch.inference_mode():  # torch's inference fast path (nested tensors: padded rows come back zero)
        out, expected = ours(x, padding), reference(x, src_key_padding_mask=padding)
    real = ~padding
    torch.testing.assert_close(out[real], expected[real], atol=1e-5, rtol=0)


# -- the classifier -------------------------------------------------------------------------------------
def small_model(cls=TransformerClassifier, **settings):
    base = {"d_model": E, "n_head": HEADS, "d_ff": FF, "min_df": 1, "max_epochs": 1, "random_state": 0}
    return cls(**(base | settings))


@pytest.mark.parametrize("block", ["ours", "torch"])
@pytest.mark.parametrize(("norm_first", "pooling"), [(False, "mean"), (True, "cls"), (False, "cls"), (True, "mean")])
def test_classifier_loss_and_every_gradient_equal_torch_autograd(norm_first, pooling, block):
    """Embedding, positions, two blocks, pooling over real tokens and head: the NumPy network's loss and
    gradients against SentenceNet's autograd in float64 with its weights, our torch-ops block and torch's."""
    model = small_model(n_layer=2, norm_first=norm_first, pooling=pooling, dtype="float64")
    X = np.array(SENTENCES, dtype=object)[:, None]
    model._init_state(X, LABELS)
    ids, _ = model.vocabulary_.encode(SENTENCES, model.max_len)
    assert (ids[:, 0] == CLS).all() and (ids == PAD).any()
    loss, grads = model.loss_and_grads(ids, LABELS)

    config = TransformerConfig(len(model.vocabulary_), 2, model.max_len, E, HEADS, FF, 2, norm_first, pooling)
    net = SentenceNet(config, block).double()
    net.positions = torch.from_numpy(numpy_block.sinusoidal_positions(model.max_len, E))  # float64, as ours
    net.load_state_dict({name: torch.from_numpy(value) for name, value in model.params_.items()})
    _, expected = net(torch.from_numpy(ids), torch.from_numpy(LABELS))
    expected.backward()
    assert loss == pytest.approx(expected.item(), abs=1e-10)
    assert set(grads) == {name for name, _ in net.named_parameters()}
    for name, parameter in net.named_parameters():
        np.testing.assert_allclose(grads[name], parameter.grad.numpy(), atol=1e-6, err_msg=name)


def test_the_classifier_trains_in_float32_with_the_gradients_of_float64():
    """The default dtype: parameters and gradients stay float32 through training (no silent upcast), and
    one batch's loss and gradients equal float64's from the same weights to float32's precision."""
    X = np.array(SENTENCES, dtype=object)[:, None]
    model = small_model(n_layer=2, max_epochs=2).fit(X, LABELS)
    assert {p.dtype for p in model.params_.values()} == {np.dtype(np.float32)}
    twin = small_model(n_layer=2, dtype="float64")
    twin._init_state(X, LABELS)
    twin.params_ = {name: value.astype(np.float64) for name, value in model.params_.items()}
    ids, _ = model.vocabulary_.encode(SENTENCES, model.max_len)
    (loss, grads), (loss64, grads64) = model.loss_and_grads(ids, LABELS), twin.loss_and_grads(ids, LABELS)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    assert loss == pytest.approx(loss64, rel=1e-6)
    for name, expected in grads64.items():
        np.testing.assert_allclose(grads[name], expected, rtol=1e-4, atol=1e-6, err_msg=name)


def test_torch_ops_classifier_and_reference_start_alike_and_train_alike():
    """One seed: our torch-ops network and the one of nn.TransformerEncoderLayer draw the same initial
    weights in the same order, and the same loop trains them to the same probabilities."""
    X = np.array(SENTENCES * 8, dtype=object)[:, None]
    y = np.tile(LABELS, 8)
    ours = small_model(TorchTransformerClassifier, max_epochs=3, batch_size=8).fit(X, y)
    theirs = small_model(ReferenceTransformerClassifier, max_epochs=3, batch_size=8).fit(X, y)
    np.testing.assert_allclose(ours.loss_history_, theirs.loss_history_, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)


@pytest.mark.slow
def test_numpy_classifier_learns_the_review_sentiment(reviews):
    X_train, X_test, y_train, y_test = reviews
    model = TransformerClassifier(d_model=32, n_head=2, d_ff=64, learning_rate=0.003, max_epochs=4, random_state=0)
    model.fit(X_train, y_train)
    assert model.loss_history_[-1] < model.loss_history_[0]
    accuracy = (model.predict(X_test) == y_test).mean()
    assert accuracy > 0.6, accuracy  # 0.644 measured; chance is 0.5; on all 8,000 training sentences 0.75
    probabilities = model.predict_proba(X_test)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_the_vocabulary_reads_the_projects_tokenizer_and_reserves_ids():
    vocabulary = WordVocabulary(["The film, the FILM!", "a film"], min_df=2)
    assert vocabulary.words == ["[PAD]", "[UNK]", "[CLS]", "film"]  # "the" in one sentence only; "a" too short
    ids, lengths = vocabulary.encode(["film the film", "?!"], max_len=3)
    assert ids.tolist() == [[CLS, 3, 1], [CLS, PAD, PAD]] and lengths.tolist() == [3, 1]
    assert vocabulary.tokens("Film the film", 3) == ["[CLS]", "film", "the"]


# -- the attention answer -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [TransformerClassifier, TorchTransformerClassifier, ReferenceTransformerClassifier])
def test_attention_answers_each_heads_weights_over_the_words(cls):
    model = small_model(cls, n_layer=2).fit(np.array(SENTENCES, dtype=object)[:, None], LABELS)
    answer = model.attention("A gripping film, and far too long")
    assert answer["tokens"] == ["[CLS]", "gripping", "film", "and", "far", "too", "long"]
    weights = np.array(answer["weights"])
    assert weights.shape == (HEADS, 7, 7)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    assert json.loads(json.dumps(answer)) == answer  # plain lists: what an endpoint returns
    first = np.array(model.attention("A gripping film, and far too long", layer=0)["weights"])
    assert not np.allclose(first, weights)
    with pytest.raises(ValueError, match="layer must lie in"):
        model.attention("a film", layer=2)
    with pytest.raises(EmptySentenceError, match="empty sentence"):
        model.attention("   ")
    with pytest.raises(EmptySentenceError, match="no words"):
        model.attention("?!")


def test_numpy_and_torch_attention_agree_with_the_same_weights():
    model = small_model(n_layer=2).fit(np.array(SENTENCES, dtype=object)[:, None], LABELS)
    twin = small_model(TorchTransformerClassifier, n_layer=2, max_epochs=0)
    twin.fit(np.array(SENTENCES, dtype=object)[:, None], LABELS)
    twin.module_.load_state_dict({name: torch.from_numpy(value).float() for name, value in model.params_.items()})
    ours, theirs = model.attention("the best film of the year"), twin.attention("the best film of the year")
    assert ours["tokens"] == theirs["tokens"]
    np.testing.assert_allclose(ours["weights"], theirs["weights"], atol=1e-5)
    np.testing.assert_allclose(
        model.predict_proba(np.array(SENTENCES)), twin.predict_proba(np.array(SENTENCES)), atol=1e-5
    )


def test_attention_heads_plot_draws_each_head_of_both_models():
    from models.phase3.transformer.plots import attention_heads, sample_sentence
    from pipeline.plots import PlotData
    from s2p import catalog

    X = np.array(SENTENCES, dtype=object)[:, None]
    models = {
        "ours": small_model().fit(X, LABELS),
        "reference": small_model(ReferenceTransformerClassifier).fit(X, LABELS),
    }
    data = PlotData(catalog.get("transformer"), X, LABELS, X, LABELS, models, {}, [], 0)
    assert sample_sentence(X, 6, 6) == "the best movie of the year"
    figure, table = attention_heads(data)
    assert table is None and len(figure.axes) == 2 * HEADS
    assert "transformer" in {d.id for d in catalog.deliverables()}


# -- bad input ----------------------------------------------------------------------------------------------
def test_bad_input_is_refused_by_name():
    from sklearn.exceptions import NotFittedError

    X = np.array(SENTENCES, dtype=object)[:, None]
    for cls in (TransformerClassifier, TorchTransformerClassifier, ReferenceTransformerClassifier):
        with pytest.raises(NotFittedError):
            cls().predict(X)
    with pytest.raises(NotFittedError):
        TransformerClassifier().attention("a film")
    with pytest.raises(EmptySentenceError, match=r"row\(s\) \[1\]"):
        small_model().fit(np.array(["a film", " \t"], dtype=object)[:, None], [0, 1])
    with pytest.raises(ValueError, match="single class"):
        small_model().fit(X, np.ones(len(X)))
    with pytest.raises(ValueError, match="dtype must be one of"):
        small_model(dtype="float16").fit(X, LABELS)
    with pytest.raises(ValueError, match="divisible by n_head"):
        small_model(d_model=6, n_head=4).fit(X, LABELS)
    with pytest.raises(ValueError, match="not text"):
        small_model().fit(np.array([[1.0], [2.0]]), [0, 1])
    model = small_model().fit(X, LABELS)
    with pytest.raises(EmptySentenceError):
        model.predict(np.array([""], dtype=object))
    with pytest.raises(ValueError, match="must be a string"):
        model.attention(["a film"])


def good_reviews():
    from s2p.sources import movie_reviews

    return movie_reviews().head(200)


def reviews_with_an_empty_sentence():
    frame = good_reviews()
    frame.loc[frame.index[3], "text"] = ""
    return frame


def test_an_empty_sentence_stops_at_validation_and_the_last_good_data_stays(stores):
    """The declared column (text of 1..2000 characters) refuses it before anything trains."""
    import dataclasses

    from pipeline.context import make_context
    from pipeline.etl import run_etl
    from pipeline.validate import ValidationFailed, run_validate
    from s2p import catalog
    from s2p.config import params_for

    here = "tests.deliverables.test_transformer"
    declared = dataclasses.replace(catalog.get("transformer"), source=f"{here}:good_reviews")
    ctx = make_context(declared, params_for(stores.params_file, "transformer", "smoke"), stores)
    run_etl(ctx)
    assert run_validate(ctx).passed
    good = ctx.paths.dataset.read_bytes()
    ctx = dataclasses.replace(
        ctx, deliverable=dataclasses.replace(declared, source=f"{here}:reviews_with_an_empty_sentence")
    )
    run_etl(ctx)
    with pytest.raises(ValidationFailed) as stopped:
        run_validate(ctx)
    failures = [(f.expectation, f.column) for f in stopped.value.report.failures]
    assert failures == [("expect_column_value_lengths_to_be_between", "text")], stopped.value.report.describe()
    assert ctx.paths.dataset.read_bytes() == good


def test_a_fitted_model_pickles_small_and_answers_the_same():
    X = np.array(SENTENCES, dtype=object)[:, None]
    model = small_model().fit(X, LABELS)
    model.predict_proba(X)
    blob = pickle.dumps(model)
    assert len(blob) < 50_000  # parameters and vocabulary, no activations cached from the last batch
    np.testing.assert_array_equal(pickle.loads(blob).predict_proba(X), model.predict_proba(X))
