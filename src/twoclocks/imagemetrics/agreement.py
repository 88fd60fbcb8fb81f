"""Agreement of two models trained on disjoint halves of a data set and sampled with the same
noise (Kadkhodaie et al. 2024): once both generalise they draw nearly the same image from the
same noise, while two models that copy their own halves cannot.

For paired samples (sample i of model A and sample i of model B start from the same noise):
`agree`, the fraction of pairs whose quantised cells are identical (with its Wilson
interval), and `agree_l2`, the mean L2 distance between the pairs' continuous values (with a
seeded bootstrap interval).
"""

from __future__ import annotations

import numpy as np

from twoclocks.core.stats import bootstrap_interval, wilson_interval

SEED_BOOTSTRAP = 6_000_023


def agreement(
    cells_a: np.ndarray, cells_b: np.ndarray, values_a: np.ndarray, values_b: np.ndarray, ci_level: float = 0.95
) -> dict[str, float]:
    """cells uint8 (M, H, W) and continuous values float (M, H, W) of both models, paired by row."""
    if cells_a.shape != cells_b.shape or values_a.shape != values_b.shape or len(cells_a) != len(values_a):
        raise ValueError(
            f"paired samples need equal shapes: cells {cells_a.shape} and {cells_b.shape}, "
            f"values {values_a.shape} and {values_b.shape}"
        )
    M = len(cells_a)
    same = (cells_a.reshape(M, -1) == cells_b.reshape(M, -1)).all(axis=1)
    diff = np.asarray(values_a, dtype=np.float64) - np.asarray(values_b, dtype=np.float64)
    dist = np.sqrt((diff.reshape(M, -1) ** 2).sum(axis=1))
    lo, hi = wilson_interval(int(same.sum()), M, ci_level)
    l2_lo, l2_hi = bootstrap_interval(dist, ci_level, seed=SEED_BOOTSTRAP)
    return {
        "agree": float(same.mean()) if M else float("nan"),
        "agree_lo": float(lo),
        "agree_hi": float(hi),
        "agree_l2": float(dist.mean()) if M else float("nan"),
        "agree_l2_lo": l2_lo,
        "agree_l2_hi": l2_hi,
    }
