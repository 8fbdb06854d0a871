"""The catalog: one declaration per deliverable, collected from the deliverables' folders.

Each deliverable is a folder ``models/<phase>/<id>/`` whose ``deliverable.py`` declares
``DELIVERABLE = Deliverable(...)``: its data, recipe, answer kind, columns, model, reference,
metrics, gate and plots. Flows, DVC stages (dvc.yaml is generated), Feast feature views, Great
Expectations suites and BentoML services are derived from these declarations; adding a deliverable
touches its folder, its params section and its test module, nothing here.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

#: What a model's output is: a number (regression), a class (classification), a cluster id
#: (clustering), a vector of components (decomposition), a sequence of token ids (encoding) or
#: the ids of the nearest indexed rows (retrieval), or something the model makes for each row: a
#: continuation of a text, an image of a class, a transformed sequence (generation).
#: serving/kinds.py (the answer kinds) acts on it.
TaskType = Literal["regression", "classification", "clustering", "decomposition", "encoding", "retrieval", "generation"]

#: The step graphs a deliverable can choose (pipeline/recipes.py): a table with a target, a text
#: corpus, an environment, a document collection, another deliverable's champion to audit, or a
#: log of user-item interactions (implicit feedback).
RecipeName = Literal["supervised", "corpus", "environment", "index", "audit", "interactions"]

#: The syllabus's order of phases: the catalog lists deliverables phase by phase, then by ``order``.
PHASES = ("1", "DSA", "SD", "2", "3", "4", "5", "6", "7", "8", "9")
MODELS = Path(__file__).resolve().parents[1] / "models"


@dataclass(frozen=True)
class Column:
    """A column of a deliverable's data, with the range its values must lie in.

    A ``tensor`` column holds one array per row (an image, a sequence), stored flat; ``shape`` is
    its shape and ``min`` / ``max`` bound every element (pipeline/tensors.py).
    """

    name: str
    dtype: Literal["float", "int", "text", "tensor"] = "float"
    min: float | None = None  # for text: the shortest allowed length in characters
    max: float | None = None  # for text: the longest
    description: str = ""
    values: tuple[int, ...] | None = None  # the known label set of a class column
    varies: bool = True  # False for a column that may be constant (a border pixel of a digit, say)
    shape: tuple[int, ...] | None = None  # of each row's array, for a tensor column
    #: Class balance: the largest KL divergence (nats) of the class shares from uniform.
    max_imbalance: float | None = None

    def __post_init__(self) -> None:
        if (self.dtype == "tensor") != (self.shape is not None):
            raise ValueError(f"column {self.name}: a shape is given exactly for a tensor column")


@dataclass(frozen=True)
class Gate:
    """How a challenger is judged: the metric, its direction and an optional absolute bar."""

    metric: str
    greater_is_better: bool
    threshold: float | None = None
    #: Other metrics a challenger must keep within bounds: (metric, lowest, highest), None for no bound
    #: (the fairness audit: an accuracy drop of at most 0.02).
    limits: tuple[tuple[str, float | None, float | None], ...] = ()

    def breached(self, scores: dict[str, float]) -> list[str]:
        """Each limit ``scores`` breaks, in words."""
        found = []
        for metric, lowest, highest in self.limits:
            value = scores[metric]
            if lowest is not None and value < lowest:
                found.append(f"{metric} {value:.6g} is below {lowest}")
            if highest is not None and value > highest:
                found.append(f"{metric} {value:.6g} is above {highest}")
        return found

    def better(self, challenger: float, champion: float, margin: float) -> bool:
        if self.greater_is_better:
            return challenger > champion + margin
        return challenger < champion - margin

    def passes_threshold(self, value: float) -> bool:
        if self.threshold is None:
            return True
        return value >= self.threshold if self.greater_is_better else value <= self.threshold


@dataclass(frozen=True, kw_only=True)
class Deliverable:
    id: str
    phase: str
    title: str
    task: TaskType
    #: Import path of its data: a loader returning a DataFrame of features and target (supervised),
    #: the text of a corpus (corpus), the documents (index); a gymnasium id's factory (environment).
    source: str
    #: What the model reads (and the service takes): table columns, a prompt, an observation, a query.
    features: tuple[Column, ...] = ()
    target: Column | None = None  # what it is scored against, where rows carry it
    model: str  # import path "module:Class" of the from-scratch estimator
    reference: str  # import path of the reference implementation it is compared with
    metrics: tuple[str, ...]
    gate: Gate
    #: Names of plots drawn by evaluate and logged to MLflow: the deliverable's own (``PLOTS`` of its
    #: folder's plots.py) or the shared ones of pipeline/plots.py.
    plots: tuple[str, ...] = ()
    framework: Literal["numpy", "torch"] = "numpy"
    min_rows: int = 50
    depends_on: tuple[str, ...] = field(default_factory=tuple)
    #: A method that labels the rows it is fitted on and has no predict (AgglomerativeClustering):
    #: it is scored by fit_predict on the held-out rows, ours and the reference alike.
    transductive: bool = False
    #: The fit-time ratio (ours / reference) the parity table holds it to; None where the reference is
    #: another kind of model (a VAE against PCA): the ratio is reported, not held to a budget.
    fit_time_budget: float | None = 3.0
    order: int = 0  # its place in its phase (the syllabus's order)
    recipe: RecipeName = "supervised"
    #: The answer kind (serving/kinds.py: what the service takes and answers, its feedback and drift
    #: descriptors); None takes the task's usual kind.
    kind: str | None = None
    #: The deliverable's package, ``models.<phase>.<id>``: set by the catalog from the folder it is in.
    package: str = ""
    #: What its recipe needs besides ``source``: the tokenizer class (corpus), the environment id
    #: (environment), the query-set loader (index), the upstream deliverable (audit).
    tokenizer: str = ""
    environment: str = ""
    queries: str = ""
    upstream: str = ""
    #: A method of the model that explains its answers (one JSON object per request row: a
    #: transformer's attention weights over the words), served as POST /explain.
    explains: str | None = None
    #: A column of the source whose values go wholly to one side of the train/test split (a speaker, a
    #: patient): etl's grouped split. None splits rows at random.
    split_by: str | None = None

    @property
    def answer_kind(self) -> str:
        """The name of this deliverable's answer kind (serving/kinds.py)."""
        if self.kind is not None:
            return self.kind
        return {
            "regression": "number",
            "classification": "class",
            "clustering": "cluster",
            "decomposition": "vector",
            "encoding": "token_ids",
            "retrieval": "neighbours",
        }[self.task]

    @property
    def folder(self) -> Path:
        """models/<phase>/<id>/: the declaration, our model, the reference's glue, its own plots."""
        return MODELS.parent.joinpath(*self.package.split("."))

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.features]

    @property
    def has_text(self) -> bool:
        return any(column.dtype == "text" for column in self.features)

    @property
    def tensor_columns(self) -> list[Column]:
        """Feature and target columns that hold an array per row."""
        columns = (*self.features, self.target) if self.target else self.features
        return [column for column in columns if column.dtype == "tensor"]

    def summary(self) -> dict:
        """What `s2p list --json` prints."""
        return {
            "id": self.id,
            "phase": self.phase,
            "title": self.title,
            "task": self.task,
            "recipe": self.recipe,
            "kind": self.answer_kind,
            "folder": str(self.folder.relative_to(MODELS.parent)),
            "model": self.model,
            "reference": self.reference,
            "metrics": list(self.metrics),
            "gate": asdict(self.gate),
            "plots": list(self.plots),
            "source": self.source,
            "features": self.feature_names,
            "target": self.target.name if self.target else None,
            "depends_on": list(self.depends_on),
        }


class CatalogError(ValueError):
    """A deliverable folder whose declaration is missing, malformed or clashes with another."""


@functools.cache
def deliverables() -> tuple[Deliverable, ...]:
    """Every declaration under models/<phase>/<id>/deliverable.py, in syllabus order."""
    found: dict[str, Deliverable] = {}
    for path in sorted(MODELS.glob("*/*/deliverable.py")):
        package = ".".join(path.parent.relative_to(MODELS.parent).parts)
        declared = getattr(importlib.import_module(f"{package}.deliverable"), "DELIVERABLE", None)
        if not isinstance(declared, Deliverable):
            raise CatalogError(f"{path}: DELIVERABLE must be a Deliverable, got {type(declared).__name__}")
        if declared.id != path.parent.name:
            raise CatalogError(f"{path}: id {declared.id!r} differs from its folder's name {path.parent.name!r}")
        if declared.phase not in PHASES:
            raise CatalogError(f"{path}: phase {declared.phase!r} is not one of {', '.join(PHASES)}")
        if declared.id in found:
            raise CatalogError(f"{path}: id {declared.id!r} is declared twice ({found[declared.id].package})")
        found[declared.id] = replace(declared, package=package)
    return tuple(sorted(found.values(), key=lambda d: (PHASES.index(d.phase), d.order, d.id)))


def __getattr__(name: str):
    if name == "CATALOG":  # collected on first use, not at import
        return deliverables()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UnknownDeliverable(KeyError):
    def __str__(self) -> str:
        known = ", ".join(d.id for d in deliverables())
        return f"unknown deliverable {self.args[0]!r}; known: {known}"


def get(deliverable_id: str) -> Deliverable:
    for deliverable in deliverables():
        if deliverable.id == deliverable_id:
            return deliverable
    raise UnknownDeliverable(deliverable_id)


def select(phase: str | None = None) -> list[Deliverable]:
    return [d for d in deliverables() if phase in (None, "all", d.phase)]
