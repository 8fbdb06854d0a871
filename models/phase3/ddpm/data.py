"""The data of `ddpm`: scikit-learn's 8x8 digits as `gan` reads them (s2p.sources:digit_images: ink 0-1
and the digit), and the two maps between the pixels' range and the [-1, 1] range diffusion works in."""

from __future__ import annotations

import numpy as np


def to_model_range(images: np.ndarray) -> np.ndarray:
    """Ink 0-1 -> [-1, 1], the range the noise schedule and the clipping of x0_hat assume."""
    return images * 2.0 - 1.0


def to_pixels(x: np.ndarray) -> np.ndarray:
    """[-1, 1] -> ink 0-1, clipped: what the model answers."""
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0)
