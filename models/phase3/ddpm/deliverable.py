"""The declaration of `ddpm`: the 8x8 digits of `gan`, a class in and an image out, gated on the FID-like score."""

from __future__ import annotations

from dataclasses import replace

from s2p.catalog import Deliverable, Gate
from s2p.columns import DIGIT, DIGIT_IMAGE

DELIVERABLE = Deliverable(
    id="ddpm",
    order=8,
    phase="3",
    title="DDPM: forward noising, a class-conditional denoiser with time embeddings, DDPM and DDIM sampling",
    task="generation",
    kind="diffusion_image",  # the image kind, with the sampler and its steps chosen per request
    source="s2p.sources:digit_images",
    features=(replace(DIGIT, description="the digit to draw"),),
    target=replace(DIGIT_IMAGE[0], description="an 8x8 handwritten digit, ink 0-1: what the model draws"),
    model="models.phase3.ddpm.model:DDPM",
    reference="models.phase3.ddpm.reference:DiffusersDDPM",
    metrics=(
        "fid",
        "fid_samples",
        "class_accuracy",
        "fid_ddim",
        "ddpm_seconds_per_1000",
        "ddim_seconds_per_1000",
    ),
    gate=Gate(metric="fid", greater_is_better=False),
    plots=("loss_curve", "denoising_steps", "generated_samples"),
    framework="torch",
    fit_time_budget=1.5,  # the same network, data and loop: only the schedulers differ
)
