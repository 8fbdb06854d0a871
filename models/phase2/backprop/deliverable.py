"""The declaration of `backprop`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import DIGIT, DIGIT_IMAGE

DELIVERABLE = Deliverable(
    id="backprop",
    order=2,
    phase="2",
    title="Backpropagation by hand: gradients checked against autograd, gradient flow per layer",
    task="classification",
    source="s2p.sources:digit_images",
    features=DIGIT_IMAGE,
    target=DIGIT,
    model="models.phase2.mlp.model:MLPClassifier",
    reference="models.phase2.mlp.model:TorchMLPClassifier",
    metrics=("accuracy", "f1_macro", "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("gradient_norms", "gradient_histograms", "gradient_depth"),
)
