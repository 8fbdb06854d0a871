"""The pipeline's own metrics, pushed to a Prometheus Pushgateway (docs/observability.md).

Off unless ``$S2P_PUSHGATEWAY`` names one (``host:port`` or a URL): then each event below pushes its
gauges, and Prometheus scrapes the gateway (``honor_labels: true``). A flow, a validation or a
monitoring run is a batch job that ends before any scrape could reach it, so it pushes its last
result, as Prometheus's documentation recommends for service-level batch jobs. Each push goes to
the group ``{job="s2p_pipeline", deliverable=...}`` (a flow's totals: ``{flow=...}``) with POST, which
replaces only the pushed metrics' names in that group: a validation's push leaves the drift gauges
alone. Counts of events are PromQL's (``changes(s2p_champion_version[1d])``), not the gateway's.

A gateway that is down costs one warning per process and never fails a step.
"""

from __future__ import annotations

import logging
import os
import time

GATEWAY = "S2P_PUSHGATEWAY"
JOB = "s2p_pipeline"
TIMEOUT_S = 2.0

logger = logging.getLogger(__name__)
_warned = False


def gateway() -> str | None:
    return os.environ.get(GATEWAY) or None


def push(group: dict[str, str], gauges: dict[str, tuple[str, dict[tuple, float] | float]]) -> bool:
    """Push ``gauges`` (name -> (help, value or {label values: value})) to ``group``; label names come
    from ``group``'s ``labels`` entry when values are keyed. True when the gateway took them."""
    global _warned
    address = gateway()
    if address is None:
        return False
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    labels = group.pop("labels", ())
    for name, (help_text, value) in gauges.items():
        if isinstance(value, dict):
            gauge = Gauge(name, help_text, labelnames=labels, registry=registry)
            for key, number in value.items():
                gauge.labels(*key).set(number)
        else:
            Gauge(name, help_text, registry=registry).set(value)
    try:
        pushadd_to_gateway(address, job=JOB, registry=registry, grouping_key=group, timeout=TIMEOUT_S)
    except OSError as error:  # refused, unreachable, timed out, or an HTTP error from the gateway
        if not _warned:
            logger.warning("pipeline metrics not pushed: the Pushgateway at %s: %s", address, error)
            _warned = True
        return False
    return True


def flow_finished(steps, outcomes: dict, seconds: float) -> None:
    """Each step's duration and whether it failed (grouped per deliverable), and the flow's totals."""
    if gateway() is None:
        return
    groups: dict[str, list] = {}
    for step in steps:
        groups.setdefault(step.group, []).append(outcomes[step.name])
    for deliverable, mine in groups.items():
        names = [outcome.name.removeprefix(f"{deliverable}.") for outcome in mine]
        push(
            {"deliverable": deliverable, "labels": ("step",)},
            {
                "s2p_step_duration_seconds": (
                    "Seconds the step ran in its last flow (0: cached)",
                    {(name,): o.seconds for name, o in zip(names, mine, strict=True)},
                ),
                "s2p_step_failed": (
                    "1 when the step failed in its last flow",
                    {(name,): float(not o.succeeded) for name, o in zip(names, mine, strict=True)},
                ),
            },
        )
    flow = next(iter(groups)) if len(groups) == 1 else "syllabus"
    failed = sum(not o.succeeded for o in outcomes.values())
    push(
        {"flow": flow},
        {
            "s2p_flow_duration_seconds": ("Seconds the flow's steps took, end to end", seconds),
            "s2p_flow_failed_steps": ("Steps that failed in the flow's last run", float(failed)),
            "s2p_flow_last_run_timestamp_seconds": ("When the flow last finished", time.time()),
        },
    )


def validation_finished(deliverable: str, report) -> None:
    """A validation's verdict: failed or not, how many expectations failed, on how many rows."""
    push(
        {"deliverable": deliverable},
        {
            "s2p_validation_failed": ("1 when the last validation failed", float(not report.passed)),
            "s2p_validation_failed_expectations": ("Expectations that failed last time", float(len(report.failures))),
            "s2p_validation_rows": ("Rows the last validation checked", float(report.rows)),
            "s2p_validation_last_run_timestamp_seconds": ("When the last validation ran", time.time()),
        },
    )


def drift_measured(result) -> None:
    """A monitoring run: the share of drifted request columns, the threshold it is judged by, the verdicts."""
    quality = result.quality or {}
    push(
        {"deliverable": result.deliverable},
        {
            "s2p_drift_share": ("Share of request columns that drifted in the last window", result.drifted_share),
            "s2p_drift_threshold": ("Share at which the monitor declares data drift", result.threshold),
            "s2p_drift_detected": ("1 when the last window drifted", float(result.drift_detected)),
            "s2p_prediction_drift": ("1 when the answers drifted", float(bool(result.prediction_drift))),
            "s2p_quality_degraded": (
                "1 when labeled traffic scored worse than allowed",
                float(bool(quality.get("degraded"))),
            ),
            "s2p_monitor_rows": ("Served requests in the last window", float(result.current_rows)),
            "s2p_monitor_last_run_timestamp_seconds": ("When the monitor last ran", time.time()),
        },
    )


def champion_moved(model_name: str, move: dict) -> None:
    """The champion's version now and when it moved (moves per day: ``changes(s2p_champion_version[1d])``)."""
    push(
        {"deliverable": model_name},
        {
            "s2p_champion_version": ("The registered version the champion alias points at", float(move["to_version"])),
            "s2p_champion_moved_timestamp_seconds": ("When the champion last moved", time.time()),
        },
    )
