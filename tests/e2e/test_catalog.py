"""Every deliverable of the catalog through its whole flow, at tiny size, on the real stack
(Prefect, Great Expectations, Feast, MLflow, BentoML), then the parity table over all of them."""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from s2p import catalog
from tests.conftest import served, store_variables

pytestmark = pytest.mark.slow


#: Deliverables whose reference is another kind of model, not the same one built by a library.
ANOTHER_KIND_OF_MODEL = {
    "autoencoder": "PCA",
    "gan": "a Gaussian mixture per digit",
    "fairness_audit": "fairlearn's randomized thresholds, on the smoke size's 400 test rows",
    "whisper_mini": "pocketsphinx's pretrained HMM recognizer; ours is untrained at the smoke size",
}
#: Deliverables whose smoke size is too small for parity to mean anything (PARITY.md holds theirs).
NOISY_AT_SMOKE_SIZE = {
    "dqn": "2,000 environment steps: a return of 121 or 150 is the same untrained policy",
    "clip": "600 pairs, 4 epochs: a recall@1 of 0.03 or 0.06 is two of 120 held-out captions, chance level",
}


@pytest.fixture(scope="module")
def runs():
    """Every deliverable at its smoke size (params.yaml) in one syllabus flow (`s2p run all --size smoke`:
    the steps in worker processes, an upstream such as income before its audit), in stores of their
    own; {id: summary, or the error of its failed step}. A test that reads those stores asks for `catalog_stores`."""
    from flows.deliverable import syllabus_flow
    from pipeline.context import load_context
    from scheduler.executor import StepsFailed

    base = Path(tempfile.mkdtemp(prefix="s2p-catalog-"))
    saved = dict(os.environ)
    try:
        os.environ.update(store_variables(base))
        try:
            results = dict(syllabus_flow(selection="all", size="smoke"))
        except StepsFailed as failed:  # each failure is reported by its deliverable's test
            results = {}
            for d in catalog.CATALOG:
                mine = [o for name, o in failed.outcomes.items() if name.startswith(f"{d.id}.") and not o.succeeded]
                summary = load_context(d.id, size="smoke").paths.run_summary
                results[d.id] = (
                    (mine[0].error or RuntimeError(f"{mine[0].name}: {mine[0].reason}"))
                    if mine
                    else json.loads(summary.read_text())
                )
        finally:
            os.environ.clear()
            os.environ.update(saved)
        yield results, base
    finally:
        shutil.rmtree(base, ignore_errors=True)  # ~210 MB of stores a run


@pytest.fixture
def catalog_stores(runs, monkeypatch):
    """The catalog run's stores for this test (its served models, registry, logs); restored afterwards."""
    _, base = runs
    for var, value in store_variables(base).items():
        monkeypatch.setenv(var, value)
    return base


def test_a_phase_on_a_dask_cluster_gives_the_local_runs_results(runs, dask_cluster):
    """The same deliverables at the same size across a real Dask cluster (two worker processes, a real
    Prefect server): the same metrics as the local syllabus flow's (measured durations aside)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    address, env = dask_cluster
    result = subprocess.run(
        [sys.executable, "-m", "s2p.cli", "run", "--phase", "DSA", "--size", "smoke", "--cluster", address, "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    on_cluster = json.loads(result.stdout)
    assert list(on_cluster) == [d.id for d in catalog.select("DSA")]
    for deliverable, summary in on_cluster.items():
        assert set(summary["steps"].values()) == {"completed"}, deliverable
        for side in ("ours", "reference"):
            assert untimed(summary["metrics"][side]) == untimed(runs[0][deliverable]["metrics"][side]), deliverable
        assert (Path(env["S2P_ARTIFACTS_DIR"]) / deliverable / "bento.json").is_file()  # by the cluster's workers


def test_the_syllabus_flow_publishes_its_steps_and_graph(runs):
    """The fixture's one syllabus flow left its report in Prefect: every step's state, and the graph."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    assert list(runs[0]) == [d.id for d in catalog.CATALOG]
    with get_client(sync_client=True) as client:
        steps, dag = (
            client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"syllabus-all-{kind}"])))
            for kind in ("steps", "dag")
        )
    rows = json.loads(steps[0].data) if isinstance(steps[0].data, str) else steps[0].data
    assert {row["step"] for row in rows} >= {"tokenizer.etl", "knn_search.package", "fairness_audit.champion"}
    assert {row["state"] for row in rows} == {"completed"}
    assert "graph TD" in dag[0].data and "text_similarity.train" in dag[0].data


def untimed(metrics: dict) -> dict:
    """Metrics less the measured durations, which differ from run to run."""
    return {name: value for name, value in metrics.items() if not name.endswith(("_ms", "_seconds", "per_second"))}


@pytest.mark.parametrize("deliverable", catalog.CATALOG, ids=lambda d: d.id)
def test_every_deliverable_runs_its_whole_flow(runs, catalog_stores, deliverable):
    from mlflow.tracking import MlflowClient

    summary = runs[0][deliverable.id]
    if isinstance(summary, Exception):
        raise summary
    assert set(summary["steps"].values()) == {"completed"}
    ours, reference = summary["metrics"]["ours"], summary["metrics"]["reference"]
    assert set(ours) == set(reference) == set(deliverable.metrics)
    gate = deliverable.gate.metric
    assert np.isfinite(ours[gate])
    if deliverable.id not in ANOTHER_KIND_OF_MODEL | NOISY_AT_SMOKE_SIZE:  # tiny data: parity is PARITY.md's job
        assert abs(ours[gate] - reference[gate]) <= 0.1 * abs(reference[gate])
    assert summary["mlflow"]["promoted"] and summary["bento"]["tag"].startswith(f"{deliverable.id}:")
    client = MlflowClient(summary["mlflow"]["tracking_uri"])
    run_id = summary["mlflow"]["run_id"]
    logged = {Path(a.path).name for a in client.list_artifacts(run_id, "plots")}
    assert {f"{name}.png" for name in deliverable.plots} <= logged
    if deliverable.phase == "2":  # networks: the loss curve of each epoch is an MLflow metric history
        curve = client.get_metric_history(run_id, "ours_train_loss")
        assert len(curve) > 1 and [m.step for m in curve] == list(range(len(curve)))


def test_parity_table_covers_every_deliverable(catalog_stores, tmp_path):
    from pipeline.parity import run_parity
    from s2p.paths import Stores

    base = catalog_stores
    table = run_parity(Stores.from_env(), repeats=1, output=tmp_path / "PARITY.md")
    assert [row["deliverable"] for row in table["rows"]] == [d.id for d in catalog.CATALOG]
    markdown = (tmp_path / "PARITY.md").read_text()
    for row in table["rows"]:
        assert f"| {row['deliverable']} |" in markdown
        assert row["fit_seconds_ours"] > 0 and row["fit_seconds_reference"] > 0
    assert (base / "artifacts" / "parity.json").exists()


@pytest.mark.parametrize(
    ("deliverable", "expected"),
    [("knn", int), ("naive_bayes", int), ("kmeans", int), ("pca", list), ("tokenizer", list), ("knn_search", list)],
    ids=["class", "text", "cluster", "vector", "tokens", "neighbours"],
)
def test_served_models_answer_in_their_tasks_type(catalog_stores, deliverable, expected):
    d = catalog.get(deliverable)
    with served(deliverable) as url:
        row = {
            column.name: "a moving and beautiful film" if column.dtype == "text" else float(column.min or 0) + 1.0
            for column in d.features
        }
        answer = httpx.post(f"{url}/predict", json={"rows": [row, row]}, timeout=10)
        assert answer.status_code == 200, answer.text
        predictions = answer.json()
        assert all(isinstance(p["prediction"], expected) for p in predictions)
        label = {"id": predictions[0]["id"], "label": 1}
        assert httpx.post(f"{url}/feedback", json={"labels": [label]}, timeout=10).status_code == 200
        wrong = {"id": predictions[1]["id"], "label": 1.5}  # a class is an integer
        refused = httpx.post(f"{url}/feedback", json={"labels": [wrong]}, timeout=10)
        assert refused.status_code == 400 and "integer" in refused.text


IMAGE = [[0.5] * 28 for _ in range(28)]
DIGIT_IMAGE = [[0.25] * 8 for _ in range(8)]


@pytest.mark.parametrize(
    ("deliverable", "row", "check", "bad_row", "problem"),
    [
        ("mlp", {"image": IMAGE}, lambda p: isinstance(p, int) and 0 <= p <= 9,
         {"image": IMAGE[:27]}, "at least 28"),
        ("rnn", {"text": "The movie"}, lambda p: isinstance(p, str), {"text": ""}, "at least 1 character"),
        ("attention", {"sequence": [3, 1, 4, 1, 5, 9, 2, 6]},
         lambda p: len(p) == 8 and all(isinstance(t, int) and 0 <= t <= 9 for t in p),
         {"sequence": [3, 1, 4, 1, 5, 9, 2, 6.5]}, "valid integer"),
        ("autoencoder", {"image": DIGIT_IMAGE}, lambda p: len(p) == 4 and all(isinstance(v, float) for v in p),
         {"image": [[2.0] * 8] * 8}, "less than or equal to 1"),
        ("gan", {"digit": 3}, lambda p: np.asarray(p).shape == (8, 8) and 0 <= np.min(p) <= np.max(p) <= 1,
         {"digit": 3.5}, "integer"),
    ],
    ids=["image-class", "text-continuation", "sorted-sequence", "image-latent", "class-image"],
)  # fmt: skip
def test_served_deep_models_read_images_and_sequences(catalog_stores, deliverable, row, check, bad_row, problem):
    with served(deliverable) as url:
        answer = httpx.post(f"{url}/predict", json={"rows": [row]}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert check(answer.json()[0]["prediction"]), answer.json()
        refused = httpx.post(f"{url}/predict", json={"rows": [bad_row]}, timeout=10)
        assert refused.status_code == 400 and problem in refused.text, refused.text
        assert httpx.post(f"{url}/predict", json={"rows": [row]}, timeout=10).status_code == 200  # still serving


def _served_new_kind(deliverable, exchange):
    with served(deliverable) as url:
        exchange(url)


def test_gpt_mini_answers_whole_and_streams_tokens(catalog_stores):
    body = {"prompt": "ROMEO:", "max_new_tokens": 12, "temperature": 0.8, "top_k": 20, "top_p": 0.9, "seed": 1}

    def exchange(url):
        whole = httpx.post(f"{url}/predict", json=body, timeout=30)
        assert whole.status_code == 200, whole.text
        assert whole.json()["tokens"] == 12 and isinstance(whole.json()["text"], str)
        with httpx.stream("POST", f"{url}/stream", json=body, timeout=30) as streamed:
            assert streamed.headers["content-type"].startswith("text/event-stream")
            events = [line for line in streamed.iter_lines() if line.startswith("data: ")]
        assert len(events) == 12 + 1  # one event per token, then the final one with the whole text
        assert json.loads(events[-1].removeprefix("data: "))["text"] == whole.json()["text"]  # same seed
        refused = httpx.post(f"{url}/stream", json={**body, "top_p": 1.5}, timeout=30)
        assert refused.status_code == 400 and "top_p" in refused.text

    _served_new_kind("gpt_mini", exchange)


def test_dqn_answers_an_action_per_observation_within_bounds(catalog_stores):
    def exchange(url):
        answer = httpx.post(f"{url}/predict", json={"observations": [[0.0, 0.1, 0.02, -0.1]] * 2}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert [a["action"] in (0, 1) for a in answer.json()] == [True, True]
        refused = httpx.post(f"{url}/predict", json={"observations": [[0.0, 0.1, 0.9, -0.1]]}, timeout=30)
        assert refused.status_code == 400 and "observations[0][2]" in refused.text  # the pole angle's bound

    _served_new_kind("dqn", exchange)


def test_hybrid_search_answers_ranked_documents_with_snippets(catalog_stores):
    def exchange(url):
        answer = httpx.post(f"{url}/predict", json={"query": "a natural stream of water", "k": 3}, timeout=30)
        assert answer.status_code == 200, answer.text
        documents = answer.json()["documents"]
        assert len(documents) == 3 and all(d["snippet"] for d in documents)
        assert [d["score"] for d in documents] == sorted((d["score"] for d in documents), reverse=True)
        refused = httpx.post(f"{url}/predict", json={"query": "water", "k": 1000}, timeout=30)
        assert refused.status_code == 400 and "k" in refused.text

    _served_new_kind("hybrid_search", exchange)


def test_the_fairness_audits_mitigated_model_serves_income_rows(runs, catalog_stores):
    from models.phase9.income.data import adult

    row = {name: int(value) for name, value in adult(1).drop(columns=["income"]).iloc[0].items()}

    def exchange(url):
        answer = httpx.post(f"{url}/predict", json={"rows": [row]}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["prediction"] in (0, 1)

    summary = runs[0]["fairness_audit"]
    assert summary["feature_store"].startswith("none") and summary["recipe"] == "audit"
    _served_new_kind("fairness_audit", exchange)


def test_the_recommender_folds_events_pushed_to_its_feature_store_into_the_next_answer(catalog_stores):
    def exchange(url):
        before = httpx.post(f"{url}/predict", json={"user_id": 3, "k": 5}, timeout=30)
        assert before.status_code == 200, before.text
        played = [item["item_id"] for item in before.json()["items"][:2]]  # the user now plays two of them
        events = [{"user_id": 3, "item_id": item, "plays": 4, "timestamp": time.time()} for item in played]
        pushed = httpx.post(f"{url}/events", json={"events": events}, timeout=30)
        assert pushed.status_code == 200 and pushed.json() == {"users": 1, "events": 2}, pushed.text
        after = httpx.post(f"{url}/predict", json={"user_id": 3, "k": 5}, timeout=30).json()
        assert after["fresh"] >= 2 and after["history"] >= before.json()["history"] + 2
        assert not set(played) & {item["item_id"] for item in after["items"]}  # what was played is not offered
        refused = httpx.post(f"{url}/events", json={"events": [{**events[0], "plays": 0}]}, timeout=30)
        assert refused.status_code == 400 and "plays" in refused.text
        assert httpx.post(f"{url}/predict", json={"user_id": 3, "k": 1000}, timeout=30).status_code == 400

    _served_new_kind("recommender", exchange)


def test_the_transformer_explains_a_sentence_by_its_attention_heads(catalog_stores):
    def exchange(url):
        body = {"rows": [{"text": "a moving and funny film"}, {"text": "dull"}]}
        explained = httpx.post(f"{url}/explain", json=body, timeout=30)
        assert explained.status_code == 200, explained.text
        first, second = explained.json()["explanations"]
        heads, length = len(first["weights"]), len(first["tokens"])
        words = [token for token in first["tokens"] if not token.startswith("[")]  # a [CLS] when it pools by it
        assert heads >= 1 and words == ["moving", "and", "funny", "film"]  # the tokenizer's words ("a" is none)
        assert np.allclose(np.asarray(first["weights"]).sum(axis=-1), 1.0)  # each token's attention sums to 1
        assert np.asarray(first["weights"]).shape == (heads, length, length)
        assert [token for token in second["tokens"] if not token.startswith("[")] == ["dull"]
        refused = httpx.post(f"{url}/explain", json={"rows": [{"text": "!!! ..."}]}, timeout=30)
        assert refused.status_code == 400 and "no words" in refused.text

    _served_new_kind("transformer", exchange)


def test_clip_retrieves_captions_for_an_image_and_images_for_a_caption(catalog_stores):
    from models.phase3.clip.data import shape_captions

    pair = shape_captions().iloc[0]
    image = np.asarray(pair["image"], dtype=float).reshape(32, 32, 3).tolist()

    def exchange(url):
        by_image = httpx.post(f"{url}/predict", json={"image": image, "k": 3}, timeout=30)
        assert by_image.status_code == 200, by_image.text
        assert by_image.json()["query"] == "image" and len(by_image.json()["matches"]) == 3
        by_text = httpx.post(f"{url}/predict", json={"text": pair["caption"], "k": 2}, timeout=30)
        assert by_text.status_code == 200, by_text.text
        scores = [match["score"] for match in by_text.json()["matches"]]
        assert len(scores) == 2 and scores == sorted(scores, reverse=True)
        both = httpx.post(f"{url}/predict", json={"image": image, "text": "a circle", "k": 1}, timeout=30)
        assert both.status_code == 400
        too_many = httpx.post(f"{url}/predict", json={"text": "a circle", "k": 1000}, timeout=30)
        assert too_many.status_code == 400 and "k" in too_many.text

    _served_new_kind("clip", exchange)


def test_whisper_mini_transcribes_audio_and_refuses_another_sample_rate(catalog_stores):
    from models.phase3.whisper_mini.data import spoken_commands

    row = spoken_commands(per_voice=1, held_out_per_voice=1).iloc[0]  # one utterance a voice: seconds, not 30
    audio = np.asarray(row["audio"], dtype=float)[: int(row["length"])].tolist()

    def exchange(url):
        answer = httpx.post(f"{url}/predict", json={"audio": audio, "sample_rate": 16000}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert isinstance(answer.json()["transcript"], str)
        refused = httpx.post(f"{url}/predict", json={"audio": audio, "sample_rate": 8000}, timeout=30)
        assert refused.status_code == 400 and "sample_rate" in refused.text
        silent = httpx.post(f"{url}/predict", json={"audio": [0.0] * 8000, "sample_rate": 16000}, timeout=30)
        assert silent.status_code == 400 and "audio" in silent.text

    _served_new_kind("whisper_mini", exchange)


def test_ddpm_draws_with_the_sampler_and_steps_a_request_asks_within_its_bounds(catalog_stores):
    def exchange(url):
        body = {"rows": [{"digit": 4}], "sampler": "ddim", "steps": 4}
        answer = httpx.post(f"{url}/predict", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        image = np.asarray(answer.json()[0]["prediction"])
        assert image.shape == (8, 8) and image.min() >= 0.0 and image.max() <= 1.0
        refused = httpx.post(f"{url}/predict", json={**body, "steps": 999}, timeout=30)  # trained on fewer
        assert refused.status_code == 400 and "steps" in refused.text

    _served_new_kind("ddpm", exchange)


#: Served traffic unlike the data each model learned from: the monitor of its kind must flag it.
DRIFTING_TRAFFIC = {
    "gpt_mini": ("/predict", lambda i: {"prompt": "zzzz qqqq xxxx " * (1 + i % 5), "max_new_tokens": 2, "seed": i}),
    "dqn": ("/predict", lambda i: {"observations": [[2.0 + i / 100, 5.0, 0.3, -5.0]]}),
    "hybrid_search": ("/predict", lambda i: {"query": "quantum chromodynamics lattice gauge " * (1 + i % 4), "k": 3}),
}


@pytest.mark.parametrize("deliverable", sorted(DRIFTING_TRAFFIC))
def test_served_traffic_of_the_new_kinds_is_monitored_for_drift(catalog_stores, deliverable):
    """Requests, through the real service, compared with the recipe's reference requests by Evidently
    with the kind's descriptors (text length and out-of-vocabulary share, observation dimensions)."""
    from pipeline.context import load_context
    from pipeline.monitor import run_monitor

    route, body = DRIFTING_TRAFFIC[deliverable]
    measure, feedback, expected = FEEDBACK[deliverable]

    def exchange(url):
        for i in range(40):
            answer = httpx.post(f"{url}{route}", json=body(i), timeout=30)
            assert answer.status_code == 200
            answered = answer.json()
            for item in answered if isinstance(answered, list) else [answered]:
                label = {"id": item["id"], "label": feedback(i, item)}
                assert httpx.post(f"{url}/feedback", json={"labels": [label]}, timeout=30).status_code == 200

    _served_new_kind(deliverable, exchange)
    result = run_monitor(load_context(deliverable))
    assert result.current_rows >= 40 and Path(result.html).stat().st_size > 0
    assert result.drift_detected, result.to_dict()
    assert result.feedback["measure"] == measure and result.feedback["rows"] >= 40
    assert result.feedback["value"] == pytest.approx(expected)


#: Feedback sent for each answer (thumbs, rewards, relevant documents) and its summary by the monitor.
FEEDBACK = {
    "gpt_mini": ("thumbs_up_share", lambda i, answer: i % 4 == 0, 0.25),
    "dqn": ("mean_reward", lambda i, answer: 1.0 if i % 2 else 0.0, 0.5),
    # the top document named relevant, and one never answered: half of what is relevant was served
    "hybrid_search": ("recall_of_served_rankings", lambda i, answer: [answer["documents"][0]["doc_id"], -1], 0.5),
}
