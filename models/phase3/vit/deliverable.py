"""The declaration of `vit`: a Vision Transformer on Fashion-MNIST (the supervised recipe, served as a class)."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import FASHION, FASHION_CLASS

DELIVERABLE = Deliverable(
    id="vit",
    order=5,
    phase="3",
    title="Vision Transformer: patch embedding, class token, learned positions, attention rollout",
    task="classification",
    source="s2p.sources:fashion_mnist",
    features=FASHION,  # 28x28, ink bounded to [0, 1]: validation refuses other shapes and ranges
    target=FASHION_CLASS,
    model="models.phase3.vit.model:VisionTransformerClassifier",
    reference="models.phase3.vit.reference:TorchVisionTransformerClassifier",
    metrics=("accuracy", "f1_macro", "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("loss_curve", "confusion_matrix", "attention_rollout", "accuracy_beside_cnn", "image_predictions"),
    framework="torch",
    fit_time_budget=1.5,  # the same network and loop: only the attention, blocks and patch embedding differ
)
