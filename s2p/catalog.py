"""The catalog: one declaration per deliverable.

Flows, DVC stages, Feast feature views, Great Expectations suites and BentoML services are all
derived from these declarations; adding a deliverable means adding a model and an entry here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

TaskType = Literal["regression", "classification", "clustering", "generation"]


@dataclass(frozen=True)
class Column:
    """A column of a deliverable's data, with the range its values must lie in."""

    name: str
    dtype: Literal["float", "int"] = "float"
    min: float | None = None
    max: float | None = None
    description: str = ""


@dataclass(frozen=True)
class Gate:
    """How a challenger is judged: the metric, its direction and an optional absolute bar."""

    metric: str
    greater_is_better: bool
    threshold: float | None = None

    def better(self, challenger: float, champion: float, margin: float) -> bool:
        if self.greater_is_better:
            return challenger > champion + margin
        return challenger < champion - margin

    def passes_threshold(self, value: float) -> bool:
        if self.threshold is None:
            return True
        return value >= self.threshold if self.greater_is_better else value <= self.threshold


@dataclass(frozen=True)
class Deliverable:
    id: str
    phase: str
    title: str
    task: TaskType
    source: str  # import path of a loader returning a DataFrame of features and target
    features: tuple[Column, ...]
    target: Column
    model: str  # import path "module:Class" of the from-scratch estimator
    reference: str  # import path of the reference implementation it is compared with
    metrics: tuple[str, ...]
    gate: Gate
    framework: Literal["numpy", "torch"] = "numpy"
    min_rows: int = 50
    depends_on: tuple[str, ...] = field(default_factory=tuple)

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.features]

    def summary(self) -> dict:
        """What `s2p list --json` prints."""
        return {
            "id": self.id,
            "phase": self.phase,
            "title": self.title,
            "task": self.task,
            "model": self.model,
            "reference": self.reference,
            "metrics": list(self.metrics),
            "gate": asdict(self.gate),
            "source": self.source,
            "features": self.feature_names,
            "target": self.target.name,
            "depends_on": list(self.depends_on),
        }


def _diabetes_columns() -> tuple[Column, ...]:
    # Ranges are physiological bounds, wider than the data: they catch unit mistakes and garbage.
    bounds = {
        "age": (0, 120, "age in years"),
        "sex": (1, 2, "sex, coded 1 or 2"),
        "bmi": (10, 80, "body mass index"),
        "bp": (40, 250, "average blood pressure"),
        "s1": (50, 500, "tc, total serum cholesterol"),
        "s2": (10, 400, "ldl, low-density lipoproteins"),
        "s3": (5, 200, "hdl, high-density lipoproteins"),
        "s4": (0, 20, "tch, total cholesterol / HDL"),
        "s5": (0, 10, "ltg, log of serum triglycerides"),
        "s6": (30, 400, "glu, blood sugar level"),
    }
    return tuple(Column(name, "float", lo, hi, text) for name, (lo, hi, text) in bounds.items())


CATALOG: tuple[Deliverable, ...] = (
    Deliverable(
        id="linear_regression",
        phase="1",
        title="Linear regression: closed-form OLS, batch GD, SGD and mini-batch SGD",
        task="regression",
        source="s2p.sources:diabetes",
        features=_diabetes_columns(),
        target=Column("progression", "float", 0, 400, "disease progression one year after baseline"),
        model="models.phase1.linear_regression:LinearRegression",
        reference="sklearn.linear_model:LinearRegression",
        metrics=("rmse", "mae", "r2"),
        gate=Gate(metric="rmse", greater_is_better=False),
        min_rows=50,
    ),
)


class UnknownDeliverable(KeyError):
    def __str__(self) -> str:
        known = ", ".join(d.id for d in CATALOG)
        return f"unknown deliverable {self.args[0]!r}; known: {known}"


def get(deliverable_id: str) -> Deliverable:
    for deliverable in CATALOG:
        if deliverable.id == deliverable_id:
            return deliverable
    raise UnknownDeliverable(deliverable_id)


def select(phase: str | None = None) -> list[Deliverable]:
    return [d for d in CATALOG if phase in (None, "all", d.phase)]
