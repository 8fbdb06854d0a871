"""The declaration of `mlp`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import FASHION, FASHION_CLASS

DELIVERABLE = Deliverable(
    id="mlp",
    order=1,
    phase="2",
    title="Feedforward network in NumPy: dense layers, ReLU / sigmoid / tanh, He / Xavier, mini-batch SGD",
    task="classification",
    source="s2p.sources:fashion_mnist",
    features=FASHION,
    target=FASHION_CLASS,
    model="models.phase2.mlp.model:MLPClassifier",
    reference="models.phase2.mlp.model:TorchMLPClassifier",
    metrics=("accuracy", "f1_macro", "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("loss_curve", "confusion_matrix", "image_predictions"),
)
