"""Recipes: the step graphs a deliverable can have, chosen by its declaration (``recipe=``).

A recipe is a small DAG of plain step functions, each taking the run's context and writing where
the context's paths say. The same steps run as Prefect tasks (flows/deliverable.py, through the
project's scheduler) and as DVC stages (``s2p stage``, what the generated dvc.yaml calls); a stage
groups the steps DVC records together. Every recipe validates what it ingests, trains or builds
what it serves, evaluates it against its reference, registers it behind the champion gate and
packages it:

    supervised   etl -> validate -> features -> train | reference -> evaluate -> register -> package
    corpus       ingest -> validate -> tokenize -> train | reference -> evaluate -> register -> package
    environment  rollouts -> validate -> train | reference -> evaluate -> register -> package
    index        ingest -> validate -> train (embed + index) | reference -> evaluate -> register -> package
    audit        champion -> audit -> train (mitigate) | reference -> evaluate -> register -> package
    interactions ingest -> validate -> features (users' histories into Feast) -> train | reference -> evaluate
                 -> register -> package
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from s2p.imports import import_object


@dataclass(frozen=True)
class RecipeStep:
    name: str
    upstreams: tuple[str, ...]
    stage: str  # the DVC stage (dvc.yaml) that runs this step
    function: str  # import path "module:function" of the plain step function: f(ctx) -> result

    def run(self) -> Callable:
        return import_object(self.function)

    @property
    def module(self) -> str:
        return self.function.partition(":")[0]


@dataclass(frozen=True)
class Recipe:
    name: str
    steps: tuple[RecipeStep, ...]
    #: Each DVC stage's inputs and outputs, by the names of RunPaths (s2p/paths.py).
    stage_files: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
    #: Whether the champion can be scored on this run's held-out rows (a table); else the champion is
    #: judged by its logged gate metric, measured on the same held-out data (a corpus's last tokens).
    scores_on_held_out_rows: bool = False
    #: What the Feast feature store holds for this recipe, or why it holds nothing (the run summary says it).
    feature_store: str = "none"
    #: Shared modules the served model is made of besides the deliverable's model (a bento packs them).
    served_modules: tuple[str, ...] = ()
    #: The step that waits for an upstream deliverable (``depends_on``) to register its model.
    waits_for_upstream: str = "train"
    #: What `s2p run D --data FILE` takes: a table with --target, a text file, or nothing (None).
    user_file: str | None = None
    #: Whether retraining adds the labeled served traffic to the data (rows with a target); the other
    #: recipes retrain on their source again (their feedback is logged for review, not trained on).
    learns_from_feedback: bool = False

    def stages(self) -> dict[str, tuple[str, ...]]:
        """DVC stage name -> the steps it runs, in order."""
        grouped: dict[str, list[str]] = {}
        for step in self.steps:
            grouped.setdefault(step.stage, []).append(step.name)
        return {stage: tuple(names) for stage, names in grouped.items()}

    def step(self, name: str) -> RecipeStep:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"recipe {self.name} has no step {name!r}; its steps: {[s.name for s in self.steps]}")

    @property
    def last(self) -> str:
        return self.steps[-1].name


def _steps(*rows: tuple[str, tuple[str, ...], str, str]) -> tuple[RecipeStep, ...]:
    return tuple(RecipeStep(*row) for row in rows)


#: The tail every recipe shares: both models scored on the same held-out data, the challenger gated
#: against the champion in the MLflow registry, the champion packaged as a bento.
_JUDGE = (
    ("register", ("evaluate",), "evaluate", "pipeline.registry:run_register"),
    ("package", ("register",), "package", "pipeline.package:run_package"),
)
_TRAIN_OUTS = ("model", "reference_model", "training_report", "reference_report")
_STORED_OUTS = ("model_dir", "reference_dir", "training_report", "reference_report")  # models that save themselves
_EVALUATE_OUTS = ("registry_decision", "metrics", "plots")

SUPERVISED = Recipe(
    "supervised",
    _steps(
        ("etl", (), "prepare", "pipeline.etl:run_etl"),
        ("validate", ("etl",), "prepare", "pipeline.validate:run_validate"),
        ("features", ("validate",), "features", "pipeline.features:run_features"),
        ("train", ("features",), "train", "pipeline.train:train_model"),
        ("reference", ("features",), "train", "pipeline.train:fit_reference"),
        ("evaluate", ("train", "reference"), "evaluate", "pipeline.evaluate:run_evaluate"),
        *_JUDGE,
    ),
    {
        "prepare": ((), ("dataset", "validation_report")),
        "features": (("dataset",), ("training_set",)),
        "train": (("training_set",), _TRAIN_OUTS),
        "evaluate": (("training_set", "model", "reference_model"), _EVALUATE_OUTS),
        "package": (("registry_decision",), ("bento",)),
    },
    scores_on_held_out_rows=True,
    user_file="table",
    learns_from_feedback=True,
    feature_store="each row's features, materialized to the online store (Feast) and read back for training",
)

CORPUS = Recipe(
    "corpus",
    _steps(
        ("ingest", (), "prepare", "pipeline.corpus:ingest_corpus"),
        ("validate", ("ingest",), "prepare", "pipeline.corpus:validate_corpus"),
        ("tokenize", ("validate",), "tokenize", "pipeline.corpus:tokenize"),
        ("train", ("tokenize",), "train", "pipeline.corpus:train_language_model"),
        ("reference", ("tokenize",), "train", "pipeline.corpus:fit_reference_language_model"),
        ("evaluate", ("train", "reference"), "evaluate", "pipeline.corpus:evaluate_language_model"),
        *_JUDGE,
    ),
    {
        "prepare": ((), ("corpus", "validation_report")),
        "tokenize": (("corpus",), ("tokens", "reference_requests")),
        "train": (("tokens",), _STORED_OUTS),
        "evaluate": (("tokens", "model_dir", "reference_dir"), _EVALUATE_OUTS),
        "package": (("registry_decision",), ("bento",)),
    },
    feature_store="none: a language model reads windows of one token stream; there is no entity whose "
    "features a request could look up online (the prompt is the whole input)",
    served_modules=("models.generation",),
    user_file="text",
)

INDEX = Recipe(
    "index",
    _steps(
        ("ingest", (), "prepare", "pipeline.index:ingest_documents"),
        ("validate", ("ingest",), "prepare", "pipeline.index:validate_documents"),
        ("train", ("validate",), "train", "pipeline.index:build_index"),
        ("reference", ("validate",), "train", "pipeline.index:build_reference_index"),
        ("evaluate", ("train", "reference"), "evaluate", "pipeline.index:evaluate_retrieval"),
        *_JUDGE,
    ),
    {
        "prepare": ((), ("documents", "queries", "reference_requests", "validation_report")),
        "train": (("documents",), _TRAIN_OUTS),
        "evaluate": (("queries", "model", "reference_model"), _EVALUATE_OUTS),
        "package": (("registry_decision",), ("bento",)),
    },
    feature_store="none: a query is matched against the whole index, not looked up by an entity key; the "
    "documents are versioned by DVC and the index is the model",
)

AUDIT = Recipe(
    "audit",
    _steps(
        ("champion", (), "prepare", "pipeline.audit:fetch_champion"),
        ("validate", ("champion",), "prepare", "pipeline.audit:validate_audit_set"),
        ("train", ("validate",), "train", "pipeline.audit:mitigate"),
        ("reference", ("validate",), "train", "pipeline.audit:mitigate_reference"),
        ("evaluate", ("train", "reference"), "evaluate", "pipeline.audit:evaluate_audit"),
        *_JUDGE,
    ),
    {
        "prepare": (
            ("upstream.registry_decision", "upstream.training_set"),
            ("audit_set", "reference_requests", "validation_report"),
        ),
        "train": (("audit_set",), _TRAIN_OUTS),
        "evaluate": (("audit_set", "model", "reference_model"), ("registry_decision", "metrics", "report")),
        "package": (("registry_decision",), ("bento",)),
    },
    feature_store="none of its own: it audits its upstream's rows, whose features the upstream's Feast view holds",
    waits_for_upstream="champion",
)

ENVIRONMENT = Recipe(
    "environment",
    _steps(
        ("rollouts", (), "prepare", "pipeline.environment:record"),
        ("validate", ("rollouts",), "prepare", "pipeline.environment:validate_rollouts"),
        ("train", ("validate",), "train", "pipeline.environment:train_policy"),
        ("reference", ("validate",), "train", "pipeline.environment:train_reference_policy"),
        ("evaluate", ("train", "reference"), "evaluate", "pipeline.environment:evaluate_policies"),
        *_JUDGE,
    ),
    {
        "prepare": ((), ("rollouts", "reference_requests", "validation_report")),
        "train": (("rollouts",), _STORED_OUTS),
        "evaluate": (("model_dir", "reference_dir"), _EVALUATE_OUTS),
        "package": (("registry_decision",), ("bento",)),
    },
    feature_store="none: a policy reads the observation a request carries; there is no entity to look up "
    "(the recorded rollouts are versioned by DVC and are the drift monitor's reference)",
)

INTERACTIONS = Recipe(
    "interactions",
    _steps(
        ("ingest", (), "prepare", "pipeline.interactions:ingest_interactions"),
        ("validate", ("ingest",), "prepare", "pipeline.interactions:validate_interactions"),
        ("features", ("validate",), "features", "pipeline.interactions:build_user_features"),
        ("train", ("features",), "train", "pipeline.interactions:train_recommender"),
        ("reference", ("features",), "train", "pipeline.interactions:fit_reference_recommender"),
        ("evaluate", ("train", "reference"), "evaluate", "pipeline.interactions:evaluate_recommenders"),
        *_JUDGE,
    ),
    {
        "prepare": ((), ("dataset", "validation_report")),
        "features": (("dataset",), ("training_set", "reference_requests")),
        "train": (("training_set",), _TRAIN_OUTS),
        "evaluate": (("training_set", "model", "reference_model"), _EVALUATE_OUTS),
        "package": (("registry_decision",), ("bento",)),
    },
    feature_store="each user's recent history (items, plays, times), materialized from the training events to the "
    "online store and updated by an event stream through a push source; the served model reads it per request",
)

#: The steps that fit a model, ours and the reference, in every recipe (the flows may run them in
#: worker processes: tasks/steps.py).
FIT_STEPS = ("train", "reference")

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe for recipe in (SUPERVISED, CORPUS, ENVIRONMENT, INDEX, AUDIT, INTERACTIONS)
}


def recipe_of(deliverable) -> Recipe:
    try:
        return RECIPES[deliverable.recipe]
    except KeyError:
        raise KeyError(f"{deliverable.id}: unknown recipe {deliverable.recipe!r}; known: {sorted(RECIPES)}") from None
