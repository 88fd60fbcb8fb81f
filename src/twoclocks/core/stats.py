"""Small statistics helpers: binomial confidence intervals, the bootstrap interval of a mean,
where a curve first crosses a threshold and holds (the clocks) and where it falls back."""

from __future__ import annotations

import math
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


# ----- where a curve crosses a threshold and holds (the clocks read their curves with these) ----
def held(values: np.ndarray, theta: float, start: int = 0, below: bool = False) -> int | None:
    """First index i >= start on the asked side of theta whose next index is too (the last
    index needs no successor); None if there is none."""
    hit = values < theta if below else values >= theta
    for i in range(start, len(values)):
        if hit[i] and (i == len(values) - 1 or hit[i + 1]):
            return i
    return None


def _interpolate(steps: np.ndarray, values: np.ndarray, i: int, theta: float) -> float:
    """Where the segment from evaluation i-1 to i meets theta, linear in log(step)."""
    s0, s1 = math.log(steps[i - 1]), math.log(steps[i])
    v0, v1 = values[i - 1], values[i]
    frac = 1.0 if v1 == v0 else float(np.clip((theta - v0) / (v1 - v0), 0.0, 1.0))
    return float(math.exp(s0 + frac * (s1 - s0)))


def crossing(steps: np.ndarray, values: np.ndarray, theta: float) -> tuple[float | None, bool]:
    """(clock, left_censored) for the first held crossing of `theta`; (None, False) if none."""
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    i = held(values, theta)
    if i is None:
        return None, False
    if i == 0:
        return float(steps[0]), True
    return _interpolate(steps, values, i, theta), False


def erosion(steps: np.ndarray, values: np.ndarray, theta: float) -> float | None:
    """The first held crossing back below `theta` after the held crossing above it, or None
    (never above, or above to the last evaluation)."""
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    up = held(values, theta)
    if up is None:
        return None
    # The first held evaluation below after `up` has an evaluation at or above theta just
    # before it (otherwise that one would have been the first), so the segment meets theta.
    down = held(values, theta, up + 1, below=True)
    return None if down is None else _interpolate(steps, values, down, theta)
