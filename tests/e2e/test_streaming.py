"""Text generation on the real stack: a bento of the text_generation kind built through
pipeline/package.py's build-context writer and `bentoml build`, served by `bentoml serve` from the
bento store; POST /predict answers the whole text, POST /stream one server-sent event per token as
it is made, bad parameters are 400s naming them before any token, /docs.json lists both routes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, store_variables
from tests.unit import test_kinds
from tests.unit.test_kinds import TinyCharModel

pytestmark = pytest.mark.slow
DELAY = 0.05  # seconds the model takes per token: slow enough to watch the tokens arrive one by one
MAX_NEW_TOKENS = 64


@pytest.fixture(scope="module")
def bento(tmp_path_factory):
    """The tag of a built text-generation bento and the inference log it writes."""
    import bentoml
    import cloudpickle

    from pipeline.context import load_context
    from pipeline.package import build_bento, serving_spec, write_build_context
    from s2p.paths import Stores

    base = tmp_path_factory.mktemp("streaming")
    with pytest.MonkeyPatch.context() as patch:
        for var, value in store_variables(base).items():
            patch.setenv(var, value)
        ctx = load_context("gpt_mini", Stores.from_env(ROOT))
        cloudpickle.register_pickle_by_value(test_kinds)  # the class travels in the pickle, not in the bento
        try:
            with bentoml.models.create("tiny_char_model") as saved:
                Path(saved.path_of("model.pkl")).write_bytes(cloudpickle.dumps(TinyCharModel(delay=DELAY)))
        finally:
            cloudpickle.unregister_pickle_by_value(test_kinds)
        spec = serving_spec(ctx, str(saved.tag), "1", None) | {
            "model_format": "pickle",
            "generation": {"max_new_tokens": MAX_NEW_TOKENS, "max_prompt_chars": 200},
            "serving": {"mode": "single", "workers": 1, "metrics": False},
        }
        build = write_build_context(ctx, spec)
        assert (build / "serving" / "kinds.py").is_file() and (build / "serving" / "loading.py").is_file()
        return build_bento(build), base / "inference.db"


@pytest.fixture(scope="module")
def server(bento, tmp_path_factory):
    tag, database = bento
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "S2P_INFERENCE_DB": str(database)}
    command = [str(Path(sys.executable).with_name("bentoml")), "serve", tag, "--port", str(port)]
    process = subprocess.Popen(  # from elsewhere than the repo: the bento's own code answers
        command, cwd=log.parent, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bentoml serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, database
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def logged(database: Path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(database) as connection:
        query = "SELECT features, prediction, label, feedback FROM predictions ORDER BY id"
        return connection.execute(query).fetchall()


def events(response: httpx.Response) -> list[tuple[str, dict, float]]:
    """The server-sent events as they arrive: (event name, data, seconds since the request)."""
    started, found, name = time.perf_counter(), [], "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            found.append((name, json.loads(line.removeprefix("data: ")), time.perf_counter() - started))
            name = "message"
    return found


BODY = {"prompt": "to be or not", "max_new_tokens": 20, "temperature": 0.8, "top_k": 10, "top_p": 0.9, "seed": 1}


def test_predict_answers_the_whole_text_and_stream_the_same_tokens_one_event_each(server):
    url, database = server
    whole = httpx.post(f"{url}/predict", json=BODY, timeout=30)
    assert whole.status_code == 200, whole.text
    answer = whole.json()
    assert answer["tokens"] == 20 and len(answer["text"]) == 20 and answer["model_version"] == "1"

    with httpx.stream("POST", f"{url}/stream", json=BODY, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = events(response)
    tokens, (done,) = received[:-1], received[-1:]
    assert [name for name, _, _ in tokens] == ["message"] * 20 and done[0] == "done"
    assert "".join(data["token"] for _, data, _ in tokens) == answer["text"]  # the same seed, the same text
    assert done[1] == {"id": answer["id"] + 1, "text": answer["text"], "tokens": 20, "model_version": "1"}
    first, last = tokens[0][2], done[2]
    assert last - first > 19 * DELAY * 0.8, (first, last)  # the tokens came as they were made, not at the end

    rows = logged(database)[-2:]
    assert [json.loads(features) for features, *_ in rows] == [BODY, BODY]  # the prompt and its parameters
    assert [json.loads(prediction) for _, prediction, *_ in rows] == [answer["text"]] * 2


def test_greedy_and_default_parameters(server):
    url, _ = server
    greedy = {"prompt": "to be", "temperature": 0, "max_new_tokens": 5}
    answers = [httpx.post(f"{url}/predict", json=greedy, timeout=30).json()["text"] for _ in range(2)]
    assert answers[0] == answers[1]
    default = httpx.post(f"{url}/predict", json={"prompt": "the"}, timeout=30).json()
    assert default["tokens"] == 50


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_new_tokens": MAX_NEW_TOKENS + 1}, "max_new_tokens"),
        ({"temperature": -0.5}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "to be XYZ"}, "prompt"),  # characters the model cannot encode
        ({"top_k": 1000}, "top_k"),  # above the model's vocabulary
    ],
)
@pytest.mark.parametrize("route", ["/predict", "/stream"])
def test_a_bad_parameter_is_a_400_naming_it_before_any_token(server, route, change, field):
    url, database = server
    before = len(logged(database))
    response = httpx.post(f"{url}{route}", json={**BODY, **change}, timeout=30)
    assert response.status_code == 400, response.text
    assert field in response.text
    if change.get("prompt") == "to be XYZ":
        assert "XYZ" in response.text
    assert len(logged(database)) == before


def test_feedback_is_a_thumb_up_or_down(server):
    url, database = server
    answer = httpx.post(f"{url}/predict", json=BODY, timeout=30).json()
    ok = httpx.post(f"{url}/feedback", json={"labels": [{"id": answer["id"], "label": True}]}, timeout=10)
    assert ok.status_code == 200 and ok.json() == {"labeled": 1}
    assert logged(database)[-1][2:] == (None, "true")  # kept as sent; the label column holds targets only
    refused = httpx.post(f"{url}/feedback", json={"labels": [{"id": answer["id"], "label": 1}]}, timeout=10)
    assert refused.status_code == 400 and "bool" in refused.text


def test_the_openapi_document_lists_predict_and_stream_with_the_generation_body(server):
    url, _ = server
    document = httpx.get(f"{url}/docs.json", timeout=10).json()
    for route in ("/predict", "/stream"):
        assert "post" in document["paths"][route]
    stream = document["paths"]["/stream"]["post"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    for route in ("/predict", "/stream"):
        fields = document["paths"][route]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
        assert set(fields) == {"prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed"}
        assert fields["max_new_tokens"]["maximum"] == MAX_NEW_TOKENS and fields["top_p"]["exclusiveMinimum"] == 0
