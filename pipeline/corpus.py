"""The corpus recipe's steps: a text corpus -> its validation -> a tokenizer -> a language model.

    ingest     the declaration's source (or a user's text file) read as bytes, decoded as UTF-8 with
               every undecodable byte counted, to data/<key>/candidate.txt
    validate   Great Expectations on the corpus's line statistics: enough text, no undecodable bytes,
               no control characters (binary data), varied lines (not one line repeated); on success
               the candidate becomes corpus.txt in one rename, on failure the last good corpus stays
    tokenize   the declaration's tokenizer fitted on the corpus; token ids split into training and
               validation (the last ``test_size`` of the text, as nanoGPT splits) -> tokens.npz
    train      ours and the reference (`reference`) on the same ids, seed and steps, each stored
               with its tokenizer as a TextGenerator (safetensors and JSON, no pickles)
    evaluate   validation loss and perplexity of both on the same held-out ids, the plots

Register and package are the shared steps (pipeline/registry.py, pipeline/package.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pipeline.artifacts import load_fitted, save_fitted
from pipeline.context import RunContext
from pipeline.evaluate import Evaluation, record_evaluation
from pipeline.train import TrainResult, fit_timed, seed_everything, select_device, side
from pipeline.validate import ValidationReport, accept_candidate, check_frame
from s2p.files import atomic_path, write_json
from s2p.imports import import_object
from s2p.metrics import compute

CONTROL = {chr(c) for c in range(32)} - {"\n", "\t", "\r"}
MIN_CHARACTERS = 5000  # below this a corpus holds too few context windows to train and validate on


@dataclass(frozen=True)
class CorpusResult:
    characters: int
    lines: int
    undecodable_bytes: int
    source: str

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.characters:,} characters in {self.lines:,} lines from {self.source}"


@dataclass(frozen=True)
class TokenizeResult:
    vocab_size: int
    train_tokens: int
    val_tokens: int

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"vocabulary {self.vocab_size}, {self.train_tokens:,} training and {self.val_tokens:,} validation tokens"


def read_text(ctx: RunContext) -> tuple[str, int, str]:
    """The corpus as text, the number of undecodable bytes (each replaced by U+FFFD), and where it came from."""
    if ctx.user_data is not None:
        raw = ctx.user_data.path.read_bytes()
        source = str(ctx.user_data.path)
    else:
        loaded = import_object(ctx.deliverable.source)()
        raw = loaded.encode("utf-8") if isinstance(loaded, str) else bytes(loaded)
        source = ctx.deliverable.source
    text = raw.decode("utf-8", errors="replace")
    undecodable = text.count("\ufffd") - raw.decode("utf-8", errors="ignore").count("\ufffd")
    if ctx.params.size is not None:
        text = text[: ctx.params.size]  # the first `size` characters: the smoke size
    return text, undecodable, source


def ingest_corpus(ctx: RunContext) -> CorpusResult:
    text, undecodable, source = read_text(ctx)
    with atomic_path(ctx.paths.candidate_corpus) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return CorpusResult(len(text), text.count("\n") + 1, undecodable, source)


def line_statistics(text: str) -> pd.DataFrame:
    """One row per non-blank line: the line, its length, its undecodable and control characters."""
    lines = [line for line in text.split("\n") if line.strip()]
    return pd.DataFrame(
        {
            "line": lines,
            "characters": [len(line) for line in lines],
            "undecodable": [line.count("\ufffd") for line in lines],
            "control": [sum(char in CONTROL for char in line) for line in lines],
        }
    )


def corpus_expectations(min_characters: int, min_lines: int) -> list:
    import great_expectations.expectations as E

    return [
        E.ExpectTableRowCountToBeBetween(min_value=min_lines),
        E.ExpectColumnSumToBeBetween(column="characters", min_value=min_characters),
        E.ExpectColumnValuesToBeBetween(column="undecodable", min_value=0, max_value=0),  # wrong encoding
        E.ExpectColumnValuesToBeBetween(column="control", min_value=0, max_value=0),  # binary data
        E.ExpectColumnProportionOfUniqueValuesToBeBetween(column="line", min_value=0.2),  # one line repeated
    ]


def validate_corpus(ctx: RunContext) -> ValidationReport:
    paths = ctx.paths
    text = paths.candidate_corpus.read_text(encoding="utf-8")
    expectations = corpus_expectations(MIN_CHARACTERS, ctx.deliverable.min_rows)
    report = check_frame(line_statistics(text), ctx.deliverable.id, expectations)
    return accept_candidate(ctx, report, paths.candidate_corpus, paths.corpus, paths.rejected_corpus)


def tokenize(ctx: RunContext) -> TokenizeResult:
    text = ctx.paths.corpus.read_text(encoding="utf-8")
    tokenizer = import_object(ctx.deliverable.tokenizer)().fit(text)
    ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
    cut = int(len(ids) * (1.0 - ctx.params.test_size))
    train, val = ids[:cut], ids[cut:]
    with atomic_path(ctx.paths.tokens) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, train=train, val=val, tokenizer=np.array(tokenizer.to_json()))
    lines = [line for line in text[int(len(text) * (1.0 - ctx.params.test_size)) :].split("\n") if line.strip()]
    prompts = pd.DataFrame({"prompt": lines[:: max(1, len(lines) // 500)][:500]})  # what the monitor compares with
    with atomic_path(ctx.paths.reference_requests) as temporary:
        prompts.to_parquet(temporary, index=False)
    return TokenizeResult(tokenizer.vocab_size, len(train), len(val))


def load_tokens(ctx: RunContext):
    with np.load(ctx.paths.tokens) as saved:
        tokenizer_class = import_object(ctx.deliverable.tokenizer)
        return saved["train"], saved["val"], tokenizer_class.from_json(str(saved["tokenizer"]))


def _fit(ctx: RunContext, who: str) -> TrainResult:
    from models.generation import TextGenerator

    seed_everything(ctx.params.seed, uses_torch=True)
    device = select_device(uses_torch=True)
    train, val, tokenizer = load_tokens(ctx)
    chosen = side(ctx, who)
    extra = {"device": chosen.params.get("device", device), "vocab_size": tokenizer.vocab_size}
    estimator, elapsed = fit_timed(ctx, chosen, lambda model: model.fit(train, val), extra)
    save_fitted(TextGenerator(tokenizer, estimator), chosen.pickle_path, chosen.directory)
    history = [float(loss) for loss in estimator.loss_history_]
    result = TrainResult(
        estimator=chosen.import_path,
        device=str(getattr(estimator, "device_", device)),
        fit_seconds=elapsed,
        epochs=len(history),  # training iterations
        resumed_from_epoch=0,
        final_loss=history[-1] if history else None,
        loss_history=history,
        samples_per_second=getattr(estimator, "samples_per_second_", None),
    )
    validation = {
        "val_loss_history": list(estimator.val_loss_history_),
        "eval_iterations": list(estimator.eval_iterations_),
    }
    write_json(chosen.report, result.to_dict() | validation)
    return result


def train_language_model(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "ours")


def fit_reference_language_model(ctx: RunContext) -> TrainResult:
    return _fit(ctx, "reference")


def evaluate_language_model(ctx: RunContext) -> Evaluation:
    from pipeline.plots import PlotData, draw
    from s2p.files import read_json

    d, paths = ctx.deliverable, ctx.paths
    train, val, _ = load_tokens(ctx)
    models = {
        "ours": load_fitted(paths.model, paths.model_dir),
        "reference": load_fitted(paths.reference_model, paths.reference_dir),
    }
    scores = {name: compute(d.metrics, None, None, val, generator, d) for name, generator in models.items()}
    reports = {"ours": read_json(paths.training_report), "reference": read_json(paths.reference_report)}
    samples = {name: generator.generate_text("\n", max_new_tokens=200, temperature=0.8, top_k=20, seed=ctx.params.seed)
               for name, generator in models.items()}  # fmt: skip
    data = PlotData(
        d, train, None, val, None, models, samples, reports["ours"]["loss_history"], ctx.params.seed, reports
    )
    evaluation = record_evaluation(ctx, scores, len(val), draw(d.plots, data, paths.plots))
    with atomic_path(paths.artifacts / "samples.json") as temporary:
        temporary.write_text(json.dumps(samples, indent=1))
    return evaluation
