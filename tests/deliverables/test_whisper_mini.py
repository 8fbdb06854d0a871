"""whisper_mini: the synthesized data, the log-mel spectrogram against librosa's, WER / CER against jiwer's,
validation of silent / clipped / wrongly sampled audio, the network (cached decoding, both heads training),
pocketsphinx as the reference, and the `transcript` kind's requests. Smoke sizes: each test takes seconds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError
from sklearn.exceptions import NotFittedError

from models.phase3.whisper_mini import data
from models.phase3.whisper_mini.audio import log_mel_spectrogram, mel_filters
from models.phase3.whisper_mini.metrics import cer, error_rate, wer
from models.phase3.whisper_mini.model import (
    AudioError,
    WhisperConfig,
    WhisperMini,
    WhisperMiniNetwork,
    as_utterances,
    greedy_decode,
    utterances,
)
from models.phase3.whisper_mini.reference import PocketsphinxRecognizer

SMOKE = dict(n_layer=1, n_head=2, n_embd=32, n_mels=40, batch_size=8, max_epochs=3, device="cpu", random_state=0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Three utterances per training voice and four per held-out voice (32 in all, about a second)."""
    return data.spoken_commands(per_voice=3, held_out_per_voice=4, seed=1)


@pytest.fixture(scope="module")
def X_y(table):
    return utterances(list(table["audio"]), table["length"], table["voice"]), table["transcript"].to_numpy(object)


# -- data ---------------------------------------------------------------------------------------------
def test_the_table_holds_padded_16khz_audio_of_every_voice_with_what_validation_reads(table):
    columns = {"audio", "length", "sample_rate", "rms", "clipping", "voice", "speakers", "transcript"}
    assert set(table.columns) == columns
    assert set(table["voice"]) == set(data.VOICES) and not set(data.HELD_OUT_VOICES) & set(data.TRAINING_VOICES)
    held_out = table["voice"].isin(data.HELD_OUT_VOICES)
    assert (table["speakers"] == np.where(held_out, data.HELD_OUT, data.TRAINING)).all()
    assert all(len(audio) == data.MAX_SAMPLES and audio.dtype == np.float32 for audio in table["audio"])
    assert (table["sample_rate"] == 16_000).all() and (table["clipping"] == 0).all()
    assert (table["rms"] > data.MIN_RMS).all() and (table["length"] > 0.4 * data.SAMPLE_RATE).all()
    for audio, length in zip(table["audio"], table["length"], strict=True):  # silence after the true length
        assert not audio[length:].any() and np.abs(audio[:length]).max() <= 1.0
    assert set(" ".join(table["transcript"]).split()) <= set(data.vocabulary())


def test_one_espeak_call_cut_at_its_breaks_says_each_text():
    texts = ["stop the fan", "call one two three four", "volume nine"]
    pieces = data.synthesize_many(texts, "en-us+m1", 155)
    alone = [data.synthesize(text, "en-us+m1", 155) for text in texts]
    assert [abs(len(p) - len(a)) < 0.25 * len(a) for p, a in zip(pieces, alone, strict=True)] == [True] * 3


def test_a_missing_voice_is_a_synthesis_error_naming_it():
    with pytest.raises(data.SynthesisError, match="no-such-voice"):
        data.synthesize("stop", "no-such-voice")


# -- the log-mel spectrogram against librosa ----------------------------------------------------------
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_mel_equals_librosa(table, htk, dtype):
    import librosa

    audio = table["audio"].iloc[0][: table["length"].iloc[0]].astype(dtype)
    theirs = librosa.feature.melspectrogram(y=audio, sr=16_000, n_fft=400, hop_length=160, n_mels=40, htk=htk)
    ours = log_mel_spectrogram(torch.from_numpy(audio), 16_000, 400, 160, 40, htk).numpy()
    np.testing.assert_allclose(ours, np.log(np.maximum(theirs, 1e-10)), rtol=0, atol=1e-4)
    expected = librosa.filters.mel(sr=16_000, n_fft=400, n_mels=40, htk=htk, dtype=np.float64)
    np.testing.assert_allclose(mel_filters(16_000, 400, 40, htk), expected, rtol=0, atol=1e-12)


# -- metrics against jiwer ----------------------------------------------------------------------------
def test_wer_and_cer_equal_jiwers():
    import jiwer

    rng = np.random.default_rng(0)
    words = data.vocabulary()
    references = [" ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(60)]
    hypotheses = [" ".join(rng.choice(words, rng.integers(0, 7))) for _ in range(59)] + [references[-1]]
    assert error_rate(references, hypotheses, "word") == pytest.approx(jiwer.wer(references, hypotheses), abs=1e-12)
    assert error_rate(references, hypotheses, "char") == pytest.approx(jiwer.cer(references, hypotheses), abs=1e-12)


def test_wer_scores_the_held_out_voices_only(X_y):
    X, y = X_y
    held_out = np.isin(X["voice"], data.HELD_OUT_VOICES)
    wrong = np.where(held_out, "", y).astype(object)  # only held-out rows missed
    assert wer(y, wrong, X) == 1.0 and cer(y, wrong, X) == 1.0
    right = np.where(held_out, y, "").astype(object)  # only the other rows missed
    assert wer(y, right, X) == 0.0 and cer(y, right, X) == 0.0
    with pytest.raises(ValueError, match="no test utterances"):
        wer(y[~held_out], y[~held_out], X[~held_out])
    with pytest.raises(ValueError, match="empty reference"):
        error_rate([""], ["a"])


# -- the split: held out means the test split is exactly the held-out voices --------------------------
@pytest.mark.parametrize("size", [None, 20])
def test_the_test_split_is_exactly_the_held_out_voices(table, size, stores):
    """etl's grouped split by the declared ``speakers``, at the declared test share, whatever the seed; and
    on the default data's counts (data.PER_VOICE utterances a voice) without synthesizing them."""
    from pipeline.etl import build_dataset, grouped_split
    from s2p.catalog import get
    from s2p.config import params_for

    d = get("whisper_mini")
    test_size = params_for(stores.params_file, "whisper_mini").test_size
    assert d.split_by == "speakers" and params_for(stores.params_file, "whisper_mini", "smoke").test_size == test_size
    for seed in range(4):
        frame, _ = build_dataset(table, [*d.feature_names, d.target.name], seed, test_size, size, d.split_by)
        held_out = frame["voice"].isin(data.HELD_OUT_VOICES)
        assert held_out.any() and ((frame["split"] == "test") == held_out).all()
        assert "speakers" not in frame.columns  # the split's groups, not a feature the service takes
        counts = [data.PER_VOICE * len(data.TRAINING_VOICES), data.PER_VOICE * len(data.HELD_OUT_VOICES)]
        plan = pd.Series(np.repeat([data.TRAINING, data.HELD_OUT], counts), name="speakers")
        test = grouped_split(plan, test_size, np.random.default_rng(seed))
        assert (test == (plan == data.HELD_OUT)).all()


# -- validation refuses bad audio by name -------------------------------------------------------------
def _validated(table: pd.DataFrame):
    from pipeline.etl import build_dataset
    from pipeline.validate import validate_frame
    from s2p.catalog import get

    d = get("whisper_mini")
    frame, _ = build_dataset(table, [*d.feature_names, d.target.name], seed=0, test_size=0.2, size=None)
    return validate_frame(frame, d, min_rows=10)


def _with_row(table: pd.DataFrame, audio: np.ndarray, **changes) -> pd.DataFrame:
    """The table with its first row's audio replaced, its columns recomputed from the samples as the loader does."""
    bad = table.copy()
    length = int(bad.at[0, "length"])
    bad.at[0, "audio"] = audio.astype(np.float32)
    for name, value in {**data.audio_columns(audio, length), **changes}.items():
        bad.at[0, name] = value
    return bad


def test_good_audio_passes_validation(table):
    assert _validated(table).passed


def test_silent_audio_is_refused_by_its_rms(table):
    report = _validated(_with_row(table, np.zeros(data.MAX_SAMPLES)))
    assert not report.passed and {f.column for f in report.failures} == {"rms"}


def test_clipped_audio_is_refused_by_its_clipping(table):
    loud = np.clip(table.at[0, "audio"] * 50.0, -1.0, 1.0)
    report = _validated(_with_row(table, loud))
    assert not report.passed and {f.column for f in report.failures} == {"clipping"}


def test_a_sample_rate_that_differs_is_refused_by_name(table):
    report = _validated(_with_row(table, table.at[0, "audio"], sample_rate=8_000))
    assert not report.passed and {f.column for f in report.failures} == {"sample_rate"}


# -- the network ----------------------------------------------------------------------------------------
def test_cached_greedy_decoding_equals_recomputing_the_prefix():
    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=12, n_mels=40, n_frames=101, max_tokens=10, n_layer=2, n_head=2, n_embd=16)
    module = WhisperMiniNetwork(config).eval()
    mel = torch.randn(3, 40, 101)
    decoded = greedy_decode(module, mel)
    with torch.inference_mode():
        memories = module.memories(module.encoder(mel))
        for row, ids in enumerate(decoded):  # each chosen token is the argmax given the tokens before it
            prefix = torch.tensor([[1]])
            for token in ids:
                logits = module.decode(prefix, [(k[row : row + 1], v[row : row + 1]) for k, v in memories])
                assert int(logits[0, -1].argmax()) == token
                prefix = torch.cat([prefix, torch.tensor([[token]])], dim=1)


def sequence_score(module, mel_row, ids) -> float:
    """The decoder's log-probability of START ids END for one utterance (no cache)."""
    with torch.inference_mode():
        memories = module.memories(module.encoder(mel_row))
        tokens = torch.tensor([[1, *ids, 2]])
        log_probs = torch.log_softmax(module.decode(tokens[:, :-1], memories)[0], dim=-1)
        return float(log_probs.gather(1, tokens[0, 1:, None]).sum())


def test_beam_search_is_greedy_with_one_beam_and_scores_no_worse_with_four():
    from models.phase3.whisper_mini.decoding import beam_decode

    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=12, n_mels=40, n_frames=101, max_tokens=10, n_layer=1, n_head=2, n_embd=16)
    module = WhisperMiniNetwork(config).eval()
    mel = torch.randn(4, 40, 101)
    greedy = greedy_decode(module, mel)
    assert beam_decode(module, mel, beams=1) == greedy
    for row, ids in enumerate(beam_decode(module, mel, beams=4)):
        assert (
            sequence_score(module, mel[row : row + 1], ids)
            >= sequence_score(module, mel[row : row + 1], greedy[row]) - 1e-5
        )
    with pytest.raises(ValueError, match="beams must be at least 1"):
        beam_decode(module, mel, beams=0)


def test_the_character_language_model_is_a_distribution_that_steers_beam_search():
    from models.phase3.whisper_mini.decoding import CharNgram, beam_decode

    lm = CharNgram(order=4).fit([[3, 4, 5, 6], [3, 4, 7]], vocab_size=9)  # two "transcripts" of ids 3..7
    for context in [(), (1,), (1, 3, 4), (8, 8, 8)]:
        probs = np.exp(lm.log_probs(context))
        assert probs.sum() == pytest.approx(1.0) and probs[0] == probs[1] == 0.0  # never PAD or START
    assert lm.log_probs((1, 3))[4] > lm.log_probs((1, 3))[5]  # "3 4" seen, "3 5" not
    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=9, n_mels=40, n_frames=101, max_tokens=10, n_layer=1, n_head=2, n_embd=16)
    module = WhisperMiniNetwork(config).eval()
    decoded = beam_decode(module, torch.randn(3, 40, 101), beams=3, lm=lm, lm_weight=50.0)
    assert all(ids in ([3, 4, 5, 6], [3, 4, 7]) for ids in decoded)  # an untrained decoder, ruled by the LM
    with pytest.raises(ValueError, match="order must be"):
        CharNgram(order=0)


@pytest.mark.parametrize("head", ["seq2seq", "ctc"])
def test_both_heads_train_and_transcribe_to_text(X_y, head):
    X, y = X_y
    model = WhisperMini(head=head, **SMOKE).fit(X, y)
    assert model.loss_history_[-1] < model.loss_history_[0] and np.isfinite(model.loss_history_).all()
    transcripts = model.predict(X[:4])
    assert len(transcripts) == 4 and all(isinstance(t, str) for t in transcripts)
    assert set("".join(transcripts)) <= set(model.vocabulary)


def test_held_out_voices_are_never_trained_on(X_y):
    X, y = X_y
    model = WhisperMini(**SMOKE)
    kept = model._trained_rows(X)
    assert not np.isin(X["voice"][kept], data.HELD_OUT_VOICES).any() and kept.sum() == 3 * len(data.TRAINING_VOICES)
    with pytest.raises(ValueError, match="no training rows"):
        WhisperMini(**SMOKE).fit(X[~kept], y[~kept])


def test_unfitted_and_malformed_input_are_refused(X_y):
    X, _ = X_y
    with pytest.raises(NotFittedError):
        WhisperMini().predict(X)
    with pytest.raises(AudioError, match="padded audio"):
        as_utterances(np.zeros((2, 100)))
    with pytest.raises(AudioError, match="NaN"):
        utterances([np.full(100, np.nan)])
    with pytest.raises(ValueError, match="head"):
        WhisperMini(head="rnn", **{k: v for k, v in SMOKE.items()}).fit(X, X_y[1])


# -- the reference --------------------------------------------------------------------------------------
def test_pocketsphinx_transcribes_with_a_language_model_of_the_training_transcripts(X_y):
    X, y = X_y
    reference = PocketsphinxRecognizer().fit(X, y)
    assert reference.n_sentences_ == 3 * len(data.TRAINING_VOICES) and "\\data\\" in reference.arpa_
    transcripts = reference.predict(X[:3])
    assert len(transcripts) == 3 and all(isinstance(t, str) for t in transcripts)
    with pytest.raises(ValueError, match="language_model"):
        PocketsphinxRecognizer(language_model="klingon").fit(X, y)


# -- the served kind ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kind():
    from dataclasses import asdict

    from s2p.catalog import get
    from serving.kinds import kind_for

    d = get("whisper_mini")
    return kind_for({"kind": "transcript", "features": [asdict(c) for c in d.features], "target": asdict(d.target)})


def _refused(kind, body) -> str:
    with pytest.raises(ValidationError) as error:
        kind.Request.model_validate(body)
    return str(error.value)


def test_a_request_at_another_sample_rate_is_refused_naming_it(kind, table):
    audio = table.at[0, "audio"][: table.at[0, "length"]].tolist()
    assert "sample_rate" in _refused(kind, {"audio": audio, "sample_rate": 8_000})


@pytest.mark.parametrize(
    ("audio", "problem"),
    [([0.0] * 1000, "silent audio"), ([1.0, -1.0] * 500, "clipped audio"), ([0.1] * (data.MAX_SAMPLES + 1), "at most"),
     ([1.5] * 10, "less than or equal to 1")],
    ids=["silent", "clipped", "too-long", "out-of-range"],
)  # fmt: skip
def test_bad_audio_requests_are_refused_naming_the_audio(kind, audio, problem):
    message = _refused(kind, {"audio": audio, "sample_rate": 16_000})
    assert "audio" in message and problem in message


def test_the_kind_answers_a_transcript_and_describes_drift(kind, X_y, table):
    X, y = X_y
    model = WhisperMini(**{**SMOKE, "max_epochs": 1}).fit(X, y)
    samples = table.at[0, "audio"][: table.at[0, "length"]].astype(float).tolist()
    request = kind.Request.model_validate({"audio": samples, "sample_rate": 16_000})
    answer = kind.answer(model, request)
    assert isinstance(answer.values[0], str) and answer.records[0]["length"] == len(samples)
    assert kind.respond([7], answer, "1").transcript == answer.values[0]
    rows = kind.model_input(table)
    assert rows.dtype.names == ("audio", "length", "voice") and (rows["length"] == table["length"]).all()
    described = kind.describe(pd.DataFrame(answer.records), answer.values)
    assert set(described.columns) == {d.name for d in kind.descriptors()}
    assert described["duration_seconds"].iloc[0] == pytest.approx(len(samples) / 16_000)
