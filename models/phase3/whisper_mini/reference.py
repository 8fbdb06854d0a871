"""The reference: pocketsphinx 5.1.1's pretrained US English model (bundled in its wheel, no download).

Its acoustic model (a continuous-density HMM over MFCCs) and its CMU pronouncing dictionary are used as
shipped. The language model is ``language_model``'s: ``"transcripts"`` (the default, the fair match for
ours) a back-off trigram built from the same training transcripts ours learns from (pocketsphinx's own
ARPA builder, ``pocketsphinx.lm.ArpaBoLM``), or ``"en-us"`` the bundled general English trigram model.
"Fitting" builds that language model; the decoder is made when transcribing (it cannot be pickled).
"""

from __future__ import annotations

import io
import os
import tempfile

import numpy as np
from sklearn.base import BaseEstimator

from models.base import require_fitted
from models.phase3.whisper_mini.data import HELD_OUT_VOICES, MAX_SAMPLES, SAMPLE_RATE
from models.phase3.whisper_mini.model import as_utterances

LANGUAGE_MODELS = ("transcripts", "en-us")


def vocabulary_of(arpa: str) -> set[str]:
    """The words of an ARPA language model's unigram section (sentence markers left out)."""
    section = arpa.split("\\1-grams:", 1)[1].split("\\2-grams:", 1)[0]
    words = {line.split()[1] for line in section.splitlines() if len(line.split()) >= 2}
    return words - {"<s>", "</s>", "<unk>"}


def dictionary_entries(path: str, words: set[str]) -> str:
    """The lines of a CMU-style pronouncing dictionary for ``words`` (alternates ``word(2)`` included)."""
    with open(path) as handle:
        return "".join(line for line in handle if line.split(" ", 1)[0].split("(", 1)[0] in words)


class PocketsphinxRecognizer(BaseEstimator):
    """Fitted: ``arpa_`` (the language model's ARPA text, None for the bundled one), ``n_sentences_``."""

    def __init__(
        self,
        language_model: str = "transcripts",
        held_out_voices: tuple[str, ...] = HELD_OUT_VOICES,
        sample_rate: int = SAMPLE_RATE,
        max_samples: int = MAX_SAMPLES,
        random_state: int | None = None,
    ):
        self.language_model = language_model
        self.held_out_voices = held_out_voices
        self.sample_rate = sample_rate
        self.max_samples = max_samples
        self.random_state = random_state  # unused: decoding is deterministic

    def fit(self, X, y) -> PocketsphinxRecognizer:
        """The language model of the training transcripts (rows of held-out voices left out, as ours does)."""
        if self.language_model not in LANGUAGE_MODELS:
            raise ValueError(f"language_model must be one of {LANGUAGE_MODELS}, got {self.language_model!r}")
        voices = as_utterances(X, self.max_samples)["voice"]
        texts = [str(text) for text in np.asarray(y, dtype=object)[~np.isin(voices, list(self.held_out_voices))]]
        self.n_sentences_ = len(texts)
        self.arpa_ = None
        if self.language_model == "transcripts":
            from pocketsphinx.lm import ArpaBoLM

            if not texts:
                raise ValueError("no training transcripts to build the language model from")
            builder = ArpaBoLM(text="\n".join(texts), add_start=True)
            builder.compute()
            buffer = io.StringIO()
            builder.write(buffer)
            self.arpa_ = buffer.getvalue()
        self._decoder = None
        return self

    def __getstate__(self):
        return {name: value for name, value in self.__dict__.items() if name != "_decoder"}

    def decoder(self):
        """A pocketsphinx Decoder on the bundled acoustic model and dictionary and this language model."""
        from pocketsphinx import Decoder, get_model_path

        require_fitted(self, "n_sentences_")
        path = os.path.join(get_model_path(), "en-us")
        common = dict(hmm=os.path.join(path, "en-us"), dict=os.path.join(path, "cmudict-en-us.dict"),
                      samprate=self.sample_rate, loglevel="FATAL")  # fmt: skip
        if self.arpa_ is None:
            return Decoder(lm=os.path.join(path, "en-us.lm.bin"), **common)
        with tempfile.TemporaryDirectory(prefix="whisper-mini-lm-") as folder:  # read at construction, then gone
            lm, words = os.path.join(folder, "transcripts.arpa"), os.path.join(folder, "transcripts.dict")
            with open(lm, "w") as handle:
                handle.write(self.arpa_)
            with open(words, "w") as handle:  # the dictionary's entries of the words the LM knows (fast to load)
                handle.write(dictionary_entries(common["dict"], vocabulary_of(self.arpa_)))
            return Decoder(lm=lm, **{**common, "dict": words})

    def predict(self, X) -> np.ndarray:
        """The transcript of each utterance's true-length audio (16-bit PCM, one utterance each)."""
        utterances = as_utterances(X, self.max_samples)
        if getattr(self, "_decoder", None) is None:  # built once (about a second: the dictionary), never pickled
            self._decoder = self.decoder()
        decoder = self._decoder
        out = np.empty(len(utterances), dtype=object)
        for i, (audio, length) in enumerate(zip(utterances["audio"], utterances["length"], strict=True)):
            pcm = (np.clip(audio[:length], -1.0, 1.0) * 32767).astype("<i2").tobytes()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
            out[i] = hypothesis.hypstr if hypothesis is not None else ""
        return out
