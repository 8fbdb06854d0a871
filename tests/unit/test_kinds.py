"""Answer kinds (serving/kinds.py): request validation and bounds, answers as JSON, feedback types,
drift descriptors and their column types, and every catalog deliverable's kind; with small real
models of each protocol (a character bigram model that streams, a linear policy, a word-overlap
search)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.linear_model import LinearRegression

from pipeline import kinds as pipeline_kinds
from s2p import catalog
from serving import kinds
from serving.inference_log import InferenceLog
from serving.kinds import KINDS, AnswerError, KindError, RequestRefused, kind_for
from serving.loading import import_object, load_model

CORPUS = "to be or not to be that is the question whether tis nobler in the mind to suffer "


class TinyCharModel:
    """A character bigram language model: the text-generation protocol in 40 lines."""

    def __init__(self, text: str = CORPUS, delay: float = 0.0):
        self.alphabet = sorted(set(text))
        self.delay = delay  # seconds per token, so that a test can watch tokens arrive one by one
        index = {c: i for i, c in enumerate(self.alphabet)}
        counts = np.ones((len(self.alphabet), len(self.alphabet)))
        for a, b in itertools.pairwise(text):
            counts[index[a], index[b]] += 1
        self.probabilities = counts / counts.sum(axis=1, keepdims=True)

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet)

    @property
    def vocabulary(self) -> list[str]:
        return self.alphabet

    def check_prompt(self, prompt: str) -> None:
        unknown = sorted(set(prompt) - set(self.alphabet))
        if unknown:
            raise ValueError(f"characters outside the vocabulary: {''.join(unknown)!r}")

    def stream_text(self, prompt, max_new_tokens, temperature, top_k, top_p, seed):
        self.check_prompt(prompt)
        rng = np.random.default_rng(seed)
        current = self.alphabet.index(prompt[-1])
        for _ in range(max_new_tokens):
            p = self.probabilities[current].copy()
            if temperature == 0:
                current = int(p.argmax())
            else:
                p = p ** (1.0 / temperature)
                order = np.argsort(-p)
                keep = order[: top_k or len(p)]
                cumulative = np.cumsum(p[order] / p.sum())
                keep = np.intersect1d(keep, order[: int(np.searchsorted(cumulative, top_p)) + 1])
                current = int(rng.choice(keep, p=p[keep] / p[keep].sum()))
            time.sleep(self.delay)
            yield self.alphabet[current]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(json.dumps({"alphabet": self.alphabet, "delay": self.delay}))
        np.save(directory / "probabilities.npy", self.probabilities)

    @classmethod
    def load(cls, directory: Path) -> TinyCharModel:
        config = json.loads((Path(directory) / "config.json").read_text())
        model = cls.__new__(cls)
        model.alphabet, model.delay = config["alphabet"], config["delay"]
        model.probabilities = np.load(Path(directory) / "probabilities.npy")
        return model


class LinearPolicy:
    """The action protocol: the arg-max of a linear score per observation."""

    def __init__(self, weights: np.ndarray):
        self.weights = weights  # (d, actions)

    def act(self, observations: np.ndarray) -> np.ndarray:
        return (observations @ self.weights).argmax(axis=1)


class WordOverlapSearch:
    """The ranked-documents protocol: documents scored by the query words they hold."""

    def __init__(self, documents: dict[str, str]):
        self.documents = documents

    @property
    def vocabulary(self) -> set[str]:
        return {word for text in self.documents.values() for word in text.lower().split()}

    def search(self, queries, k):
        rankings = []
        for query in queries:
            words = set(query.lower().split())
            scores = {doc_id: float(len(words & set(text.lower().split()))) for doc_id, text in self.documents.items()}
            best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
            rankings.append([(doc_id, score) for doc_id, score in best if score > 0][:k])
        return rankings

    def snippet(self, doc_id, query: str) -> str:
        return self.documents[doc_id][:20]


GENERATION = {"kind": "text_generation", "generation": {"max_new_tokens": 64, "max_prompt_chars": 100}}
OBSERVATION = {"size": 4, "low": [-4.8, None, -0.42, None], "high": [4.8, float("inf"), 0.42, None]}
ACTION = {"kind": "action", "observation": OBSERVATION}
SEARCH = {"kind": "ranked_documents", "retrieval": {"max_k": 5, "max_query_chars": 50}}
DOCUMENTS = {"d1": "the cat sat on the mat", "d2": "a dog barked at the cat", "d3": "stock prices fell"}


def request(kind, **body):
    return kind.Request.model_validate(body)


def refused(kind, body: dict) -> str:
    with pytest.raises(ValidationError) as error:
        kind.Request.model_validate(body)
    return str(error.value)


# -- the catalog ------------------------------------------------------------------------------------


@pytest.mark.parametrize("deliverable", catalog.deliverables(), ids=lambda d: d.id)
def test_every_catalog_deliverable_has_a_kind_with_its_descriptors(deliverable):
    assert deliverable.answer_kind in KINDS
    kind = pipeline_kinds.kind_of(deliverable, {"observation": OBSERVATION})
    assert kind.name == deliverable.answer_kind
    descriptors = kind.descriptors()
    assert len({d.name for d in descriptors}) == len(descriptors)
    assert {d.type for d in descriptors} <= {"numerical", "categorical"}
    assert any(d.of == "request" for d in descriptors) and any(d.of == "answer" for d in descriptors)
    if kind.reference_is_training_set:  # a table: its row type is built from the feature columns
        assert set(kind.Features.model_fields) == set(deliverable.feature_names)
        assert kind.Response is not None and "label" in kind.Feedback.model_fields


def test_the_23_tables_keep_their_kinds_and_column_types():
    kind_of = {d.id: d.answer_kind for d in catalog.deliverables()}
    assert {kind_of[i] for i in ("linear_regression", "regularization", "optimizers", "tree_structures")} == {"number"}
    assert kind_of["knn"] == "class" and kind_of["kmeans"] == "cluster" and kind_of["pca"] == "vector"
    assert (kind_of["tokenizer"], kind_of["knn_search"], kind_of["rnn"]) == ("token_ids", "neighbours", "continuation")
    assert (kind_of["attention"], kind_of["gan"]) == ("sequence", "image")
    types = {d.name: d.type for d in pipeline_kinds.kind_of(catalog.get("gan")).descriptors()}
    assert types == {"digit": "categorical", "prediction_mean": "numerical", "prediction_std": "numerical"}
    types = {d.name: d.type for d in pipeline_kinds.kind_of(catalog.get("knn")).descriptors()}
    assert types["pixel_0_0"] == "numerical" and types["prediction"] == "categorical"
    types = {d.name: d.type for d in pipeline_kinds.kind_of(catalog.get("linear_regression")).descriptors()}
    assert types["prediction"] == "numerical"


def test_an_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(KindError, match="unknown answer kind 'poem'; known: number, class"):
        kind_for({"kind": "poem"})


# -- tables -----------------------------------------------------------------------------------------

NUMBER = {
    "kind": "number",
    "features": [{"name": "a", "dtype": "float", "min": 0, "max": 10}, {"name": "b", "dtype": "float"}],
    "target": {"name": "y", "dtype": "float"},
}


def test_a_table_row_is_checked_field_by_field_and_answered_as_json():
    kind = kind_for(NUMBER)
    model = LinearRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), np.array([1.0, 2.0, 5.0]))
    answer = kind.answer(model, request(kind, rows=[{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 0.5}]))
    assert answer.records == [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 0.5}]
    assert answer.values == pytest.approx(model.predict(np.array([[1.0, 2.0], [3.0, 0.5]])).tolist())
    assert all(type(value) is float for value in answer.values)
    response = kind.respond([7, 8], answer, "3")
    assert response[0].model_dump() == {
        "id": 7,
        "prediction": answer.values[0],
        "model_version": "3",
    }
    assert "less_than_equal" in refused(kind, {"rows": [{"a": 11.0, "b": 0.0}]})
    assert "float_type" in refused(kind, {"rows": [{"a": "1", "b": 0.0}]})
    assert "extra_forbidden" in refused(kind, {"rows": [{"a": 1.0, "b": 0.0, "c": 1.0}]})
    assert "at least 1 item" in refused(kind, {"rows": []})


def test_a_non_finite_table_answer_is_an_answer_error():
    class Broken:
        def predict(self, X):
            return np.full(len(X), np.nan)

    kind = kind_for(NUMBER)
    with pytest.raises(AnswerError, match="non-finite"):
        kind.answer(Broken(), request(kind, rows=[{"a": 1.0, "b": 2.0}]))


def test_a_table_row_is_explained_by_the_models_declared_method_as_plain_json():
    class Explained(LinearRegression):
        def contributions(self, X):
            return [{"terms": row * self.coef_, "bias": self.intercept_} for row in X]

    kind = kind_for(NUMBER)
    model = Explained().fit(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), np.array([1.0, 2.0, 5.0]))
    explained = kind.explain(model, request(kind, rows=[{"a": 1.0, "b": 2.0}]), "contributions")
    assert explained == [
        {"terms": pytest.approx(list(np.array([1.0, 2.0]) * model.coef_)), "bias": pytest.approx(model.intercept_)}
    ]
    assert json.dumps(explained)  # lists and floats, no NumPy types
    with pytest.raises(KindError, match="not rows"):
        kind_for({"kind": "text_generation"}).explain(model, None, "contributions")


def test_rows_read_the_same_from_records_and_from_a_parquet_frame():
    deliverable = catalog.get("backprop")
    kind = pipeline_kinds.kind_of(deliverable)
    images = np.random.default_rng(0).random((3, 8, 8))
    records = [{"image": image.tolist()} for image in images]
    frame = pd.DataFrame({"image": [image.ravel() for image in images], deliverable.target.name: [1, 2, 3]})
    np.testing.assert_array_equal(kind.model_input(records), images)
    np.testing.assert_array_equal(kind.model_input(frame), images)
    assert kind.model_target(frame).dtype == np.int64
    with pytest.raises(ValueError, match="not arrays of 64 numbers"):
        kind.model_input([{"image": [0.0] * 63}])


@pytest.mark.parametrize(
    ("deliverable", "good", "target", "bad"),
    [("linear_regression", 151.5, 151.5, "x"), ("knn", 3, 3.0, 3.5), ("rnn", True, None, 1), ("gan", False, None, 0.5)],
)
def test_feedback_has_the_kinds_type(deliverable, good, target, bad):
    kind = pipeline_kinds.kind_of(catalog.get(deliverable))
    item = kind.Feedback.model_validate({"id": 1, "label": good})
    assert kind.label(item.label) == (target, good)  # the label column holds targets only: a thumb is none
    with pytest.raises(ValidationError):
        kind.Feedback.model_validate({"id": 1, "label": bad})


def test_table_descriptors_describe_text_and_images_by_numbers():
    kind = pipeline_kinds.kind_of(catalog.get("naive_bayes"))
    frame = kind.describe(pd.DataFrame({"text": ["a fine film", "dull"]}), [1, 0], vocabulary={"a", "fine", "film"})
    assert list(frame.columns) == [d.name for d in kind.descriptors(vocabulary=True)]
    assert frame["text_words"].tolist() == [3.0, 1.0] and frame["text_chars"].tolist() == [11.0, 4.0]
    assert frame["text_oov_share"].tolist() == [0.0, 1.0] and frame["prediction"].tolist() == [1, 0]
    kind = pipeline_kinds.kind_of(catalog.get("gan"))
    frame = kind.describe(pd.DataFrame({"digit": [3, 4]}), [[[0.0, 1.0]], [[0.5, 0.5]]])
    assert frame["prediction_mean"].tolist() == [0.5, 0.5] and frame["prediction_std"].tolist() == [0.5, 0.0]


# -- text generation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 65}, "max_new_tokens"),
        ({"max_new_tokens": "5"}, "max_new_tokens"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 5.5}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"seed": -1}, "seed"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 101}, "prompt"),
        ({"temprature": 1.0}, "temprature"),
    ],
)
def test_a_bad_generation_parameter_is_refused_naming_it(change, field):
    message = refused(kind_for(GENERATION), {"prompt": "to be", **change})
    assert field in message


def test_generation_defaults_and_bounds_from_the_spec():
    kind = kind_for(GENERATION)
    body = request(kind, prompt="to be")
    assert body.model_dump() == {
        "prompt": "to be",
        "max_new_tokens": 50,
        "temperature": 1.0,
        "top_k": None,
        "top_p": 1.0,
        "seed": None,
    }
    full = request(kind, prompt="to be", max_new_tokens=64, temperature=0, top_k=20, top_p=0.9, seed=1)
    assert full.temperature == 0.0 and full.top_k == 20
    assert "max_new_tokens" in refused(kind_for({"kind": "text_generation"}), {"prompt": "a", "max_new_tokens": 257})
    assert "top_k" in refused(kind_for({**GENERATION, "generation": {"vocab_size": 10}}), {"prompt": "a", "top_k": 11})


def test_what_only_the_model_can_judge_is_refused_before_any_token():
    kind, model = kind_for(GENERATION), TinyCharModel()
    with pytest.raises(RequestRefused, match="prompt: characters outside the vocabulary: 'XZ'") as error:
        kind.check(model, request(kind, prompt="to beXZ"))
    assert error.value.field == "prompt"
    with pytest.raises(RequestRefused, match="top_k: must be at most the vocabulary size"):
        kind.check(model, request(kind, prompt="to be", top_k=model.vocab_size + 1))
    kind.check(model, request(kind, prompt="to be", top_k=model.vocab_size))


def test_generation_answers_the_whole_text_and_streams_the_same_tokens():
    kind, model = kind_for(GENERATION), TinyCharModel()
    body = request(kind, prompt="to be", max_new_tokens=12, temperature=0.8, top_k=5, top_p=0.9, seed=3)
    chunks = list(kind.stream(model, body))
    answer = kind.answer(model, body)
    assert len(chunks) == 12 and answer.values == [{"text": "".join(chunks), "tokens": 12}]
    assert answer.records == [body.model_dump()] and answer.log_values == ["".join(chunks)]
    response = kind.respond([5], answer, "2").model_dump()
    assert response == {"id": 5, "text": "".join(chunks), "tokens": 12, "model_version": "2"}
    greedy = request(kind, prompt="to be", max_new_tokens=8, temperature=0)
    assert kind.answer(model, greedy).values == kind.answer(model, greedy).values
    assert kind.finish(body, ["a", "b"]).values == [{"text": "ab", "tokens": 2}]
    assert kinds.sse({"token": "a\n"}) == 'data: {"token": "a\\n"}\n\n'
    assert kinds.sse({"text": "ab"}, event="done") == 'event: done\ndata: {"text": "ab"}\n\n'


def test_generation_feedback_is_a_thumb_and_drift_reads_prompts_as_text():
    kind = kind_for(GENERATION)
    assert kind.label(kind.Feedback.model_validate({"id": 1, "label": True}).label) == (None, True)
    with pytest.raises(ValidationError):
        kind.Feedback.model_validate({"id": 1, "label": "good"})
    logged = pd.DataFrame([request(kind, prompt=prompt, seed=1).model_dump() for prompt in ("to be or", "zz")])
    frame = kind.describe(logged, ["not to", "x"], vocabulary=TinyCharModel().vocabulary)
    assert list(frame.columns) == [d.name for d in kind.descriptors(vocabulary=True)]
    assert frame["prompt_words"].tolist() == [3.0, 1.0] and frame["prompt_oov_share"].tolist() == [0.0, 1.0]
    assert frame["prediction_chars"].tolist() == [6.0, 1.0]
    assert {d.name: d.type for d in kind.descriptors()}["temperature"] == "numerical"


# -- actions ----------------------------------------------------------------------------------------


def test_observations_are_checked_per_dimension_naming_the_index_and_bound():
    kind = kind_for(ACTION)
    body = request(kind, observations=[[0.0, 100.0, 0.1, -1e6], [1.0, 0.0, 0.0, 0.0]])
    assert len(body.observations) == 2
    assert "observations[1][2] = 0.5 is above dimension 2's high bound 0.42" in refused(
        kind, {"observations": [[0.0] * 4, [0.0, 0.0, 0.5, 0.0]]}
    )
    assert "observations[0][0] = -5.0 is below dimension 0's low bound -4.8" in refused(
        kind, {"observations": [[-5.0, 0.0, 0.0, 0.0]]}
    )
    assert "at least 4 items" in refused(kind, {"observations": [[0.0, 0.0, 0.0]]})
    assert "finite_number" in refused(kind, {"observations": [[float("nan"), 0.0, 0.0, 0.0]]})
    with pytest.raises(KindError, match="observation"):
        kind_for({"kind": "action"})


def test_an_action_per_observation_a_reward_as_feedback_and_drift_on_each_dimension():
    kind = kind_for(ACTION)
    policy = LinearPolicy(np.array([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    answer = kind.answer(policy, request(kind, observations=[[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]))
    assert answer.values == [0, 1] and answer.records[1] == {"observation": [-1.0, 0, 0, 0]}
    assert [item.model_dump() for item in kind.respond([1, 2], answer, "1")][1] == {
        "id": 2,
        "action": 1,
        "model_version": "1",
    }
    assert kind.label(kind.Feedback.model_validate({"id": 1, "label": -1.5}).label) == (None, -1.5)
    types = {d.name: d.type for d in kind.descriptors()}
    assert types == {f"observation_{j}": "numerical" for j in range(4)} | {"prediction": "categorical"}
    frame = kind.describe(pd.DataFrame(answer.records), answer.values)
    assert frame["observation_0"].tolist() == [1.0, -1.0] and frame["prediction"].tolist() == [0, 1]

    class FloatPolicy:
        def act(self, observations):
            return np.zeros(len(observations))

    with pytest.raises(AnswerError, match="not one integer action each"):
        kind.answer(FloatPolicy(), request(kind, observations=[[0.0] * 4]))


# -- ranked documents -------------------------------------------------------------------------------


def test_a_query_and_k_are_bounded():
    kind = kind_for(SEARCH)
    assert request(kind, query="cat").k == 5  # the default, capped by max_k
    assert "k" in refused(kind, {"query": "cat", "k": 6}) and "k" in refused(kind, {"query": "cat", "k": 0})
    assert "the query is blank" in refused(kind, {"query": "   "})
    assert "query" in refused(kind, {"query": "x" * 51})


def test_ranked_documents_answer_ids_scores_and_snippets_and_take_relevant_ids_as_feedback():
    kind, search = kind_for(SEARCH), WordOverlapSearch(DOCUMENTS)
    answer = kind.answer(search, request(kind, query="the cat", k=2))
    response = kind.respond([9], answer, "1").model_dump()
    assert response["documents"] == [
        {"doc_id": "d1", "score": 2.0, "snippet": "the cat sat on the ma"[:20]},
        {"doc_id": "d2", "score": 2.0, "snippet": "a dog barked at the "},
    ]
    assert answer.log_values == [[{"doc_id": "d1", "score": 2.0}, {"doc_id": "d2", "score": 2.0}]]
    assert kind.label(kind.Feedback.model_validate({"id": 9, "label": ["d1", 3]}).label) == (None, ["d1", 3])
    assert kind.label(kind.Feedback.model_validate({"id": 9, "label": False}).label) == (None, False)
    frame = kind.describe(pd.DataFrame(answer.records), answer.log_values, vocabulary=search.vocabulary)
    assert frame["query_oov_share"].tolist() == [0.0] and frame["prediction_top_score"].tolist() == [2.0]
    assert frame["k"].tolist() == [2.0]


# -- drift through Evidently with the kinds' column types -------------------------------------------


def test_evidently_sees_categorical_answers_and_numerical_observations():
    from pipeline.monitor import drift_report, summarize

    kind, rng = kind_for(ACTION), np.random.default_rng(0)
    calm = [{"observation": rng.normal(0, 0.1, 4).tolist()} for _ in range(200)]
    shifted = [{"observation": (rng.normal(0, 0.1, 4) + np.array([2.0, 0, 0, 0])).tolist()} for _ in range(200)]
    reference = kind.describe(pd.DataFrame(calm), rng.integers(0, 2, 200).tolist())
    current = kind.describe(pd.DataFrame(shifted), [1] * 200)
    descriptors = kind.descriptors()
    snapshot = drift_report(reference, current, descriptors, drift_share=0.5)
    share, drifted, prediction_drift = summarize(snapshot.dict(), descriptors)
    assert drifted == ["observation_0"] and share == 0.25 and prediction_drift is True
    methods = {m["config"].get("column"): m["config"].get("method") for m in snapshot.dict()["metrics"]}
    assert methods["observation_0"] == "K-S p_value"  # numerical: Kolmogorov-Smirnov
    assert methods["prediction"] in ("Z-test p_value", "chi-square p_value")  # categorical: proportions


# -- model loading and the log ----------------------------------------------------------------------


def test_a_model_loads_from_a_pickle_or_a_directory_through_its_loader(tmp_path):
    import pickle

    model = TinyCharModel()
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    model.save(tmp_path / "model")
    path_of = lambda name: str(tmp_path / name)  # noqa: E731 - BentoML's Model.path_of
    assert load_model(path_of, {}).alphabet == model.alphabet
    loaded = load_model(path_of, {"model_format": "directory", "model_loader": f"{__name__}:TinyCharModel"})
    assert isinstance(loaded, TinyCharModel) and np.array_equal(loaded.probabilities, model.probabilities)
    with pytest.raises(ValueError, match="model_format must be one of pickle, directory"):
        load_model(path_of, {"model_format": "onnx"})
    with pytest.raises(ValueError, match="cannot be imported"):
        import_object("tests.unit.nowhere:Model")


def test_the_log_keeps_feedback_as_sent_and_its_number(tmp_path):
    log = InferenceLog(tmp_path / "log.db")
    try:
        ids = log.append("g", "1", [{"prompt": "to be"}, {"query": "cat"}], ["or not", [{"doc_id": "d1"}]], 1.0)
        assert log.add_labels("g", {ids[0]: 1.0, ids[1]: None}, {ids[0]: True, ids[1]: ["d1"]}) == 2
        frame = log.recent("g", 10)
        assert frame["feedback"].tolist() == [True, ["d1"]]
        assert frame["label"].tolist()[0] == 1.0 and pd.isna(frame["label"].tolist()[1])
        assert frame["prediction"].tolist() == ["or not", [{"doc_id": "d1"}]]
    finally:
        log.close()


def test_recorded_reference_requests_are_read_back_from_parquet(tmp_path):
    from types import SimpleNamespace

    from pipeline.monitor import REFERENCE_REQUESTS, reference_traffic

    kind = kind_for(ACTION)
    recorded = pd.DataFrame({"observation": [[0.1, 0.0, 0.0, 0.2], [0.0, 1.0, 0.1, 0.0]], "prediction": [0, 1]})
    recorded.to_parquet(tmp_path / REFERENCE_REQUESTS)
    ctx = SimpleNamespace(paths=SimpleNamespace(data=tmp_path), run_key="dqn")
    frame, answers = reference_traffic(ctx, kind, model=None)
    described = kind.describe(frame, answers)
    assert described["observation_1"].tolist() == [0.0, 1.0] and described["prediction"].tolist() == [0, 1]

    kind = kind_for(SEARCH)
    answers = [[{"doc_id": "d1", "score": 2.5}], []]
    pd.DataFrame({"query": ["the cat", "dogs"], "k": [3, 5], "prediction": answers}).to_parquet(
        tmp_path / REFERENCE_REQUESTS
    )
    frame, answers = reference_traffic(ctx, kind, model=None)
    assert kind.describe(frame, answers)["prediction_top_score"].tolist() == [2.5, 0.0]
    (tmp_path / REFERENCE_REQUESTS).unlink()
    with pytest.raises(ValueError, match="no reference traffic at"):
        reference_traffic(ctx, kind, model=None)


def test_feedback_that_is_no_target_is_summarised_by_its_kind():
    thumbs = kind_for(GENERATION).feedback_summary([True, False, False, True, True], ["a"] * 5)
    assert thumbs == {"measure": "thumbs_up_share", "rows": 5, "value": 0.6}
    rewards = kind_for(ACTION).feedback_summary([1.0, 0.0, 2], [0, 1, 1])
    assert rewards == {"measure": "mean_reward", "rows": 3, "value": 1.0}
    served = [[{"doc_id": "d1", "score": 2.0}, {"doc_id": "d2", "score": 1.0}], [{"doc_id": 3, "score": 1.0}]]
    recall = kind_for(SEARCH).feedback_summary([["d2", "d9"], [3]], served)
    assert recall == {"measure": "recall_of_served_rankings", "rows": 2, "value": 0.75}
    assert kind_for(SEARCH).feedback_summary([True, False], served)["measure"] == "thumbs_up_share"
    assert kind_for(GENERATION).feedback_summary([], []) is None
