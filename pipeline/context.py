"""What a step needs to know about the run it belongs to."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from s2p import tenancy
from s2p.catalog import Column, Deliverable
from s2p.config import DeliverableParams
from s2p.paths import RunPaths, Stores, slug


@dataclass(frozen=True)
class UserData:
    path: Path
    target: str


@dataclass(frozen=True)
class RunContext:
    deliverable: Deliverable
    params: DeliverableParams
    stores: Stores
    user_data: UserData | None = None
    new_data: Path | None = None  # labeled served traffic appended to the source (retraining)

    @property
    def run_key(self) -> str:
        """The deliverable id, suffixed with the file's name when it runs on a user's data."""
        if self.user_data is None:
            return self.deliverable.id
        return f"{self.deliverable.id}__{slug(self.user_data.path.stem)}"

    @property
    def paths(self) -> RunPaths:
        return self.stores.run_paths(self.run_key)

    @property
    def model_name(self) -> str:
        """Name of the registered model (MLflow), the BentoML model and the bento (a tenant's carries it)."""
        return tenancy.model_name(self.run_key, self.stores.tenant)


def make_context(
    deliverable: Deliverable,
    params: DeliverableParams,
    stores: Stores,
    data: Path | None = None,
    target: str | None = None,
) -> RunContext:
    """The context of one run; a user's file replaces the catalog's columns by its own."""
    if data is None:
        if target is not None:
            raise ValueError("--target only makes sense with --data")
        return RunContext(deliverable, params, stores)
    from pipeline.recipes import recipe_of

    recipe = recipe_of(deliverable)
    if recipe.user_file is None:
        raise ValueError(f"{deliverable.id} ({recipe.name} recipe) runs on its declared data; --data takes a table "
                         "(supervised deliverables) or a text file (corpus deliverables)")  # fmt: skip
    if recipe.user_file == "text":
        if target is not None:
            raise ValueError(f"{deliverable.id} learns a text corpus: give --data FILE alone, it has no --target")
        path = Path(data).resolve()
        if not path.is_file():
            raise ValueError(f"--data {data}: no such file")
        return RunContext(dataclasses.replace(deliverable, source=f"file:{path}"), params, stores, UserData(path, ""))
    if target is None:
        raise ValueError("--data needs --target COLUMN (the column to predict)")
    frame = _table(Path(data))
    columns = [str(name) for name in frame.columns]
    if target not in columns:
        raise ValueError(f"target column {target!r} is not in {data}; its columns are: {', '.join(columns)}")
    if "split" in columns:
        raise ValueError(f"{data}: the column name 'split' is reserved (the train/test split); rename it")
    reserved = {"entity_id", "event_timestamp"}  # kept as keys when given, not used as features
    names = [name for name in columns if name != target and name not in reserved]
    if not names:
        raise ValueError(f"{data} has no feature columns besides the target {target!r}")
    features = tuple(infer_column(frame[name], f"from {Path(data).name}") for name in names)
    check_features(deliverable, features, frame, Path(data))
    user_deliverable = dataclasses.replace(
        deliverable,
        source=f"file:{Path(data).resolve()}",
        features=features,
        target=target_column(deliverable, frame[target], Path(data)),
    )
    return RunContext(user_deliverable, params, stores, UserData(Path(data).resolve(), target))


def _table(path: Path):
    from s2p.sources import read_table

    return read_table(path)


def _numbers(values):
    """The values as numbers, NaN where one is not a number (a word, an array)."""
    import numbers

    import pandas as pd

    scalars = values.map(lambda value: value if isinstance(value, str | numbers.Number) else None)
    return pd.to_numeric(scalars, errors="coerce")


def infer_column(values, description: str) -> Column:
    """A user's column as the catalog would declare it: text when most of its values are not
    numbers, else integer or float. Values are not coerced: a number column with a few words in it
    stays a number column, and validation counts the words."""
    name, kind = str(values.name), values.dtype.kind
    if kind in "iu":
        return Column(name, "int", description=f"integer {description}")
    if kind in "fb" or values.isna().all():  # booleans stay what they are: validation refuses them by type
        return Column(name, "float", description=f"number {description}")
    present = values.dropna()
    numeric = _numbers(present).notna().mean()
    if numeric > 0.5:
        return Column(name, "float", description=f"number {description} ({numeric:.0%} of its values parse)")
    return Column(name, "text", 1, None, f"text {description}")


def check_features(deliverable: Deliverable, features: tuple[Column, ...], frame, path: Path) -> None:
    """Refuse feature columns the deliverable's models cannot read, naming them: text for a model
    of numbers, and for a model of text (which also reads numeric columns only, as naive Bayes and
    the linear SVM do) a mix of text and numbers or another count of text columns than it takes."""
    from s2p.sources import DataError

    text = [column.name for column in features if column.dtype == "text"]
    numbers = [column.name for column in features if column.dtype != "text"]
    takes = sum(column.dtype == "text" for column in deliverable.features)
    if not text:
        return
    example = frame[text[0]].dropna().astype(str).iloc[0][:40]
    if takes == 0:
        raise DataError(
            f"{path.name}: {deliverable.id} reads numbers, but column(s) {', '.join(text)} hold text "
            f"(e.g. {example!r}); drop them or encode them as numbers"
        )
    if len(text) != takes or numbers:
        raise DataError(
            f"{path.name}: {deliverable.id} reads {takes} text column(s) alone, or numeric columns only; "
            f"this file has text column(s) {', '.join(text)} and numeric column(s) {', '.join(numbers) or 'none'}"
        )


def target_column(deliverable: Deliverable, values, path: Path) -> Column:
    """The target of a user's file: a number to predict (regression), or a class coded as an integer
    (every other task: classification, and the labels clustering is scored against)."""
    from s2p.sources import DataError

    name = str(values.name)
    if deliverable.target.dtype == "tensor":
        return dataclasses.replace(deliverable.target, name=name)
    if deliverable.task == "regression":
        return Column(name, "float", description=f"the value to predict, from {path.name}")
    present = values.dropna()
    numbers = _numbers(present)
    if values.dtype.kind == "b" or numbers.isna().any():
        odd = sorted({str(value) for value in present[numbers.isna()]})[:3] if numbers.isna().any() else ["booleans"]
        raise DataError(
            f"{path.name}: target {name!r} holds values that are not integers (e.g. {', '.join(odd)}); "
            f"{deliverable.id} predicts classes coded as integers (0, 1, ...): recode the column"
        )
    fractional = numbers[(numbers % 1).fillna(0) != 0]
    if len(fractional):
        raise DataError(
            f"{path.name}: target {name!r} holds {len(fractional)} non-integer value(s) (e.g. {fractional.iloc[0]}); "
            f"{deliverable.id} predicts classes coded as integers: is this a regression target?"
        )
    return Column(name, "int", description=f"the class to predict (an integer), from {path.name}")


def load_context(
    deliverable_id: str,
    stores: Stores | None = None,
    data: str | Path | None = None,
    target: str | None = None,
    overrides: dict | None = None,
    size: str | None = None,
) -> RunContext:
    """The edge where a run reads its parameters: catalog entry, params.yaml section at ``size``
    (smoke, default or full), overrides."""
    from s2p import catalog
    from s2p.config import params_for, with_overrides

    stores = stores or Stores.from_env()
    deliverable = catalog.get(deliverable_id)
    params = params_for(stores.params_file, deliverable_id, size)
    if overrides:
        params = with_overrides(params, overrides, f"overrides for {deliverable_id}")
    return make_context(deliverable, params, stores, Path(data) if data else None, target)
