"""Copy criteria for generated images against a training set, and their chance levels.

- exact copy (`mem`): the quantised sample equals a training item (`TrainingIndex.match`);
- near copy (`mem_near`): it differs from a training item in at most `near_cells` cells
  (`TrainingIndex.nearest_hamming`);
- ratio copy (`mem_ratio`, Bonnaire et al. 2025): with d1 and d2 the L2 distances of the
  sample's continuous values to its nearest and second-nearest training image, d1/d2 < 1/3,
  i.e. d2 > 3 d1 (`RATIO_FACTOR`). A sample equal to a training image has d1 = 0 and counts.

Each criterion's chance level is measured, not assumed: the same criterion applied to the
held-out images (the data set's test split) against the same training set, which is what a
model that generalised perfectly, drawing new images of the data distribution, would score
(`copy_chance`).

The ratio is scale-free, so images may be given in any unit. Given in grey-level units
(integers, `cells` as floats) the squared distances below are exact (every product and
partial sum is an integer below 2**53), and so is the comparison d2^2 > 9 d1^2: a tie such as
Hamming distances 1 and 9 between binary images (d1/d2 = 1/3 exactly) is never a copy.
"""

from __future__ import annotations

import numpy as np
import torch

from twoclocks.core.stats import bootstrap_interval, wilson_interval
from twoclocks.data import TrainingIndex

RATIO_FACTOR = 3  # a ratio copy: the second-nearest training image is more than 3x as far as the nearest
CRITERIA = ("mem", "mem_near", "mem_ratio")  # each criterion's fraction; `<name>_chance` its chance level
BOOTSTRAP_DRAWS = 1000
SEED_BOOTSTRAP = 6_000_011
CHUNK = 2048  # queries per distance matrix: (CHUNK, N) float64


def squared_distances(queries: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """float64 (m, D), (N, D) -> float64 (m, N): |q - t|^2 as |q|^2 + |t|^2 - 2 q.t (clamped at
    0 against rounding; exact for integer-valued inputs)."""
    cross = queries @ train.T
    out = (queries * queries).sum(1)[:, None] + (train * train).sum(1)[None, :] - 2.0 * cross
    return out.clamp_(min=0.0)


def two_nearest(queries: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared L2 distances of each query to its nearest and second-nearest training image.

    queries (M, ...) and train (N, ...), N >= 2, flattened to (M, D), (N, D) -> float64 (M,), (M,).
    """
    if len(train) < 2:
        raise ValueError(f"the ratio needs at least two training images, got {len(train)}")
    t = torch.as_tensor(np.asarray(train, dtype=np.float64).reshape(len(train), -1))
    q_all = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
    first, second = [], []
    for start in range(0, len(q_all), CHUNK):
        d = squared_distances(torch.as_tensor(q_all[start : start + CHUNK]), t)
        two = torch.topk(d, 2, dim=1, largest=False).values  # sorted ascending
        first.append(two[:, 0])
        second.append(two[:, 1])
    if not first:
        return np.zeros(0), np.zeros(0)
    return torch.cat(first).numpy(), torch.cat(second).numpy()


def nn_ratio(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """float64 (M,): d1/d2 for each query (0 when d1 = 0, also against duplicated training images)."""
    d1, d2 = two_nearest(queries, train)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d1 == 0, 0.0, np.sqrt(d1 / d2))


def ratio_copies(queries: np.ndarray, train: np.ndarray, factor: int = RATIO_FACTOR) -> np.ndarray:
    """bool (M,): d2 > factor * d1, i.e. d1/d2 < 1/factor (compared on squares: exact ties stay ties)."""
    d1, d2 = two_nearest(queries, train)
    return factor * factor * d1 < d2


def copy_metrics(
    cells: np.ndarray,
    values: np.ndarray,
    index: TrainingIndex,
    train_values: np.ndarray,
    near_cells: int,
    ci_level: float = 0.95,
) -> dict[str, float]:
    """The three copy fractions of M samples with their intervals (Wilson for the exact and
    near copies, a seeded percentile bootstrap for the ratio, as Bonnaire et al. report it).

    cells: uint8 (M, H, W), the quantised samples; values: float (M, H, W), their continuous
    values (in the units of train_values, float (N, H, W)); index: the training cells.
    """
    flags = {
        "mem": index.match(cells) >= 0,
        "mem_near": index.nearest_hamming(cells) <= near_cells,
        "mem_ratio": ratio_copies(values, train_values),
    }
    out: dict[str, float] = {}
    for name in CRITERIA:
        hits = flags[name]
        out[name] = float(hits.mean()) if len(hits) else float("nan")
        if name == "mem_ratio":
            lo, hi = bootstrap_interval(hits, ci_level, BOOTSTRAP_DRAWS, SEED_BOOTSTRAP)
        else:
            lo, hi = (float(v) for v in wilson_interval(int(hits.sum()), len(hits), ci_level))
        out[f"{name}_lo"], out[f"{name}_hi"] = lo, hi
    return out


def copy_chance(
    heldout: np.ndarray, heldout_values: np.ndarray, index: TrainingIndex, train_values: np.ndarray, near_cells: int
) -> dict[str, float]:
    """`<criterion>_chance` for each criterion: its fraction on the held-out images (cells uint8
    (K, H, W) and their continuous values) against the training set."""
    measured = copy_metrics(heldout, heldout_values, index, train_values, near_cells)
    return {f"{name}_chance": measured[name] for name in CRITERIA}
