"""The new data a retraining takes through the path: served requests whose true value came back."""

from __future__ import annotations

from pathlib import Path

from pipeline.context import RunContext
from s2p.files import write_parquet
from serving.inference_log import InferenceLog


def export_labeled_window(ctx: RunContext, window: int) -> tuple[Path | None, int]:
    """The newest ``window`` served requests that have labels, as rows of features and target (none for
    a recipe that does not learn from labeled traffic)."""
    from pipeline.recipes import recipe_of

    if not recipe_of(ctx.deliverable).learns_from_feedback:
        return None, 0
    log = InferenceLog(ctx.stores.inference_db)
    try:
        recent = log.recent(ctx.run_key, window)
    finally:
        log.close()
    if recent.empty or recent["label"].isna().all():
        return None, 0
    labeled = recent[recent["label"].notna()]
    d = ctx.deliverable
    types = {"text": str, "tensor": object, "int": float, "float": float}  # tensors stay arrays
    rows = labeled[d.feature_names].astype({c.name: types[c.dtype] for c in d.features})
    target = ctx.deliverable.target
    rows[target.name] = labeled["label"].astype({"int": "int64", "tensor": object}.get(target.dtype, float)).to_numpy()
    path = ctx.paths.artifacts / "retrain_window.parquet"
    write_parquet(path, rows.reset_index(drop=True))
    return path, len(rows)
