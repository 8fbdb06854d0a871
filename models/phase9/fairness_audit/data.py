"""What the audit reads from its upstream: the upstream deliverable's table, checked, and split.

The audit trains nothing: it needs rows the upstream champion did not train on, split into a
calibration part (where the thresholds are chosen) and a test part (where before and after are
measured). ``audit_split`` checks the table has the columns the audit needs and splits it,
stratified by group and label so both parts keep every (group, label) cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


class MissingColumnsError(ValueError):
    """The upstream's table lacks columns the audit needs."""


@dataclass(frozen=True)
class AuditPart:
    """Feature rows (the upstream model's columns, the sensitive one among them), labels, groups."""

    X: pd.DataFrame
    y: np.ndarray
    group: np.ndarray


def audit_columns(frame: pd.DataFrame, features: Sequence[str], sensitive: str, target: str) -> None:
    """Refuse a table without the features, the sensitive column or the target, naming what is missing."""
    if sensitive not in features:
        raise MissingColumnsError(f"the sensitive column {sensitive!r} must be one of the upstream model's features")
    missing = [name for name in (*features, target) if name not in frame.columns]
    if missing:
        raise MissingColumnsError(f"the upstream table lacks the columns the audit needs: {missing}")
    labels = sorted(pd.unique(frame[target]).tolist())
    if labels != [0, 1]:
        raise ValueError(f"the target {target!r} must hold the labels 0 and 1, got {labels[:5]}")
    if frame[sensitive].nunique() < 2:
        raise ValueError(f"the sensitive column {sensitive!r} holds a single group")


def audit_split(
    frame: pd.DataFrame,
    features: Sequence[str],
    sensitive: str = "sex",
    target: str = "income",
    calibration_fraction: float = 0.5,
    random_state: int = 0,
) -> tuple[AuditPart, AuditPart]:
    """(calibration, test): the rows split, stratified by (group, label)."""
    from sklearn.model_selection import train_test_split

    audit_columns(frame, features, sensitive, target)
    if not 0 < calibration_fraction < 1:
        raise ValueError(f"calibration_fraction must be in (0, 1), got {calibration_fraction}")
    cells = frame[sensitive].astype(str) + "|" + frame[target].astype(str)
    calibration, test = train_test_split(
        frame, train_size=calibration_fraction, random_state=random_state, stratify=cells
    )

    def part(rows: pd.DataFrame) -> AuditPart:
        return AuditPart(rows[list(features)], rows[target].to_numpy(), rows[sensitive].to_numpy())

    return part(calibration), part(test)
