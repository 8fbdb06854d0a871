"""seq2seq: the generated tasks, the tokenizer and the denoising noise; cross-attention, incremental decoding
and beam search against their oracles (torch's scaled_dot_product_attention and nn.MultiheadAttention, full
recomputation, greedy decoding); our network against nn.Transformer with the same weights; the estimator
(training, resuming, persistence, bad input) and its answer kind. Smoke sizes: every test runs in seconds."""

from __future__ import annotations

import pickle
from datetime import date

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError

from models.phase3.seq2seq.data import (
    BOS,
    CONTEXT,
    EOS,
    MASK,
    MONTHS,
    PAD,
    TASKS,
    EmptySourceError,
    Seq2SeqTokenizer,
    SourceTooLongError,
    TargetTooLongError,
    UnknownCharacterError,
    corrupt,
    generate_tasks,
    task_of,
)
from models.phase3.seq2seq.metrics import METRICS, exact_match
from models.phase3.seq2seq.model import (
    Attention,
    Seq2SeqConfig,
    Seq2SeqNetwork,
    Seq2SeqTransformer,
    beam_search,
    greedy_decode,
    padded_attention,
)
from models.phase3.seq2seq.reference import TorchSeq2SeqNetwork, TorchTransformerSeq2Seq

#: A date-formatting model small enough to train in a few seconds, trained until it is right (the fixture).
SMOKE = dict(
    encoder_layers=1, decoder_layers=1, n_head=2, n_embd=32, block_size=24, batch_size=32, max_epochs=8,
    pretrain_epochs=1, learning_rate=3e-3, warmup_steps=20, device="cpu", random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Smoke-sized networks gain nothing from more threads, and lose much to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def split(frame: pd.DataFrame, n_train: int):
    X, y = frame[["source"]].to_numpy(dtype=object), frame["target"].to_numpy(dtype=object)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


@pytest.fixture(scope="module")
def dates():
    return split(generate_tasks(2300, seed=1, tasks=("date",)), 2000)


@pytest.fixture(scope="module")
def trained(dates):
    X, y, _, _ = dates
    return Seq2SeqTransformer(**SMOKE).fit(X, y)


def tiny_network(cls=Seq2SeqNetwork, seed: int = 0, **sizes) -> nn.Module:
    config = Seq2SeqConfig(**{"vocab_size": 19, "block_size": 12, "n_head": 2, "n_embd": 16, **sizes})
    torch.manual_seed(seed)
    return cls(config).eval()


def batch(seed: int = 0, rows: int = 3, source: int = 10, target: int = 8):
    """Sources with padding at the right of some rows, and start-led target prefixes."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(4, 19, (rows, source), generator=generator)
    src[1, source - 4 :] = PAD
    src[2, source - 1 :] = PAD
    tgt = torch.randint(4, 19, (rows, target), generator=generator)
    tgt[:, 0] = BOS
    return src, tgt


# -- data ----------------------------------------------------------------------------------------------
def test_generated_tasks_are_seeded_correct_and_fit_the_context():
    frame = generate_tasks(3000, seed=3)
    assert frame.equals(generate_tasks(3000, seed=3)) and not frame.equals(generate_tasks(3000, seed=4))
    assert list(frame.columns) == ["source", "target"]
    assert frame["source"].str.len().max() <= CONTEXT and frame["target"].str.len().max() < CONTEXT
    tasks = frame["source"].map(task_of)
    shares = tasks.value_counts(normalize=True)
    assert set(shares.index) == set(TASKS) and shares.min() > 0.3
    for source, target in zip(frame["source"], frame["target"], strict=True):
        task, body = task_of(source), source.split(": ", 1)[1]
        if task == "addition":
            a, b = body.split("+")
            assert 0 <= int(a) <= 999 and 0 <= int(b) <= 999 and target == str(int(a) + int(b))
        elif task == "date":
            day = date.fromisoformat(body)
            assert 1900 <= day.year <= 2099 and target == f"{day.day} {MONTHS[day.month - 1]} {day.year}"
        else:
            assert 3 <= len(body) <= 12 and body.isalpha() and body.islower() and target == body[::-1]


def test_unknown_tasks_and_sizes_are_refused():
    with pytest.raises(ValueError, match="unknown task"):
        generate_tasks(10, tasks=("add", "subtract"))
    with pytest.raises(ValueError, match="n_rows"):
        generate_tasks(0)


def test_tokenizer_puts_characters_after_the_specials_and_round_trips():
    tokenizer = Seq2SeqTokenizer().fit(["add: 12+3", "15"])
    ids = tokenizer.encode("add: 12+3")
    assert ids.min() >= 4 and tokenizer.vocab_size == 4 + len(set("add: 12+315"))
    assert tokenizer.decode([BOS, *ids, EOS, 7, PAD]) == "add: 12+3"  # stops at the end token
    assert tokenizer.decode([*tokenizer.encode("12"), MASK]) == "12_"
    assert Seq2SeqTokenizer.from_json(tokenizer.to_json()).encode("3+1").tolist() == tokenizer.encode("3+1").tolist()
    with pytest.raises(UnknownCharacterError, match="'é'"):
        tokenizer.encode("add: é")


def test_denoising_noise_masks_spans_and_permutes_words():
    rng = np.random.default_rng(0)
    ids = np.arange(10, 40)  # 30 ids, no space
    noisy = corrupt(ids, rng, space_id=None, mask_ratio=0.3)
    kept = noisy[noisy != MASK]
    assert 1 <= (noisy == MASK).sum() <= 9 and len(kept) == 21  # 9 of 30 ids masked, each span one MASK
    assert np.all(np.diff(kept) > 0) and set(kept) < set(ids)  # the rest in order
    words = np.array([5, 6, 1, 7, 1, 8, 9])  # "ab c de" with 1 as the space
    shuffled = {tuple(corrupt(words, np.random.default_rng(s), 1, mask_ratio=0.0, shuffle_prob=1.0)) for s in range(20)}
    assert len(shuffled) > 1 and all(sorted(w) == sorted(words) and len(w) == 7 for w in shuffled)
    assert corrupt(words, rng, 1, mask_ratio=0.0, shuffle_prob=0.0).tolist() == words.tolist()


# -- the network against its oracles ----------------------------------------------------------------
@pytest.mark.parametrize(("t_q", "t_k"), [(1, 7), (5, 7), (9, 4)])
def test_cross_attention_equals_torch_scaled_dot_product_attention(t_q, t_k):
    generator = torch.Generator().manual_seed(t_q * 10 + t_k)
    q, k, v = (torch.randn(3, 2, t, 8, generator=generator, dtype=torch.float64) for t in (t_q, t_k, t_k))
    key_mask = torch.ones(3, t_k, dtype=torch.bool)
    key_mask[1, t_k // 2 :] = False  # padded keys of the second row
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :])
    torch.testing.assert_close(padded_attention(q, k, v, key_mask), expected, rtol=0, atol=1e-12)


def test_attention_module_equals_nn_multihead_attention_with_the_same_weights():
    config = Seq2SeqConfig(vocab_size=10, n_head=4, n_embd=16, bias=True).decoder()
    torch.manual_seed(0)
    ours = Attention(config).eval()
    torch_mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(ours.qkv.weight)
        torch_mha.in_proj_bias.copy_(torch.randn(48))
        ours.qkv.bias.copy_(torch_mha.in_proj_bias)
        torch_mha.out_proj.weight.copy_(ours.proj.weight)
        torch_mha.out_proj.bias.copy_(ours.proj.bias)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    key_mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    with torch.no_grad():
        cross = ours(x, key_mask, ours.keys_values(memory))
        expected, _ = torch_mha(x, memory, memory, key_padding_mask=~key_mask, need_weights=False)
        torch.testing.assert_close(cross, expected, rtol=0, atol=1e-6)
        self_attention = ours(memory, key_mask)
        expected, _ = torch_mha(memory, memory, memory, key_padding_mask=~key_mask, need_weights=False)
        torch.testing.assert_close(self_attention[0], expected[0], rtol=0, atol=1e-6)
        torch.testing.assert_close(self_attention[1, :4], expected[1, :4], rtol=0, atol=1e-6)  # its real positions


def test_ours_and_nn_transformer_start_from_the_same_weights_and_compute_the_same_logits():
    ours, reference = tiny_network(Seq2SeqNetwork), tiny_network(TorchSeq2SeqNetwork)
    ours_parameters, reference_parameters = list(ours.parameters()), list(reference.parameters())
    assert len(ours_parameters) == len(reference_parameters) == 35
    assert all(torch.equal(a, b) for a, b in zip(ours_parameters, reference_parameters, strict=True))
    src, tgt = batch()
    with torch.no_grad():
        ours_logits, ours_loss = ours(src, tgt[:, :-1], tgt[:, 1:])
        reference_logits, reference_loss = reference(src, tgt[:, :-1], tgt[:, 1:])
    torch.testing.assert_close(ours_logits, reference_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours_loss, reference_loss, rtol=0, atol=1e-6)


def test_gradients_equal_the_references_for_the_same_weights():
    ours, reference = tiny_network(Seq2SeqNetwork).train(), tiny_network(TorchSeq2SeqNetwork).train()
    src, tgt = batch(seed=1)
    ours(src, tgt[:, :-1], tgt[:, 1:])[1].backward()
    reference(src, tgt[:, :-1], tgt[:, 1:])[1].backward()
    for a, b in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-6)


def test_incremental_decoding_logits_equal_full_recomputation():
    network = tiny_network(encoder_layers=2, decoder_layers=2)
    src, tgt = batch(target=12)  # the whole decoder block
    with torch.inference_mode():
        full, _ = network(src, tgt)
        memory, key_mask = network.encode(src)
        cache = network.new_cache(len(src))
        steps = [network.decode(tgt[:, i : i + 1], memory, key_mask, cache) for i in range(tgt.size(1))]
        with pytest.raises(ValueError, match="exceed block_size"):
            network.decode(tgt[:, :1], memory, key_mask, cache)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-5)


def test_greedy_decoding_is_the_same_with_and_without_the_cache_and_for_the_reference():
    ours, reference = tiny_network(Seq2SeqNetwork), tiny_network(TorchSeq2SeqNetwork)
    src, _ = batch()
    cached, cached_score = greedy_decode(ours, src, 12)
    recomputed, recomputed_score = greedy_decode(ours, src, 12, use_cache=False)
    by_reference, _ = greedy_decode(reference, src, 12)
    assert torch.equal(cached, recomputed) and torch.equal(cached, by_reference)
    torch.testing.assert_close(cached_score, recomputed_score)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_of_width_one_is_greedy_decoding(seed):
    network = tiny_network(seed=seed)
    src, _ = batch(seed=seed, rows=4)
    greedy, greedy_score = greedy_decode(network, src, 12)
    beam, beam_score = beam_search(network, src, 1, 12)
    assert torch.equal(greedy, beam)
    torch.testing.assert_close(greedy_score, beam_score)


def test_beam_search_with_and_without_the_cache_agree_and_score_its_answers():
    network = tiny_network(encoder_layers=2, decoder_layers=2)
    src, _ = batch(rows=4)
    cached, cached_score = beam_search(network, src, 3, 12)
    recomputed, recomputed_score = beam_search(network, src, 3, 12, use_cache=False)
    assert torch.equal(cached, recomputed)
    torch.testing.assert_close(cached_score, recomputed_score, rtol=0, atol=1e-5)
    with torch.no_grad():  # its score is the log-probability of its tokens up to the end token
        tgt = torch.cat([torch.full((4, 1), BOS), cached], dim=1)
        log_probs = torch.log_softmax(network(src, tgt[:, :-1])[0], dim=-1).gather(2, tgt[:, 1:, None]).squeeze(2)
        ended = torch.cumsum(tgt[:, :-1] == EOS, dim=1) == 0  # positions up to and including the end token
        torch.testing.assert_close((log_probs * ended).sum(1), cached_score, rtol=0, atol=1e-4)


# -- the estimator ------------------------------------------------------------------------------------
def test_the_trained_model_learns_the_task_and_beam_search_is_never_worse_than_greedy(trained, dates):
    _, _, X, y = dates
    losses = trained.loss_history_
    assert len(losses) == 8 and losses[-1] < 0.1 * losses[1]  # epoch 1 denoises, then the task
    greedy, beam = trained.decode(X, num_beams=1), trained.decode(X, num_beams=4)
    assert exact_match(y, greedy) > 0.9
    assert exact_match(y, beam) >= exact_match(y, greedy)
    # beam search's objective: the answer it picks is at least as likely as greedy's, row by row
    assert np.all(trained.log_likelihood(X, beam) >= trained.log_likelihood(X, greedy) - 1e-4)


def test_predict_decodes_with_the_estimators_beams(trained, dates):
    _, _, X, _ = dates
    assert trained.predict(X[:20]).tolist() == trained.decode(X[:20], num_beams=trained.num_beams).tolist()
    assert trained.decode(X[:20], use_cache=False).tolist() == trained.decode(X[:20]).tolist()


def test_save_and_load_give_identical_outputs(trained, dates, tmp_path):
    _, _, X, y = dates
    loaded = Seq2SeqTransformer.load(trained.save(tmp_path / "model"))
    assert loaded.get_params() == trained.get_params() and loaded.loss_history_ == trained.loss_history_
    assert loaded.decode(X, num_beams=3).tolist() == trained.decode(X, num_beams=3).tolist()
    np.testing.assert_array_equal(loaded.log_likelihood(X, y), trained.log_likelihood(X, y))
    unpickled = pickle.loads(pickle.dumps(trained))
    assert unpickled.predict(X[:30]).tolist() == trained.predict(X[:30]).tolist()
    with pytest.raises(ValueError, match="not a TorchTransformerSeq2Seq"):
        TorchTransformerSeq2Seq.load(tmp_path / "model")


def test_ours_and_the_reference_train_alike_on_the_same_data_and_seed():
    X, y, _, _ = split(generate_tasks(400, seed=2), 400)
    params = {**SMOKE, "max_epochs": 2, "block_size": CONTEXT}
    ours, reference = Seq2SeqTransformer(**params).fit(X, y), TorchTransformerSeq2Seq(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_history_, reference.loss_history_, rtol=1e-4)
    assert ours.n_parameters_ == reference.n_parameters_


def test_training_resumed_from_a_pickled_epoch_ends_where_an_unbroken_one_does():
    X, y, _, _ = split(generate_tasks(300, seed=4), 300)
    params = {**SMOKE, "max_epochs": 3, "block_size": CONTEXT}

    def epochs(estimator, rng, count):
        for _ in range(count):
            estimator._epoch(X, y, rng)

    unbroken, rng = Seq2SeqTransformer(**params), np.random.default_rng(0)
    unbroken._init_state(X, y)
    epochs(unbroken, rng, 3)
    first, rng = Seq2SeqTransformer(**params), np.random.default_rng(0)
    first._init_state(X, y)
    epochs(first, rng, 2)  # the denoising epoch and one of the task
    resumed, rng = pickle.loads(pickle.dumps((first, rng)))
    epochs(resumed, rng, 1)
    assert resumed.loss_history_ == unbroken.loss_history_


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sources", "error", "message"),
    [
        (["date: 2020-01-01", ""], EmptySourceError, "empty"),
        (["   "], EmptySourceError, "row 0"),
        (["date: 2020-01-01", "date: " + "1" * 30], SourceTooLongError, "context of 24 characters"),
        (["date: 2020-01-0€"], UnknownCharacterError, "'€'"),
    ],
)
def test_bad_sources_are_refused_by_name(trained, sources, error, message):
    X = np.array(sources, dtype=object)[:, None]
    with pytest.raises(error, match=message):
        trained.predict(X)
    with pytest.raises(error, match=message):
        trained.check_inputs(X)


def test_fit_refuses_bad_data_and_hyperparameters_before_training():
    X = np.array([["add: 1+2"], ["add: 3+4"]], dtype=object)
    with pytest.raises(EmptySourceError):
        Seq2SeqTransformer(**SMOKE).fit(np.array([[""], ["add: 3+4"]], dtype=object), ["3", "7"])
    with pytest.raises(TargetTooLongError, match="24 positions"):
        Seq2SeqTransformer(**SMOKE).fit(X, ["3", "7" * 24])
    with pytest.raises(ValueError, match="1 targets"):
        Seq2SeqTransformer(**SMOKE).fit(X, ["3"])
    with pytest.raises(ValueError, match="pretrain_epochs"):
        Seq2SeqTransformer(**{**SMOKE, "pretrain_epochs": 8}).fit(X, ["3", "7"])
    with pytest.raises(ValueError, match="not divisible"):
        Seq2SeqTransformer(**{**SMOKE, "n_embd": 30, "n_head": 4}).fit(X, ["3", "7"])
    with pytest.raises(NotFittedError):
        Seq2SeqTransformer().predict(X)


def test_validation_refuses_empty_and_overlong_sources_before_training():
    from models.phase3.seq2seq.deliverable import DELIVERABLE
    from pipeline.validate import validate_frame

    frame = generate_tasks(60, seed=5)
    frame.loc[3, "source"], frame.loc[7, "source"] = "", "reverse: " + "a" * 30
    frame.insert(0, "entity_id", np.arange(len(frame)))
    frame.insert(1, "event_timestamp", pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(frame.index, "h"))
    frame["split"] = "train"
    report = validate_frame(frame, DELIVERABLE, DELIVERABLE.min_rows)
    assert not report.passed
    [failure] = report.failures
    assert failure.column == "source" and failure.unexpected_count == 2


# -- metrics and the answer kind -----------------------------------------------------------------------
def test_exact_match_per_task():
    X = np.array([["add: 1+2"], ["date: 2020-01-01"], ["reverse: abc"], ["add: 5+5"]], dtype=object)
    truth = np.array(["3", "1 January 2020", "cba", "10"], dtype=object)
    answers = np.array(["3", "1 January 2020", "cab", "11"], dtype=object)
    scores = {name: function(truth, answers, X) for name, (function, _) in METRICS.items()}
    assert scores == {
        "exact_match": 0.5, "exact_match_addition": 0.5, "exact_match_date": 1.0, "exact_match_reverse": 0.0
    }  # fmt: skip


def test_the_continuation_kind_reads_text_targets_and_refuses_unknown_characters(trained):
    from models.phase3.seq2seq.deliverable import DELIVERABLE
    from pipeline.kinds import spec_of
    from serving.kinds import RequestRefused, kind_for

    kind = kind_for(spec_of(DELIVERABLE))
    rows = pd.DataFrame({"source": ["add: 1+2", "date: 2020-01-01"], "target": ["3", "1 January 2020"]})
    assert kind.model_target(rows).tolist() == ["3", "1 January 2020"]
    good = kind.Request(rows=[{"source": "date: 2020-01-01"}])
    kind.check(trained, good)
    assert kind.answer(trained, good).values == ["1 January 2020"]
    bad = kind.Request(rows=[{"source": "date: 2020-01-01"}, {"source": "date: 2020-01-0€"}])
    with pytest.raises(RequestRefused, match="'€'") as refused:
        kind.check(trained, bad)
    assert refused.value.field == "rows[1]"
