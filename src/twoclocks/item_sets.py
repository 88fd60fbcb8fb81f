"""Fixed item sets for likelihood metrics: training items, held-out valid items and invalid
items, built once per training set and handed to the families that score likelihoods (GPT,
masked diffusion). Diffusion families with no cheap likelihood never build them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twoclocks.data import TrainingIndex, hash_cells
from twoclocks.tasks.base import Task

SEED_LIKELIHOOD = 4_000_037  # offset on the data seed for the held-out / corrupted item sets
HELDOUT_ITEMS = 256  # held-out valid items (and as many corrupted ones)
TRAIN_ITEMS_MAX = 1024  # the train set uses at most this many training items (a fixed prefix)


@dataclass(frozen=True)
class ItemSets:
    """uint8 (n, H, W) item sets and the two reference log-likelihoods (nats per item)."""

    train: np.ndarray
    heldout: np.ndarray
    invalid: np.ndarray
    log2_population: float  # a perfect rule learner scores -ln(population) on valid items
    num_train: int  # a perfect copier scores -ln(N) on training items

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "heldout": self.heldout, "invalid": self.invalid}


def likelihood_sets(
    task: Task,
    train_cells: np.ndarray,
    index: TrainingIndex,
    data_seed: int,
    n_heldout: int = HELDOUT_ITEMS,
    max_tries: int = 50,
) -> ItemSets:
    """train (a prefix of at most TRAIN_ITEMS_MAX training items), heldout (distinct valid
    items not in the training set) and invalid (each heldout item with one cell changed so the
    task rejects it).

    Drawn from their own numpy generator seeded by the data seed, so they are identical for
    every run on the same training set and never touch the training or sampling streams.
    Small populations may yield fewer than n_heldout items (or none: the metric is then NaN).
    """
    rng = np.random.default_rng(data_seed + SEED_LIKELIHOOD)
    found: list[np.ndarray] = []
    seen: set[int] = set()
    for _ in range(max_tries):
        if len(found) >= n_heldout:
            break
        cand = task.sample(2 * n_heldout, rng)
        cand = cand[index.match(cand) < 0]
        for item, key in zip(cand, hash_cells(cand)):
            if int(key) not in seen and len(found) < n_heldout:
                seen.add(int(key))
                found.append(item)
    shape = train_cells.shape[1:]
    heldout = np.stack(found) if found else np.zeros((0, *shape), np.uint8)
    return ItemSets(
        train=train_cells[:TRAIN_ITEMS_MAX],
        heldout=heldout,
        invalid=corrupt(heldout, task, rng),
        log2_population=task.log2_population,
        num_train=len(train_cells),
    )


def corrupt(cells: np.ndarray, task: Task, rng: np.random.Generator, tries: int = 20) -> np.ndarray:
    """Each item with one random cell changed to another value, kept only once the task calls
    it invalid (retrying other cells: for some rules one change can keep an item valid).
    uint8 (n, H, W) -> uint8 (m, H, W), m <= n."""
    K, n = task.num_values, len(cells)
    out = cells.copy()
    todo = np.ones(n, dtype=bool)
    for _ in range(tries):
        idx = np.nonzero(todo)[0]
        if len(idx) == 0:
            break
        flat = cells[idx].reshape(len(idx), -1).copy()
        pos = rng.integers(0, flat.shape[1], size=len(idx))
        shift = rng.integers(1, K, size=len(idx))  # never 0: the value really changes
        rows = np.arange(len(idx))
        flat[rows, pos] = (flat[rows, pos].astype(np.int64) + shift) % K
        out[idx] = flat.reshape(-1, *cells.shape[1:])
        todo[idx] = task.is_valid(out[idx])
    return out[~todo]
