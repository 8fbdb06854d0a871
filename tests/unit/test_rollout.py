"""The canary's SLO watch, the shared deployment state and the serving params that declare them."""

import json

import pytest

from s2p.config import ConfigError, DeliverableParams, build
from serving.rollout import (
    ACTIVE,
    ROLLED_BACK,
    CanaryWatch,
    DeploymentState,
    Slo,
    label_breach,
    p95,
    roll_back,
    switch_to,
)


def test_an_always_failing_canary_breaches_at_one_failure_over_the_error_budget():
    watch = CanaryWatch(Slo(window=100, max_error_rate=0.05))
    assert watch.slo.error_budget == 5
    reasons = [watch.record(True, 1.0) for _ in range(6)]
    assert reasons[:5] == [None] * 5
    assert reasons[5].startswith("error rate: 6 of the canary's last 6 requests failed")


def test_failures_within_the_budget_or_outside_the_window_are_no_breach():
    watch = CanaryWatch(Slo(window=20, max_error_rate=0.1))  # budget 2 of 20
    outcomes = ([True] + [False] * 9) * 10  # 1 in 10: never more than 2 in any 20
    assert all(watch.record(failed, 1.0) is None for failed in outcomes)
    assert watch.failures == 2 and watch.summary()["window"] == 20
    assert CanaryWatch(Slo(window=10, max_error_rate=0.0)).record(True, 1.0) is not None  # zero budget


def test_latency_is_judged_on_the_answered_requests_once_there_are_enough():
    watch = CanaryWatch(Slo(window=50, min_requests=20, max_p95_ms=10.0))
    assert all(watch.record(False, 50.0) is None for _ in range(19))  # too few to judge
    assert watch.record(False, 50.0).startswith("latency: p95 50 ms")
    fast = CanaryWatch(Slo(window=50, min_requests=20, max_p95_ms=10.0))
    assert all(fast.record(False, 9.0 if i % 25 != 24 else 30.0) is None for i in range(100))  # 4% slow: p95 is fast
    assert p95(range(1, 101)) == 95


def test_the_quality_floor_on_delayed_labels():
    slo = Slo(min_labels=3, max_label_mae=1.0, min_label_accuracy=0.9)
    assert label_breach(slo, [1.0, 2.0, 3.0], [1.0, None, 3.0], "regression") is None  # 2 labels: too few
    assert label_breach(slo, [1.0, 2.0, 3.0, 9.0], [1.0, 2.0, 3.0, None], "regression") is None
    assert "MAE 2" in label_breach(slo, [1.0, 2.0, 9.0], [1.0, 2.0, 3.0], "regression")
    assert "accuracy 0.667" in label_breach(slo, [0, 1, 1], [0, 1, 0], "classification")


def fresh(mode="canary"):
    return {
        "mode": mode,
        "versions": {"blue": "1", "green": "2"},
        "live": "blue",
        "canary": {"status": ACTIVE, "version": "2"} if mode == "canary" else None,
    }


def test_workers_share_one_state_and_a_rollback_happens_once(tmp_path):
    path = tmp_path / "deployments" / "x.json"
    first, second = DeploymentState(path), DeploymentState(path)  # two workers
    assert first.start(fresh())["canary"]["status"] == ACTIVE
    assert second.start(fresh())["events"] == first.current()["events"]  # the second keeps the first's
    state, changed = first.update(roll_back("error rate: 6 of 6", {"requests_seen": 6}, "2"))
    assert changed and state["canary"]["status"] == ROLLED_BACK and state["canary"]["reason"] == "error rate: 6 of 6"
    assert second.current()["canary"]["status"] == ROLLED_BACK  # seen by the other worker at its next request
    _, again = second.update(roll_back("latency", {}, "2"))
    assert not again and [e["event"] for e in second.current()["events"]] == ["start", "rollback"]
    # a restart of the same deployment keeps the rollback; other versions start afresh
    assert DeploymentState(path).start(fresh())["canary"]["status"] == ROLLED_BACK
    other = {**fresh(), "versions": {"blue": "1", "green": "3"}}
    assert DeploymentState(path).start(other)["canary"]["status"] == ACTIVE


def test_a_switch_is_one_atomic_replacement_seen_by_every_worker(tmp_path):
    path = tmp_path / "x.json"
    blue, other = DeploymentState(path), DeploymentState(path)
    blue.start(fresh("blue_green"))
    assert other.current()["live"] == "blue"
    blue.update(switch_to("green", {"blue": "1", "green": "2"}))
    assert other.current()["live"] == "green" and json.loads(path.read_text())["live"] == "green"
    other.update(switch_to("blue", {"blue": "1", "green": "2"}))
    assert blue.current()["live"] == "blue"
    assert [e["detail"] for e in blue.current()["events"][1:]] == ["blue -> green", "green -> blue"]
    with pytest.raises(ValueError, match="blue or green"):
        switch_to("red", {})


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        ({"mode": "rolling"}, "serving.mode must be one of single, shadow, canary, blue_green"),
        ({"live": "red"}, "serving.live must be blue"),
        ({"slo": {"max_error_rate": 1.5}}, "max_error_rate must lie in [0, 1)"),
        ({"slo": {"window": 10, "min_requests": 20}}, "min_requests must lie in [1, window=10]"),
        ({"slo": {"max_p95_ms": 0}}, "max_p95_ms must be positive"),
        ({"slo": {"min_label_accuracy": 2}}, "min_label_accuracy must lie in (0, 1]"),
        ({"slo": {"p99": 3}}, "serving.slo: unknown key(s) p99"),
        ({"slo": {"window": "100"}}, "serving.slo.window must be int"),
    ],
)
def test_bad_serving_params_are_refused_naming_the_key(serving, message):
    with pytest.raises(ConfigError) as refused:
        build(DeliverableParams, {"serving": serving}, "defaults")
    assert message in str(refused.value)


def test_slo_params_reach_the_service_as_the_watch_reads_them():
    params = build(DeliverableParams, {"serving": {"slo": {"max_p95_ms": 50, "window": 40}}}, "defaults")
    slo = Slo.from_spec(params.serving.model_dump()["slo"])
    assert slo.max_p95_ms == 50.0 and slo.window == 40 and slo.error_budget == 2


def test_a_quality_floor_of_another_task_is_refused_before_packaging():
    from pipeline.context import load_context
    from pipeline.package import check_slo

    check_slo(load_context("linear_regression", overrides={"serving": {"slo": {"max_label_mae": 60}}}))
    wrong = load_context("linear_regression", overrides={"serving": {"slo": {"min_label_accuracy": 0.9}}})
    with pytest.raises(ConfigError, match="min_label_accuracy judges a classification's labels; linear_regression"):
        check_slo(wrong)
