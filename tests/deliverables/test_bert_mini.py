"""bert_mini: the tokenizer's specials, BERT's masking rule on a large sample, our encoder block and networks
against Hugging Face's BertLayer / BertForMaskedLM / BertForSequenceClassification loaded with the same
weights, and the estimator (pretraining, fine-tuning, the random-init ablation, persistence, bad input)
against the reference. Smoke sizes only: every test runs in seconds on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from models.phase3.bert_mini.data import CLS, MASK, PAD, SEP, BertTokenizer, EmptyTextError, neutral_reviews
from models.phase3.bert_mini.metrics import accuracy_from_random, pretraining_gain
from models.phase3.bert_mini.model import (
    IGNORE,
    BertClassifier,
    BertMaskedLM,
    BertMiniClassifier,
    BertMiniConfig,
    EncoderBlock,
    mask_tokens,
)
from models.phase3.bert_mini.reference import (
    HuggingFaceBertClassifier,
    block_to_hugging_face,
    hugging_face_config,
    to_hugging_face,
)

SMOKE = dict(
    n_layer=1, n_head=2, n_embd=16, max_len=24, vocab_size=300, pretrain_iters=12, pretrain_batch_size=16,
    finetune_epochs=1, batch_size=32, extra_text=[], device="cpu", random_state=0,
)  # fmt: skip
CONFIG = BertMiniConfig(vocab_size=60, max_len=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Smoke-sized networks gain nothing from more threads, and lose much to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def split(reviews):
    X_train, X_test, y_train, y_test = reviews
    return X_train[:400], X_test[:100], y_train[:400], y_test[:100]


@pytest.fixture(scope="module")
def fitted(split):
    X_train, _, y_train, _ = split
    return BertMiniClassifier(**SMOKE).fit(X_train, y_train)


@pytest.fixture(scope="module")
def fitted_reference(split):
    X_train, _, y_train, _ = split
    return HuggingFaceBertClassifier(**SMOKE).fit(X_train, y_train)


def padded_ids(batch: int = 3, length: int = 10, vocab: int = 60) -> torch.Tensor:
    ids = torch.randint(4, vocab, (batch, length), generator=torch.Generator().manual_seed(1))
    ids[:, 0] = CLS
    ids[0, 6], ids[0, 7:] = SEP, PAD  # the first row is padded
    ids[1:, -1] = SEP
    return ids


# -- tokens ---------------------------------------------------------------------------------------------
def test_tokenizer_frames_each_text_with_cls_and_sep_and_pads_after():
    tokenizer = BertTokenizer(vocab_size=300).fit(["A good film.", "a bad, bad film", "good"])
    ids, lengths = tokenizer.encode_batch(["a good film", "good"], max_len=8)
    assert ids.shape == (2, 8) and ids.dtype == np.int64
    for row, length in zip(ids, lengths, strict=True):
        assert row[0] == CLS and row[length - 1] == SEP and (row[length:] == PAD).all()
        assert (row[1 : length - 1] >= BertTokenizer.n_special).all()  # no special inside a text
    assert tokenizer.decode(ids[1, : lengths[1]]) == "[CLS]good[SEP]"


def test_tokenizer_cuts_long_texts_and_lowercases():
    tokenizer = BertTokenizer(vocab_size=256).fit(["x"])  # bytes only: a token per character
    ids, lengths = tokenizer.encode_batch(["ABCDEFGHIJ"], max_len=5)
    assert lengths[0] == 5 and ids[0, -1] == SEP
    assert tokenizer.decode(ids[0]) == "[CLS]abc[SEP]"


def test_tokenizer_json_round_trip_gives_the_same_ids():
    texts = ["a gorgeously elaborate continuation", "too tepid, too long"]
    tokenizer = BertTokenizer(vocab_size=320).fit(texts * 3)
    again = BertTokenizer.from_json(tokenizer.to_json())
    assert again.n_tokens == tokenizer.n_tokens
    np.testing.assert_array_equal(again.encode_batch(texts, 32)[0], tokenizer.encode_batch(texts, 32)[0])
    with pytest.raises(ValueError, match="not a BertTokenizer"):
        BertTokenizer.from_json('{"kind": "char"}')


def test_neutral_reviews_are_the_snippets_the_sentiment_task_leaves_out():
    from s2p.sources import movie_reviews

    neutral = neutral_reviews()
    assert len(neutral) == 562  # of the 10,605 snippets, those rated within [-0.5, 0.5]
    assert not set(neutral) & set(movie_reviews()["text"])


# -- masking --------------------------------------------------------------------------------------------
def test_masking_follows_the_15_percent_and_80_10_10_rule_on_a_large_sample():
    vocab = 1000
    ids = torch.randint(4, vocab, (4000, 64), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, 40], ids[:, 50:] = CLS, SEP, PAD
    inputs, labels = mask_tokens(ids, vocab, 4, 0.15, torch.Generator().manual_seed(1))
    maskable = ids >= 4
    chosen = labels != IGNORE
    assert chosen.sum() / maskable.sum() == pytest.approx(0.15, abs=0.003)  # 194,000 maskable tokens
    kept = inputs[chosen] == ids[chosen]
    masked = inputs[chosen] == MASK
    replaced = ~kept & ~masked
    assert masked.float().mean() == pytest.approx(0.8, abs=0.005)
    assert replaced.float().mean() == pytest.approx(0.1 * (1 - 1 / (vocab - 4)), abs=0.005)
    assert kept.float().mean() == pytest.approx(0.1, abs=0.005)
    assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(inputs[~chosen], ids[~chosen])


def test_specials_are_never_masked_nor_drawn_as_replacements():
    ids = padded_ids(batch=500, length=20)
    inputs, labels = mask_tokens(ids, 60, 4, 0.5, torch.Generator().manual_seed(2))
    special = ids < 4
    assert (labels[special] == IGNORE).all() and torch.equal(inputs[special], ids[special])
    replaced = (labels != IGNORE) & (inputs != MASK) & (inputs != ids)
    assert replaced.any() and (inputs[replaced] >= 4).all()


def test_masking_chooses_at_least_one_token_so_the_loss_is_defined():
    ids = padded_ids(batch=1, length=8)
    _, labels = mask_tokens(ids, 60, 4, 1e-9, torch.Generator().manual_seed(0))
    assert (labels != IGNORE).sum() == 1


# -- the network against Hugging Face -------------------------------------------------------------------
def test_our_encoder_block_equals_hugging_faces_bert_layer_with_the_same_weights():
    from transformers.models.bert.modeling_bert import BertLayer

    torch.manual_seed(0)
    block = EncoderBlock(CONFIG).eval()
    for parameter in block.parameters():  # not the identity layer norms of a fresh block
        torch.nn.init.normal_(parameter, std=0.3)
    theirs = BertLayer(hugging_face_config(CONFIG)).eval()
    theirs.load_state_dict(block_to_hugging_face(block.state_dict()))
    x = torch.randn(3, 10, CONFIG.n_embd)
    keys = padded_ids() != PAD  # (3, 10)
    additive = torch.zeros(3, 1, 1, 10).masked_fill(~keys[:, None, None, :], torch.finfo(torch.float32).min)
    with torch.no_grad():
        torch.testing.assert_close(block(x, keys), theirs(x, attention_mask=additive), rtol=0, atol=1e-5)
        torch.testing.assert_close(block(x), theirs(x), rtol=0, atol=1e-5)


def test_masked_lm_and_classifier_equal_hugging_faces_with_the_same_weights():
    from transformers import BertForMaskedLM, BertForSequenceClassification

    ids = padded_ids()
    keys = ids != PAD
    for ours, theirs in (
        (BertMaskedLM(CONFIG), BertForMaskedLM),
        (BertClassifier(CONFIG), BertForSequenceClassification),
    ):
        ours.eval()
        theirs = theirs(hugging_face_config(CONFIG)).eval()
        theirs.load_state_dict(to_hugging_face(ours.state_dict(), CONFIG.n_layer), strict=False)
        with torch.no_grad():
            expected = theirs(input_ids=ids, attention_mask=keys.long()).logits
            logits, _ = ours(ids)
        if logits.dim() == 3:  # the masked LM: every position a query can see
            logits, expected = logits[keys], expected[keys]
        torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)


def test_masked_lm_loss_on_the_chosen_positions_equals_hugging_faces_over_all_positions():
    from transformers import BertForMaskedLM

    ours = BertMaskedLM(CONFIG).eval()
    theirs = BertForMaskedLM(hugging_face_config(CONFIG)).eval()
    theirs.load_state_dict(to_hugging_face(ours.state_dict(), CONFIG.n_layer), strict=False)
    inputs, labels = mask_tokens(padded_ids(), CONFIG.vocab_size, 4, 0.3, torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits, loss = ours(inputs, labels)
        expected = theirs(input_ids=inputs, attention_mask=(inputs != PAD).long(), labels=labels).loss
    assert logits.shape == ((labels != IGNORE).sum(), CONFIG.vocab_size)
    torch.testing.assert_close(loss, expected, rtol=0, atol=1e-5)


def test_read_out_is_tied_to_the_token_embedding_and_pad_embedding_is_zero():
    model = BertMaskedLM(CONFIG)
    assert model.head.embedding.weight is model.encoder.wte.weight
    assert not model.encoder.wte.weight[PAD].any()
    n_matrices = sum(1 for p in model.parameters() if p.dim() == 2)
    assert n_matrices == 3 + CONFIG.n_layer * 4 + 1  # embeddings, per block qkv/proj/fc/proj, head dense


def test_too_long_an_input_is_refused():
    with pytest.raises(ValueError, match="exceed max_len"):
        BertClassifier(CONFIG)(torch.full((1, CONFIG.max_len + 1), 5))


# -- the estimator --------------------------------------------------------------------------------------
def test_fit_pretrains_then_fine_tunes_and_predicts_probabilities(fitted, split):
    _, X_test, _, _ = split
    assert len(fitted.pretrain_loss_history_) == SMOKE["pretrain_iters"]
    assert fitted.pretrain_loss_history_[0] == pytest.approx(np.log(fitted.config_.vocab_size), abs=0.3)
    assert np.mean(fitted.pretrain_loss_history_[-3:]) < fitted.pretrain_loss_history_[0]
    assert len(fitted.loss_history_) == SMOKE["finetune_epochs"]
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert set(fitted.predict(X_test)) <= set(fitted.classes_)
    assert fitted.predict(X_test, random_init=True).shape == (len(X_test),)


def test_the_reference_follows_the_same_trajectory(fitted, fitted_reference):
    """Same initial weights, masks, batches and dropout draws: only the implementation differs."""
    np.testing.assert_allclose(fitted.pretrain_loss_history_, fitted_reference.pretrain_loss_history_, atol=1e-4)
    np.testing.assert_allclose(fitted.finetune_loss_history_, fitted_reference.finetune_loss_history_, atol=1e-3)


def test_fine_tuning_starts_from_the_pretrained_encoder(split):
    X_train, _, y_train, _ = split
    pretrained = BertMiniClassifier(**{**SMOKE, "pretrain_iters": 0, "finetune_epochs": 1}).fit(X_train, y_train)
    # without pretraining the two fine-tunings start from the same random encoder: the same run twice
    assert pretrained.finetune_loss_history_ == pretrained.random_init_loss_history_


def test_metrics_score_the_random_init_classifier(fitted, split):
    _, X_test, _, y_test = split
    y_pred = fitted.predict(X_test)
    from_random = accuracy_from_random(y_test, y_pred, X_test, fitted)
    assert from_random == pytest.approx(np.mean(fitted.predict(X_test, random_init=True) == y_test))
    assert pretraining_gain(y_test, y_pred, X_test, fitted) == pytest.approx(np.mean(y_pred == y_test) - from_random)


@pytest.mark.parametrize("estimator", ["fitted", "fitted_reference"])
def test_save_and_load_give_identical_logits(estimator, split, tmp_path, request):
    model = request.getfixturevalue(estimator)
    _, X_test, _, _ = split
    loaded = type(model).load(model.save(tmp_path / estimator))
    np.testing.assert_array_equal(loaded.logits(X_test), model.logits(X_test))
    np.testing.assert_array_equal(loaded.logits(X_test, random_init=True), model.logits(X_test, random_init=True))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.pretrain_loss_history_ == model.pretrain_loss_history_


def test_load_refuses_another_estimators_directory(fitted, tmp_path):
    with pytest.raises(ValueError, match="not a HuggingFaceBertClassifier"):
        HuggingFaceBertClassifier.load(fitted.save(tmp_path / "ours"))


# -- bad input ------------------------------------------------------------------------------------------
def test_unfitted_model_refuses_to_predict():
    with pytest.raises(NotFittedError):
        BertMiniClassifier().predict(np.array([["a fine film"]], dtype=object))


def test_empty_sentences_are_refused_by_name(split):
    X_train, _, y_train, _ = split
    X = X_train.copy()
    X[3, 0] = "   "
    with pytest.raises(EmptyTextError, match="empty sentence"):
        BertMiniClassifier(**SMOKE).fit(X, y_train)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pretrain_iters": -1}, "pretrain_iters"),
        ({"max_len": 2}, "max_len"),
        ({"mask_probability": 0.0}, "mask_probability"),
        ({"n_embd": 18, "n_head": 4}, "not divisible"),
        ({"extra_text": ["text9"]}, "unknown extra_text"),
        ({"extra_text": "shakespeare"}, "list of corpus names"),
        ({"learning_rate": 0}, "learning_rate"),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(change, message, split):
    X_train, _, y_train, _ = split
    with pytest.raises(ValueError, match=message):
        BertMiniClassifier(**{**SMOKE, **change}).fit(X_train, y_train)


def test_bad_rows_are_refused(split):
    X_train, _, y_train, _ = split
    with pytest.raises(ValueError, match="single class"):
        BertMiniClassifier(**SMOKE).fit(X_train, np.zeros(len(X_train), dtype=int))
    with pytest.raises(ValueError, match="rows but y has"):
        BertMiniClassifier(**SMOKE).fit(X_train, y_train[:-1])
    with pytest.raises(ValueError, match="not text"):
        BertMiniClassifier(**SMOKE).fit(np.array([[1.0], [2.0]], dtype=object), [0, 1])
