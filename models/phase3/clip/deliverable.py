"""The declaration of `clip`: paired images and captions, two encoders, retrieval both ways."""

from __future__ import annotations

from s2p.catalog import Column, Deliverable, Gate

DELIVERABLE = Deliverable(
    id="clip",
    order=6,
    phase="3",
    title="CLIP: a ViT and a text transformer trained to agree (symmetric InfoNCE, learned temperature)",
    task="retrieval",
    kind="cross_modal",
    source="models.phase3.clip.data:shape_captions",
    features=(
        Column("image", "tensor", 0, 1, "a 32x32 RGB image of one coloured shape, values 0-1", shape=(32, 32, 3)),
    ),
    target=Column("caption", "text", 1, 64, "what the image shows: 'a <size> <colour> <shape> at the <where>'"),
    model="models.phase3.clip.model:CLIPModel",
    reference="models.phase3.clip.reference:TorchCLIPModel",
    metrics=(
        "recall_at_1_i2t",
        "recall_at_1_t2i",
        "recall_at_5_i2t",
        "recall_at_5_t2i",
        "recall_at_10_i2t",
        "recall_at_10_t2i",
        "zero_shot_accuracy",
        "linear_probe_accuracy",
    ),
    gate=Gate(metric="recall_at_1_i2t", greater_is_better=True),
    plots=("learning_curves", "retrieval_examples", "zero_shot_vs_probe", "recall_vs_batch_size"),
    framework="torch",
    min_rows=50,
    fit_time_budget=1.5,  # the same networks and loop: only the attention and the loss's form differ
)
