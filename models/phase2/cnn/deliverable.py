"""The declaration of `cnn`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from s2p.catalog import Deliverable, Gate
from s2p.columns import FASHION, FASHION_CLASS

DELIVERABLE = Deliverable(
    id="cnn",
    order=3,
    phase="2",
    title="Convolutional network: convolution, padding, stride, max / average pooling by hand (im2col)",
    task="classification",
    source="s2p.sources:fashion_mnist",
    features=FASHION,
    target=FASHION_CLASS,
    model="models.phase2.cnn.model:CNNClassifier",
    reference="models.phase2.cnn.model:TorchCNNClassifier",
    metrics=("accuracy", "f1_macro", "log_loss"),
    gate=Gate(metric="accuracy", greater_is_better=True),
    plots=("loss_curve", "confusion_matrix", "conv_filters", "image_predictions"),
    fit_time_budget=10.0,  # im2col and matrix products in NumPy against torch's convolution kernels
)
