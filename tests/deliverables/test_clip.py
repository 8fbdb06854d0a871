"""clip: the shapes generator and its caption check, our contrastive loss against open_clip's ClipLoss
formula, our encoders against the torch.nn reference, the estimator (training, retrieval, refusals), the
metrics, and the `cross_modal` kind that serves it. Smoke sizes only: every test runs in seconds."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from sklearn.exceptions import NotFittedError

from models.phase3.clip import data
from models.phase3.clip.data import (
    ATTRIBUTES,
    CaptionMismatch,
    all_captions,
    caption_problems,
    check_pairs,
    generate,
    measure,
    parse_caption,
)
from models.phase3.clip.metrics import METRICS, attribute_accuracies, retrieval_ranks
from models.phase3.clip.model import CLIP, EOT, PAD, CLIPConfig, CLIPModel, contrastive_loss
from models.phase3.clip.reference import TorchCLIP, TorchCLIPModel, open_clip_loss

SMOKE = dict(width=32, n_layer=1, n_head=2, embed_dim=32, batch_size=32, max_epochs=3, learning_rate=0.001,
             device="cpu", random_state=0)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Smoke-sized networks gain nothing from more threads, and lose much to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    frame = generate(n, seed)
    return np.stack(frame["image"].to_numpy()).reshape(n, 32, 32, 3), frame["caption"].to_numpy(), frame


@pytest.fixture(scope="module")
def split():
    X, y, _ = pairs(600, seed=7)
    return X[:480], y[:480], X[480:], y[480:]


@pytest.fixture(scope="module")
def fitted(split):
    X, y, _, _ = split
    return CLIPModel(**SMOKE).fit(X, y)


# -- data -------------------------------------------------------------------------------------------


def test_the_generator_draws_every_caption_of_the_grammar_within_range():
    X, y, frame = pairs(2000, seed=1)
    assert X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
    assert set(y) == set(all_captions()) and len(all_captions()) == 180
    recorded = frame[list(ATTRIBUTES)].to_dict("records")
    assert all(parse_caption(caption) == row for caption, row in zip(y, recorded, strict=True))
    assert max(len(caption) for caption in y) <= 64  # the declared caption column's bound


def test_what_an_image_shows_is_what_the_generator_recorded():
    X, _, frame = pairs(1000, seed=3)
    assert measure(X).equals(frame[list(ATTRIBUTES)].reset_index(drop=True))
    assert caption_problems(X, frame["caption"], frame[list(ATTRIBUTES)]) == []


def test_captions_that_contradict_their_images_are_refused_naming_row_and_attribute():
    X, y, frame = pairs(50, seed=5)
    wrong = y.copy()
    row = next(i for i in range(50) if frame["colour"][i] != "red")
    wrong[row] = data.caption_of(frame["shape"][row], "red", frame["size"][row], frame["position"][row])
    wrong[3] = "a purple elephant"
    with pytest.raises(CaptionMismatch, match=rf"row {row}: .* says colour 'red' but the image shows") as refused:
        check_pairs(X, wrong)
    assert "row 3: 'a purple elephant' is not a caption" in str(refused.value)
    recorded = frame[list(ATTRIBUTES)].copy()
    recorded.loc[0, "size"] = "large" if recorded["size"][0] == "small" else "small"
    with pytest.raises(CaptionMismatch, match=r"row 0: .* but the generator recorded"):
        check_pairs(X, y, recorded)


@pytest.mark.slow
def test_the_source_checks_its_pairs_and_records_the_attributes():
    frame = data.shape_captions()
    assert len(frame) == data.ROWS and list(frame.columns) == ["image", "caption", *ATTRIBUTES]
    assert frame["image"][0].shape == (32 * 32 * 3,)


# -- the loss against open_clip's ClipLoss, as published ---------------------------------------------


def clip_loss_oracle(image_features, text_features, logit_scale):
    """open_clip.loss.ClipLoss.forward (one device): logit_scale = model.logit_scale.exp()."""
    logits_per_image = logit_scale * image_features @ text_features.T
    logits_per_text = logit_scale * text_features @ image_features.T
    labels = torch.arange(logits_per_image.shape[0])
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2


@pytest.mark.parametrize(("batch", "temperature"), [(1, 0.07), (7, 0.07), (64, 0.01), (64, 1.0)])
def test_our_loss_and_its_gradients_equal_open_clips_clip_loss(batch, temperature):
    torch.manual_seed(batch)
    image = F.normalize(torch.randn(batch, 16, dtype=torch.float64), dim=-1).requires_grad_(True)
    text = F.normalize(torch.randn(batch, 16, dtype=torch.float64), dim=-1).requires_grad_(True)
    t = torch.tensor(math.log(1 / temperature), dtype=torch.float64, requires_grad=True)
    ours = contrastive_loss(image, text, t.exp())
    expected = clip_loss_oracle(image, text, t.exp())
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(open_clip_loss(image, text, t.exp()), expected, rtol=0, atol=1e-6)
    gradients = torch.autograd.grad(ours, (image, text, t)), torch.autograd.grad(expected, (image, text, t))
    for a, b in zip(*gradients, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_the_loss_is_small_when_pairs_agree_and_log_b_when_nothing_is_known():
    features = torch.eye(8)
    assert contrastive_loss(features, features, torch.tensor(100.0)) < 1e-3
    assert math.isclose(contrastive_loss(features, features, torch.tensor(0.0)), math.log(8), rel_tol=1e-6)


# -- the networks -------------------------------------------------------------------------------------


def test_ours_and_the_reference_start_from_the_same_weights_and_compute_the_same_function():
    config = CLIPConfig(vocab_size=30, context_length=20, n_layer=2, n_head=2, width=16, embed_dim=8)
    torch.manual_seed(0)
    ours = CLIP(config)
    torch.manual_seed(0)
    reference = TorchCLIP(config)
    for (name, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters(), strict=True):
        assert torch.equal(a.flatten(), b.flatten()), name
    assert math.isclose(float(ours.scale().detach()), 1 / 0.07, rel_tol=1e-6)
    images = torch.rand(5, 3, 32, 32)
    tokens = torch.randint(2, 30, (5, 12))
    tokens[:, 9], tokens[:, 10:] = EOT, PAD
    (image_ours, text_ours), loss_ours = ours(images, tokens)
    (image_ref, text_ref), loss_ref = reference(images, tokens)
    torch.testing.assert_close(image_ours, image_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(text_ours, text_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(loss_ours, loss_ref, rtol=0, atol=1e-5)


def test_a_captions_embedding_ignores_the_padding_after_its_end():
    config = CLIPConfig(vocab_size=30, context_length=20, n_layer=1, n_head=2, width=16, embed_dim=8)
    model = CLIP(config).eval()
    tokens = torch.tensor([[5, 6, 7, EOT]])
    padded = torch.cat([tokens, torch.full((1, 6), PAD)], dim=1)
    torch.testing.assert_close(model.encode_text(tokens), model.encode_text(padded), rtol=0, atol=1e-6)


def test_the_scale_is_clamped_at_100():
    model = CLIP(CLIPConfig(n_layer=1, n_head=2, width=16, embed_dim=8))
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert float(model.scale()) == 100.0


# -- the estimator ------------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_learns_to_retrieve(fitted, split):
    _, _, X_test, y_test = split
    assert fitted.loss_history_[-1] < fitted.loss_history_[0] < math.log(SMOKE["batch_size"]) + 0.5
    assert len(fitted.temperature_history_) == SMOKE["max_epochs"]
    i2t, t2i = retrieval_ranks(fitted.encode_images(X_test), fitted.encode_texts(y_test), y_test)
    chance = 10 / len(set(y_test))
    assert np.mean(i2t < 10) > 2 * chance and np.mean(t2i < 10) > 2 * chance


def test_the_reference_takes_the_same_steps_under_the_same_loop(fitted, split):
    """The same computation: the same start, batches and steps give the same losses and temperatures over
    the whole smoke fit (45 steps; measured apart by 5e-5 at most, float32 rounding of other kernels). Over
    make run's 600 steps that rounding grows until the two are as far apart as two seeds of one model."""
    X, y, _, _ = split
    reference = TorchCLIPModel(**SMOKE).fit(X, y)
    np.testing.assert_allclose(reference.loss_history_, fitted.loss_history_, rtol=0, atol=1e-3)
    np.testing.assert_allclose(reference.temperature_history_, fitted.temperature_history_, rtol=0, atol=1e-5)
    assert reference.loss_history_[-1] < reference.loss_history_[0]


def test_retrieval_answers_k_of_the_other_kind_best_first(fitted, split):
    _, _, X_test, _ = split
    captions = fitted.retrieve_captions(X_test[:3], k=4)
    assert [len(found) for found in captions] == [4, 4, 4]
    for found in captions:
        scores = [score for _, score in found]
        assert scores == sorted(scores, reverse=True) and all(c in fitted.captions_ for c, _ in found)
    images = fitted.retrieve_images(["a small red circle at the top left"], k=5)[0]
    assert all(fitted.image_captions_[i] == caption for i, caption, _ in images)
    assert len(fitted.image_bank_) == len(fitted.image_captions_) == 480
    assert list(fitted.predict(X_test[:3])) == [found[0][0] for found in captions]


def test_texts_are_read_case_and_space_insensitively_and_unknown_characters_are_refused(fitted):
    np.testing.assert_allclose(
        fitted.encode_texts(["  A Small RED circle at the top  left "]),
        fitted.encode_texts(["a small red circle at the top left"]),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="not in the tokenizer's alphabet: '!'"):
        fitted.check_text("a red circle!")
    with pytest.raises(ValueError, match="at most 64"):
        fitted.check_text("a" * 65)
    with pytest.raises(ValueError, match="blank"):
        fitted.check_text("   ")


def test_a_fitted_model_pickles_and_answers_the_same(fitted, split):
    _, _, X_test, _ = split
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.encode_images(X_test[:4]), fitted.encode_images(X_test[:4]))


def test_an_unfitted_model_and_bad_training_pairs_are_refused(split):
    X, y, X_test, _ = split
    with pytest.raises(NotFittedError):
        CLIPModel().encode_images(X_test)
    with pytest.raises(CaptionMismatch, match="do not match their images"):
        CLIPModel(**SMOKE).fit(X[:40], np.roll(y[:40], 1))
    with pytest.raises(ValueError, match=r"finite values in \[0, 1\]"):
        CLIPModel(**SMOKE).fit(X[:40] * 2, y[:40])
    with pytest.raises(ValueError, match="one caption per image"):
        CLIPModel(**SMOKE).fit(X[:40], y[:39])
    with pytest.raises(ValueError, match=r"images must be \(n, 32, 32, 3\)"):
        CLIPModel(**SMOKE).fit(X[:40, :16], y[:40])
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        CLIPModel(**{**SMOKE, "batch_size": 1}).fit(X[:40], y[:40])


def test_the_pipelines_train_step_refuses_mismatched_pairs_and_keeps_the_last_good_model(stores):
    from pipeline.context import RunContext
    from pipeline.train import fit_reference, train_model
    from s2p import catalog
    from s2p.config import params_for

    params = params_for(stores.params_file, "clip", "smoke")
    tiny = {"width": 16, "n_layer": 1, "n_head": 2, "embed_dim": 16, "max_epochs": 1}
    params = params.model_copy(update={"model": {**params.model, **tiny}, "reference": {**params.reference, **tiny}})
    ctx = RunContext(catalog.get("clip"), params, stores)
    X, y, _ = pairs(120, seed=9)
    frame = pd.DataFrame({"entity_id": np.arange(120), "event_timestamp": pd.Timestamp("2025-01-01", tz="UTC")})
    frame = frame.assign(image=list(X.reshape(120, -1)), caption=y, split=["train"] * 100 + ["test"] * 20)
    ctx.paths.training_set.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(ctx.paths.training_set)
    train_model(ctx, progress=False)
    good = ctx.paths.model.read_bytes()
    frame["caption"] = np.roll(y, 1)
    frame.to_parquet(ctx.paths.training_set)
    with pytest.raises(CaptionMismatch, match="do not match their images"):
        train_model(ctx, progress=False)
    with pytest.raises(CaptionMismatch):
        fit_reference(ctx)
    assert ctx.paths.model.read_bytes() == good


# -- metrics ------------------------------------------------------------------------------------------


def test_retrieval_ranks_count_any_image_or_caption_that_says_the_same_as_right():
    captions = ["a", "b", "a", "c"]
    images = np.eye(4)[[0, 1, 0, 2]]  # two images of "a", identical
    texts = np.eye(4)[[0, 1, 0, 2]]
    i2t, t2i = retrieval_ranks(images, texts, captions)
    assert list(i2t) == [0, 0, 0, 0] and list(t2i) == [0, 0, 0, 0]
    i2t, t2i = retrieval_ranks(images, np.eye(4)[[1, 2, 1, 0]], captions)  # every text on another's place
    assert i2t.min() >= 1 and t2i.min() >= 1


def test_every_metric_is_a_share_and_recall_grows_with_k(fitted, split):
    _, _, X_test, y_test = split
    scores = {name: function(y_test, None, X_test, fitted) for name, (function, _) in METRICS.items()}
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    for way in ("i2t", "t2i"):
        assert scores[f"recall_at_1_{way}"] <= scores[f"recall_at_5_{way}"] <= scores[f"recall_at_10_{way}"]
    accuracies = attribute_accuracies(y_test, X_test, fitted)
    assert set(accuracies["zero_shot"]) == set(accuracies["linear_probe"]) == set(ATTRIBUTES)


# -- the cross_modal kind -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kind():
    from pipeline import kinds
    from s2p import catalog

    return kinds.kind_of(catalog.get("clip"))


IMAGE = [[[0.1, 0.2, 0.3]] * 32] * 32


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"k": 3}, "exactly one of image or text"),
        ({"image": IMAGE, "text": "a red circle"}, "exactly one of image or text"),
        ({"text": "   "}, "the text is blank"),
        ({"text": "a" * 65}, "at most 64 characters"),
        ({"text": "a red circle", "k": 0}, "greater than or equal to 1"),
        ({"text": "a red circle", "k": 51}, "less than or equal to 50"),
        ({"image": [[[0.1, 0.2, 1.5]] * 32] * 32}, "less than or equal to 1"),
        ({"image": [[[0.1, 0.2]] * 32] * 32}, "at least 3 items"),
        ({"image": IMAGE[:31]}, "at least 32 items"),
        ({"text": 5}, "valid string"),
    ],
)
def test_a_bad_request_is_refused_naming_the_problem(kind, body, problem):
    with pytest.raises(ValidationError, match=problem):
        kind.Request.model_validate(body)


def test_an_image_gets_captions_and_a_text_gets_images(kind, fitted, split):
    from serving.kinds import RequestRefused

    _, _, X_test, y_test = split
    request = kind.Request.model_validate({"image": X_test[0].tolist(), "k": 3})
    answer = kind.answer(fitted, request)
    response = kind.respond([7], answer, "1")
    assert response.query == "image" and len(response.matches) == 3 and response.matches[0].image_id is None
    assert [m.caption for m in response.matches] == [c for c, _ in fitted.retrieve_captions(X_test[:1], 3)[0]]
    request = kind.Request.model_validate({"text": y_test[0], "k": 2})
    response = kind.respond([8], kind.answer(fitted, request), "1")
    assert response.query == "text" and all(isinstance(m.image_id, int) for m in response.matches)
    with pytest.raises(RequestRefused, match=r"text: .*'#'"):
        kind.check(fitted, kind.Request.model_validate({"text": "a red # circle"}))
    assert kind.Feedback.model_validate({"id": 7, "label": True}).label is True


@pytest.mark.slow  # Evidently's report
def test_drift_descriptors_read_pairs_and_served_queries_of_either_kind(kind, fitted, split):
    from pipeline.monitor import drift_report, summarize

    X, y, _, _ = split
    reference = pd.DataFrame({"image": list(X.reshape(len(X), -1)), "caption": y})
    answers = [kind.to_json(v) for v in kind.outputs(fitted, X)]
    described = kind.describe(reference, answers)
    assert set(described["query"]) == {"image", "text"} and described["image_mean"].notna().sum() == len(X) // 2
    served = [kind.answer(fitted, kind.Request.model_validate({"text": "a large blue square in the center"}))]
    served = served * 40
    current = pd.DataFrame([answer.records[0] for answer in served])
    current_described = kind.describe(current, [answer.log_values[0] for answer in served])
    assert (current_described["image_mean"] == -1).all() and (current_described["text_chars"] == 33).all()
    descriptors = kind.descriptors()
    snapshot = drift_report(described, current_described, descriptors, 0.5)
    share, drifted, prediction_drift = summarize(snapshot.dict(), descriptors)
    assert "text_chars" in drifted and share >= 0.5 and prediction_drift
    rows = kind.model_input(reference.head(3))
    assert rows.shape == (3, 32, 32, 3) and kind.model_target(reference.head(3)).dtype.kind == "U"
