"""gpt_mini: the corpus and tokenizer, GPT-mini's attention, KV cache and sampling against their oracles,
and the estimator (training, evaluation, persistence) against the torch.nn.TransformerEncoderLayer
reference. Smoke sizes only: every test runs in seconds on the CPU."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError

from models.phase3.gpt_mini.data import (
    CharTokenizer,
    CorpusError,
    UnknownCharacterError,
    read_corpus,
    shakespeare,
    split_ids,
)
from models.phase3.gpt_mini.model import (
    GPT,
    GPTConfig,
    GPTLanguageModel,
    causal_attention,
    filter_logits,
    generate_tokens,
    sample_next,
)
from models.phase3.gpt_mini.reference import TorchTransformerLanguageModel, TorchTransformerLM

SMOKE = dict(
    n_layer=2, n_head=2, n_embd=32, block_size=16, batch_size=8, max_iters=40, warmup_iters=5,
    eval_interval=20, eval_iters=4, device="cpu", random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Smoke-sized networks gain nothing from more threads, and lose much to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus():
    text = shakespeare()[:20_000]
    tokenizer = CharTokenizer().fit(text)
    train, val = split_ids(tokenizer.encode(text))
    return tokenizer, train, val


@pytest.fixture(scope="module")
def fitted(corpus):
    tokenizer, train, val = corpus
    return GPTLanguageModel(**SMOKE, vocab_size=tokenizer.vocab_size).fit(train, val)


def tiny_gpt(block_size: int = 8, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=11, block_size=block_size, n_layer=2, n_head=2, n_embd=16)).eval()


# -- data --------------------------------------------------------------------------------------------
def test_corpus_is_about_a_megabyte_of_plain_shakespeare():
    text = shakespeare()
    assert 1_000_000 <= len(text) <= 1_300_000
    assert text.isascii() and "\r" not in text and "\n\n\n" not in text
    assert text.startswith("THE TRAGEDY OF CORIOLANUS") and "\nRomeo.\n" in text


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"\xff\xfe\x00a", "not UTF-8"), (b"ab\x00cd", "NUL"), (b"  \n\n", "empty")],
)
def test_a_corrupt_corpus_is_refused_by_name(tmp_path, content, reason):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=reason):
        read_corpus(path)


def test_a_corrupt_gzip_corpus_is_refused(tmp_path):
    (tmp_path / "bad.txt.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CorpusError, match="gzip"):
        read_corpus(tmp_path / "bad.txt.gz")
    (tmp_path / "good.txt.gz").write_bytes(gzip.compress(b"Is this a dagger\n"))
    assert read_corpus(tmp_path / "good.txt.gz") == "Is this a dagger\n"


def test_split_is_nanogpts_ninety_ten():
    train, val = split_ids(np.arange(100))
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="val_fraction"):
        split_ids(np.arange(10), val_fraction=1.0)


def test_tokenizer_round_trips_text_and_json():
    text = "To be, or not to be: that is the question.\n"
    tokenizer = CharTokenizer().fit(text)
    ids = tokenizer.encode(text)
    assert ids.dtype == np.int64 and tokenizer.vocab_size == len(set(text))
    assert tokenizer.decode(ids) == text
    restored = CharTokenizer.from_json(tokenizer.to_json())
    assert restored.alphabet_ == tokenizer.alphabet_ and restored.decode(ids) == text


def test_tokenizer_names_unknown_characters_and_bad_ids():
    tokenizer = CharTokenizer().fit("abc")
    with pytest.raises(UnknownCharacterError, match=r"'xz'"):
        tokenizer.encode("abxcz")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([0, 3])
    with pytest.raises(NotFittedError):
        CharTokenizer().encode("a")
    with pytest.raises(ValueError, match="non-empty"):
        CharTokenizer().fit("")


# -- attention, network and KV cache against their oracles ----------------------------------------------
@pytest.mark.parametrize(("batch", "heads", "length", "head"), [(2, 4, 16, 8), (1, 1, 1, 4), (3, 2, 33, 16)])
def test_attention_equals_torch_scaled_dot_product_attention(batch, heads, length, head):
    generator = torch.Generator().manual_seed(length)
    q, k, v = (torch.randn(batch, heads, length, head, generator=generator, dtype=torch.float64) for _ in range(3))
    ours = causal_attention(q, k, v)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True), rtol=0, atol=1e-6)


def test_attention_of_new_queries_over_cached_keys_equals_the_masked_oracle():
    generator = torch.Generator().manual_seed(1)
    q = torch.randn(2, 2, 3, 8, generator=generator, dtype=torch.float64)  # the last 3 of 10 positions
    k, v = (torch.randn(2, 2, 10, 8, generator=generator, dtype=torch.float64) for _ in range(2))
    visible = torch.ones(3, 10, dtype=torch.bool).tril(diagonal=7)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=visible)
    torch.testing.assert_close(causal_attention(q, k, v), expected, rtol=0, atol=1e-6)


def test_ours_and_the_reference_start_from_the_same_network():
    config = GPTConfig(vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=16)
    torch.manual_seed(3)
    ours = GPT(config).eval()
    torch.manual_seed(3)
    reference = TorchTransformerLM(config).eval()
    idx = torch.randint(0, 13, (4, 12))
    with torch.inference_mode():
        torch.testing.assert_close(ours(idx)[0], reference(idx)[0], rtol=0, atol=1e-5)
    assert ours.lm_head.weight is ours.wte.weight and reference.lm_head.weight is reference.wte.weight


def test_logits_with_and_without_the_kv_cache_are_equal_over_a_generated_sequence():
    model = tiny_gpt(block_size=8)
    ids = torch.tensor([[1, 2, 3]])
    cache = model.new_cache()
    with torch.inference_mode():
        for step in range(20):  # past block_size: the window slides and the cache is rebuilt from it
            plain = model(ids[:, -8:])[0][:, -1]
            if cache.length == 0 or cache.length + 1 > 8:
                cache.length = 0
                cached = model(ids[:, -8:], cache=cache)[0][:, -1]
            else:
                cached = model(ids[:, -1:], cache=cache)[0][:, -1]
            torch.testing.assert_close(cached, plain, rtol=0, atol=1e-5, msg=f"step {step}")
            ids = torch.cat([ids, plain.argmax(-1, keepdim=True)], dim=1)


@pytest.mark.parametrize("prompt_length", [1, 5, 12])
def test_generation_draws_the_same_tokens_with_and_without_the_cache(prompt_length):
    model = tiny_gpt(block_size=8)
    prompt = torch.arange(prompt_length)[None, :] % 11
    cached = list(generate_tokens(model, prompt, 30, temperature=1.0, seed=7, use_cache=True))
    plain = list(generate_tokens(model, prompt, 30, temperature=1.0, seed=7, use_cache=False))
    assert cached == plain and len(cached) == 30


def test_a_full_cache_refuses_more_positions():
    model = tiny_gpt(block_size=4)
    cache = model.new_cache()
    with torch.inference_mode():
        model(torch.zeros(1, 4, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="exceed block_size"):
            model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


# -- sampling -----------------------------------------------------------------------------------------
def nucleus(probs: np.ndarray, top_p: float) -> set[int]:
    """The smallest set of most likely tokens whose probability reaches top_p (float64, by hand)."""
    order = np.argsort(-probs)
    count = int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1
    return set(order[:count].tolist())


@pytest.mark.parametrize("top_p", [0.3, 0.62, 0.9])
def test_top_p_never_draws_outside_the_nucleus(top_p):
    logits = torch.randn(40, generator=torch.Generator().manual_seed(int(top_p * 100)), dtype=torch.float64) * 2
    allowed = nucleus(torch.softmax(logits, -1).numpy(), top_p)
    generator = torch.Generator().manual_seed(0)
    draws = sample_next(logits.expand(5000, -1), temperature=1.0, top_p=top_p, generator=generator)
    assert set(draws.tolist()) <= allowed
    assert set(draws.tolist()) == allowed or len(allowed) > 20  # each member of a small nucleus shows up
    kept = torch.isfinite(filter_logits(logits, top_p=top_p)).nonzero().flatten().tolist()
    assert set(kept) == allowed


def test_top_k_never_draws_outside_the_k_most_likely():
    logits = torch.randn(30, generator=torch.Generator().manual_seed(5))
    allowed = set(torch.topk(logits, 4).indices.tolist())
    draws = sample_next(logits.expand(3000, -1), temperature=1.5, top_k=4, generator=torch.Generator().manual_seed(1))
    assert set(draws.tolist()) == allowed


def test_greedy_is_the_argmax_and_deterministic(fitted, corpus):
    prompt = corpus[2][:10]
    first = fitted.generate(prompt, 25, temperature=0)
    assert first == fitted.generate(prompt, 25, temperature=0, seed=123) == fitted.generate(prompt, 25, temperature=0)
    with torch.inference_mode():
        logits, _ = fitted.module_(torch.from_numpy(prompt)[None, :])
    assert first[0] == int(logits[0, -1].argmax())


def test_same_seed_same_samples_other_seed_other_samples(fitted, corpus):
    prompt = corpus[2][:5]
    sampling = dict(temperature=1.0, top_k=20, top_p=0.95)
    one = fitted.generate(prompt, 40, seed=1, **sampling)
    assert one == fitted.generate(prompt, 40, seed=1, **sampling)
    assert one != fitted.generate(prompt, 40, seed=2, **sampling)


def test_stream_checks_every_parameter_before_any_token(fitted):
    for bad, field in [
        (dict(max_new_tokens=-1), "max_new_tokens"),
        (dict(temperature=-0.5), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(max_new_tokens=2.5), "max_new_tokens"),
        (dict(top_k=0), "top_k"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
    ]:
        with pytest.raises(ValueError, match=field):
            fitted.stream([1, 2], **bad)  # raised at the call, not at the first next()
    with pytest.raises(ValueError, match="prompt_ids"):
        fitted.stream([], 5)
    with pytest.raises(ValueError, match="outside"):
        fitted.stream([fitted.config_.vocab_size], 5)


def test_stream_yields_ints_one_at_a_time_past_the_block(fitted, corpus):
    prompt = corpus[2][:40]  # longer than block_size 16: cropped to the last 16
    tokens = fitted.stream(prompt, 30, temperature=0.8, seed=4)
    first = next(tokens)
    assert isinstance(first, int) and 0 <= first < fitted.config_.vocab_size
    rest = list(tokens)
    assert [first, *rest] == fitted.generate(prompt, 30, temperature=0.8, seed=4, use_cache=False)


# -- the estimator -----------------------------------------------------------------------------------
def test_loss_decreases_in_a_few_iterations(fitted):
    losses = fitted.loss_history_
    assert len(losses) == SMOKE["max_iters"] and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.3
    assert fitted.eval_iterations_ == [0, 20, 40] and fitted.val_loss_history_[-1] < fitted.val_loss_history_[0]
    assert fitted.fit_seconds_ > 0 and fitted.samples_per_second_ > 0


def test_evaluate_loss_is_deterministic_and_matches_the_last_validation_loss(fitted, corpus):
    val = corpus[2]
    loss = fitted.evaluate_loss(val)
    assert loss == fitted.evaluate_loss(val)
    assert loss == pytest.approx(fitted.val_loss_history_[-1], rel=1e-6)
    assert fitted.perplexity(val) == pytest.approx(np.exp(loss))


def test_reference_trains_alike_under_the_same_loop(corpus, fitted):
    tokenizer, train, val = corpus
    reference = TorchTransformerLanguageModel(**SMOKE, vocab_size=tokenizer.vocab_size).fit(train, val)
    np.testing.assert_allclose(reference.loss_history_, fitted.loss_history_, rtol=1e-4)
    assert reference.evaluate_loss(val) == pytest.approx(fitted.evaluate_loss(val), rel=1e-4)
    assert reference.generate(val[:5], 20, seed=3) == fitted.generate(val[:5], 20, seed=3)  # no cache: recomputes


def test_save_and_load_give_identical_logits(fitted, tmp_path, corpus):
    fitted.save(tmp_path / "gpt")
    assert sorted(p.name for p in (tmp_path / "gpt").iterdir()) == ["config.json", "model.safetensors"]
    loaded = GPTLanguageModel.load(tmp_path / "gpt")
    idx = torch.from_numpy(corpus[2][:16])[None, :]
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module_(idx)[0], fitted.module_(idx)[0], rtol=0, atol=0)
    assert loaded.get_params() == fitted.get_params() and loaded.val_loss_history_ == fitted.val_loss_history_
    assert loaded.module_.lm_head.weight is loaded.module_.wte.weight
    assert loaded.generate([1, 2], 10, seed=0) == fitted.generate([1, 2], 10, seed=0)
    with pytest.raises(ValueError, match="not a TorchTransformerLanguageModel"):
        TorchTransformerLanguageModel.load(tmp_path / "gpt")


def test_unfitted_model_and_bad_training_data_are_refused(corpus):
    model = GPTLanguageModel(**SMOKE)
    with pytest.raises(NotFittedError):
        model.generate([1], 3)
    with pytest.raises(NotFittedError):
        model.evaluate_loss([1, 2, 3])
    with pytest.raises(ValueError, match="train_ids needs at least 18"):
        model.fit(np.arange(10))
    with pytest.raises(ValueError, match="integer"):
        model.fit(np.linspace(0, 1, 100))
    with pytest.raises(ValueError, match="1-D"):
        model.fit(np.zeros((10, 10), dtype=int))
    with pytest.raises(ValueError, match="outside"):
        GPTLanguageModel(**SMOKE, vocab_size=5).fit(np.arange(100) % 7)
    with pytest.raises(ValueError, match="not divisible"):
        GPTLanguageModel(**{**SMOKE, "n_head": 3}).fit(corpus[1])
    with pytest.raises(ValueError, match="max_iters"):
        GPTLanguageModel(**{**SMOKE, "max_iters": 0}).fit(corpus[1])


# -- the corpus recipe's validation: a corrupt corpus stops, named, and the last good corpus stays ----------
CORRUPT_CORPORA = {
    "binary bytes": (bytes(range(32)) * 400, "control"),
    "empty": (b"", "expect_table_row_count_to_be_between"),
    "one repeated line": (b"To be, or not to be, that is the question.\n" * 400, "proportion_of_unique_values"),
    "wrong encoding": (
        "Ce n'est pas de l'UTF-8 : \u00e9t\u00e9, \u00e0, \u00e7a.\n".encode("latin-1") * 400,
        "undecodable",
    ),
}


def _prepare(ctx):
    from pipeline.corpus import ingest_corpus, validate_corpus

    ingest_corpus(ctx)
    return validate_corpus(ctx)


@pytest.mark.parametrize("problem", CORRUPT_CORPORA)
def test_a_corrupt_corpus_stops_at_validation_and_the_last_good_corpus_stays(stores, tmp_path, problem):
    from pipeline.context import RunContext, UserData
    from pipeline.validate import ValidationFailed
    from s2p import catalog
    from s2p.config import params_for

    corpus_file = tmp_path / "my_corpus.txt"
    corpus_file.write_text(shakespeare()[:20_000])
    params = params_for(stores.params_file, "gpt_mini", "smoke")
    ctx = RunContext(catalog.get("gpt_mini"), params, stores, UserData(corpus_file, ""))
    assert _prepare(ctx).passed
    good = ctx.paths.corpus.read_bytes()

    content, expectation = CORRUPT_CORPORA[problem]
    corpus_file.write_bytes(content)
    with pytest.raises(ValidationFailed) as stopped:
        _prepare(ctx)
    assert any(expectation in (f.expectation + " " + (f.column or "")) for f in stopped.value.report.failures), (
        stopped.value.report.describe()
    )
    assert ctx.paths.corpus.read_bytes() == good and ctx.paths.rejected_corpus.exists()
