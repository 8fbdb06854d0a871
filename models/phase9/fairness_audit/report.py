"""The audit's report: tables (pandas), plots (matplotlib) and one standalone HTML file.

``audit_report`` scores each model's predictions on the same test rows (before mitigation, ours,
the reference, ...) and writes into the directory it is given:

    per_group.csv        one row per (model, group): count, selection rate, TPR, FPR, accuracy
    summary.csv          one row per model: accuracy, disparate impact, demographic parity and
                         equalized-odds differences
    group_rates.png      per-group selection rate, TPR and FPR, one bar per model
    summary.png          disparate impact and accuracy per model, the 0.8 line drawn
    fairness_audit.html  all of the above in one file (images inlined), with the gate's decision

Every file is written to a temporary name in the same directory, then renamed: a reader never sees
half a file, and a failed run leaves the previous report whole.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from models.phase9.fairness_audit.metrics import RATES, fairness_summary, group_table

FILES = ("per_group.csv", "summary.csv", "group_rates.png", "summary.png", "fairness_audit.html")


@dataclass(frozen=True)
class AuditReport:
    per_group: pd.DataFrame
    summary: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)


def audit_tables(
    y_true, group, predictions: Mapping[str, np.ndarray], group_labels: Mapping | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per_group, summary) for each named model's predictions on the same rows."""
    if not predictions:
        raise ValueError("no predictions to report")
    per_group = []
    for model, y_pred in predictions.items():
        table = group_table(y_true, y_pred, group).reset_index()
        if group_labels is not None:
            table["group"] = [group_labels.get(g, str(g)) for g in table["group"].tolist()]
        table.insert(0, "model", model)
        per_group.append(table)
    summary = pd.DataFrame({model: fairness_summary(y_true, y_pred, group) for model, y_pred in predictions.items()}).T
    summary.index.name = "model"
    return pd.concat(per_group, ignore_index=True), summary


def _rates_figure(per_group: pd.DataFrame):
    from matplotlib.figure import Figure

    models, groups = list(dict.fromkeys(per_group["model"])), list(dict.fromkeys(per_group["group"]))
    figure = Figure(figsize=(12, 3.8), layout="constrained")
    axes = figure.subplots(1, 3, sharey=True)
    width = 0.8 / len(models)
    for ax, rate in zip(axes, RATES[:3], strict=True):
        for i, model in enumerate(models):
            rows = per_group[per_group["model"] == model].set_index("group").reindex(groups)
            ax.bar(np.arange(len(groups)) + (i - (len(models) - 1) / 2) * width, rows[rate], width, label=model)
        ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups])
        ax.set_title(rate.replace("_", " "))
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("rate")
    axes[-1].legend(fontsize="small")
    return figure


def _summary_figure(summary: pd.DataFrame, min_disparate_impact: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    names = [str(m) for m in summary.index]
    left.bar_label(left.barh(names, summary["disparate_impact"], color="tab:blue"), fmt="%.3f", padding=2)
    left.axvline(min_disparate_impact, color="tab:red", linestyle="--", label=f"{min_disparate_impact:g} (4/5 rule)")
    left.set_xlim(0, 1.15)
    left.set_title("disparate impact")
    left.legend(fontsize="small")
    right.bar_label(right.barh(names, summary["accuracy"], color="tab:green"), fmt="%.4f", padding=2)
    low = float(summary["accuracy"].min())
    right.set_xlim(max(0.0, low - 0.05), 1.0)
    right.set_title("accuracy")
    right.tick_params(labelleft=False)
    for ax in (left, right):
        ax.invert_yaxis()  # the first model (before mitigation) on top
    return figure


def _write_atomically(path: Path, write) -> None:
    """Run ``write(temporary_path)``, then rename the result onto ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _html(title: str, summary: pd.DataFrame, per_group: pd.DataFrame, images: dict[str, bytes], decision) -> str:
    def image(name: str) -> str:
        return f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(images[name]).decode()}">'

    verdict = ""
    if decision is not None:
        promote, reason = decision
        verdict = f"<h2>Gate</h2><p><b>{'promoted' if promote else 'not promoted'}</b>: {html.escape(reason)}</p>"
    style = "body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse}" \
            "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}img{max-width:100%}"  # fmt: skip
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{verdict}"
        f"<h2>Summary</h2>{summary.to_html(float_format='{:.4f}'.format)}{image('summary.png')}"
        f"<h2>Per group</h2>{per_group.to_html(index=False, float_format='{:.4f}'.format)}"
        f"{image('group_rates.png')}</body></html>"
    )


def audit_report(
    directory: Path,
    y_true,
    group,
    predictions: Mapping[str, np.ndarray],
    *,
    group_labels: Mapping | None = None,
    decision: tuple[bool, str] | None = None,
    min_disparate_impact: float = 0.8,
    title: str = "Fairness audit",
) -> AuditReport:
    """Score ``predictions`` (model name -> 0/1 predictions on the rows of ``y_true`` and ``group``)
    and write the report's files (``FILES``) into ``directory``; ``decision`` is the gate's."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    per_group, summary = audit_tables(y_true, group, predictions, group_labels)
    images = {}
    for name, figure in (("group_rates.png", _rates_figure(per_group)),
                         ("summary.png", _summary_figure(summary, min_disparate_impact))):  # fmt: skip
        path = directory / name
        _write_atomically(path, lambda temporary, figure=figure: figure.savefig(temporary, format="png", dpi=100))
        images[name] = path.read_bytes()
    page = _html(title, summary, per_group, images, decision)
    writers = {
        "per_group.csv": lambda temporary: per_group.to_csv(temporary, index=False),
        "summary.csv": lambda temporary: summary.to_csv(temporary),
        "fairness_audit.html": lambda temporary: temporary.write_text(page, encoding="utf-8"),
    }
    for name, write in writers.items():
        _write_atomically(directory / name, write)
    return AuditReport(per_group, summary, {name: directory / name for name in FILES})
