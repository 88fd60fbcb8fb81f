"""Small statistics helpers: binomial confidence intervals."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def z_value(level: float) -> float:
    """Two-sided standard normal quantile for a confidence level (0.95 -> 1.96)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson_interval(successes: np.ndarray | int, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial fraction successes/n (vectorised over successes)."""
    k = np.asarray(successes, dtype=np.float64)
    if n <= 0:
        return np.zeros_like(k), np.ones_like(k)
    z = z_value(level)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
