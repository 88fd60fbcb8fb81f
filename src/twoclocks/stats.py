"""Small statistics helpers: binomial confidence intervals, the bootstrap interval of a mean."""

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


def bootstrap_interval(
    values: np.ndarray, level: float = 0.95, draws: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (n,): the mean of `draws` seeded
    resamples of n values with replacement, cut at (1 - level)/2 and (1 + level)/2. (nan, nan)
    when there are no values."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(draws)
    rows = max(1, 2**22 // len(x))  # resamples per pass: a few MB of indices at a time
    for start in range(0, draws, rows):
        count = min(rows, draws - start)
        means[start : start + count] = x[rng.integers(0, len(x), size=(count, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
