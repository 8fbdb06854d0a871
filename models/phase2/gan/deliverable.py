"""The declaration of `gan`: its data, model, reference, metrics, gate and plots."""

from __future__ import annotations

from dataclasses import replace

from s2p.catalog import Deliverable, Gate
from s2p.columns import DIGIT, DIGIT_IMAGE

DELIVERABLE = Deliverable(
    id="gan",
    order=7,
    phase="2",
    title="Conditional GAN: generator against discriminator, label smoothing, gradient penalty, FID-like score",
    task="generation",
    kind="image",
    source="s2p.sources:digit_images",
    features=(replace(DIGIT, description="the digit to draw"),),
    target=replace(DIGIT_IMAGE[0], description="an 8x8 handwritten digit, ink 0-1: what the model draws"),
    model="models.phase2.gan.model:ConditionalGAN",
    reference="models.phase2.gan.reference:ClassConditionalGMM",
    metrics=("fid", "class_accuracy"),
    gate=Gate(metric="fid", greater_is_better=False),
    plots=("loss_curve", "gan_progress", "generated_samples"),
    framework="torch",
    fit_time_budget=None,  # two networks trained for 150 epochs against EM: another kind of model
)
