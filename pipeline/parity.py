"""The parity table: every deliverable's from-scratch model against its reference library.

For each deliverable that has been run, on its held-out data: the gate metric of ours and of
the reference (from the evaluate step), the relative difference, and the fit-time ratio. Fit times
are read from the training reports of that run (no model is fitted again: a GPT or a diffusion model
is too dear to refit for a table); with ``timing`` a supervised deliverable's models are refitted
here on the same training split, best of ``repeats`` fits each (a fit over LONG_FIT_SECONDS once).
Targets: the metric within 1% of the reference or better; fit time at most the deliverable's own
``fit_time_budget`` times the reference's, stated in its row. A missed target is written as missed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.context import load_context
from s2p import catalog
from s2p.files import atomic_path, read_json, write_json
from s2p.paths import Stores

METRIC_TOLERANCE = 0.01  # within 1% of the reference, or better


@dataclass(frozen=True)
class ParityRow:
    deliverable: str
    dataset: str
    rows: int
    metric: str
    ours: float
    reference: float
    relative_delta: float  # (ours - reference) / |reference|, in the metric's own direction
    metric_ok: bool
    fit_seconds_ours: float
    fit_seconds_reference: float
    fit_ratio: float
    fit_budget: float | None  # None: another kind of model, the ratio is not held to a budget
    fit_ok: bool


#: A fit this long is timed once: the noise best-of-n removes is small beside it.
LONG_FIT_SECONDS = 5.0


def best_fit_seconds(make, X, y, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        estimator = make()
        started = time.perf_counter()
        estimator.fit(X, y)
        best = min(best, time.perf_counter() - started)
        if best > LONG_FIT_SECONDS:
            break
    return best


def refit_seconds(ctx, repeats: int) -> dict[str, float]:
    """Both models fitted again on the training split, best of ``repeats`` (``s2p parity --timing``)."""
    import pandas as pd

    from pipeline.train import build_estimator, split_xy

    d, params = ctx.deliverable, ctx.params
    if d.recipe != "supervised":
        raise ValueError(f"--timing refits table models; {d.id} ({d.recipe} recipe) is timed by its training reports")
    X, y = split_xy(pd.read_parquet(ctx.paths.training_set), d, "train")
    where = f"deliverables.{d.id}"
    return {
        name: best_fit_seconds(
            lambda path=path, section=section: build_estimator(path, dict(section), params.seed, where), X, y, repeats
        )
        for name, path, section in (("ours", d.model, params.model), ("reference", d.reference, params.reference))
    }


def parity_row(deliverable_id: str, stores: Stores, repeats: int = 3, timing: bool = False) -> ParityRow | None:
    """The row of one deliverable, or None when it has not been evaluated yet."""
    ctx = load_context(deliverable_id, stores)
    if not ctx.paths.metrics.exists():
        return None
    d = ctx.deliverable
    evaluation = read_json(ctx.paths.metrics)
    metric = d.gate.metric
    ours, reference = evaluation["ours"][metric], evaluation["reference"][metric]
    seconds = refit_seconds(ctx, repeats) if timing else evaluation["fit_seconds"]
    validation = read_json(ctx.paths.validation_report) if ctx.paths.validation_report.exists() else {}
    sign = 1.0 if d.gate.greater_is_better else -1.0
    relative = sign * (ours - reference) / max(abs(reference), 1e-12)
    ratio = seconds["ours"] / max(seconds["reference"], 1e-9)
    return ParityRow(
        deliverable=d.id,
        dataset=d.source.split(":")[-1],
        rows=int(validation.get("rows", evaluation.get("test_rows", 0))),
        metric=metric,
        ours=ours,
        reference=reference,
        relative_delta=relative,
        metric_ok=relative >= -METRIC_TOLERANCE,
        fit_seconds_ours=seconds["ours"],
        fit_seconds_reference=seconds["reference"],
        fit_ratio=ratio,
        fit_budget=d.fit_time_budget,
        fit_ok=d.fit_time_budget is None or ratio <= d.fit_time_budget,
    )


def fit_target(row: ParityRow) -> str:
    if row.fit_budget is None:
        return "reported only"
    return "met" if row.fit_ok else "**missed**"


def budget(row: ParityRow) -> str:
    return "none (another kind of model)" if row.fit_budget is None else f"{row.fit_budget:g}x"


def markdown(rows: list[ParityRow], missing: list[str], timing: bool) -> str:
    timed = (
        "refitted by `s2p parity --timing`, best of 3 fits each (one for a fit over 5 s), on the same training split"
        if timing
        else "read from the training reports of that run (each model fitted once, side by side with others)"
    )
    lines = [
        "# Parity: from scratch against the reference library",
        "",
        "Written by `s2p parity` from the last run of each deliverable (held-out data; rows: validated rows,",
        f"or queries and windows where there are no rows). Fit times are {timed}, on the machine that ran it.",
        f"Targets: the gate metric within {METRIC_TOLERANCE:.0%} of the reference or better; fit time within the",
        "deliverable's own budget, in its row (its declaration's `fit_time_budget` times the reference's; none",
        "where the reference is another kind of model, whose ratio is reported only).",
        "",
        "| deliverable | dataset | rows | metric | ours | reference | delta | metric target "
        "| fit ours | fit ref | ratio | budget | fit target |",
        "|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.deliverable} | {r.dataset} | {r.rows} | {r.metric} | {r.ours:.6g} | {r.reference:.6g} "
            f"| {r.relative_delta:+.2%} | {'met' if r.metric_ok else '**missed**'} "
            f"| {r.fit_seconds_ours * 1000:.1f} ms | {r.fit_seconds_reference * 1000:.1f} ms | {r.fit_ratio:.2f}x "
            f"| {budget(r)} | {fit_target(r)} |"
        )
    if missing:
        lines += ["", f"Not run yet (no held-out metrics): {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def run_parity(
    stores: Stores | None = None,
    deliverables: list[str] | None = None,
    repeats: int = 3,
    output: Path | None = None,
    timing: bool = False,
) -> dict:
    """Write PARITY.md (``output``, default the repository root) and artifacts/parity.json (DVC metrics)."""
    stores = stores or Stores.from_env()
    output = output or stores.root / "PARITY.md"
    ids = deliverables or [d.id for d in catalog.CATALOG]
    rows, missing = [], []
    for deliverable_id in ids:
        row = parity_row(deliverable_id, stores, repeats, timing)
        (rows.append(row) if row else missing.append(deliverable_id))
    table = {
        "rows": [asdict(row) for row in rows],
        "missing": missing,
        "metric_targets_met": sum(r.metric_ok for r in rows),
        "fit_targets_met": sum(r.fit_ok for r in rows),
    }
    write_json(stores.artifacts / "parity.json", table)
    with atomic_path(output) as temporary:
        temporary.write_text(markdown(rows, missing, timing))
    return table
