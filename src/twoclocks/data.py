"""Training sets of N distinct valid items, and the index that tells whether a generated
item copies one of them.

Exact-match lookup hashes each item's cells to 64 bits (a vectorised polynomial hash over the
cell bytes), finds candidates with `np.searchsorted` on the sorted training hashes, and then
confirms every candidate by comparing the cells themselves, so a hash collision can never
count as memorisation.
"""

from __future__ import annotations

import numpy as np
import torch

from twoclocks.errors import ConfigError
from twoclocks.tasks.base import Task

_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio)


def hash_cells(cells: np.ndarray) -> np.ndarray:
    """uint64 (n,) hash of each item's cells; equal items always hash equal."""
    flat = np.ascontiguousarray(cells, dtype=np.uint8).reshape(len(cells), -1)
    # Pack up to 8 cells per uint64 word, then mix the words.
    d = flat.shape[1]
    pad = (-d) % 8
    if pad:
        flat = np.concatenate([flat, np.zeros((len(flat), pad), np.uint8)], axis=1)
    words = flat.view(np.uint64)
    h = np.full(len(flat), np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(words.shape[1]):
            h = (h ^ words[:, k]) * _HASH_MULT
            h ^= h >> np.uint64(29)
    return h


def draw_training_set(task: Task, N: int, rng: np.random.Generator) -> np.ndarray:
    """N distinct valid items, uint8 (N, H, W), in a random order.

    Draws i.i.d. from `task.sample` and drops duplicates until N distinct items are found;
    when N is more than half the population and it can be enumerated, picks N of the
    enumerated items without replacement instead (rejection would be slow there).
    """
    if N <= 0:
        raise ConfigError(f"data.N must be a positive integer, got {N}")
    # Compare with the exact count when there is one: 2**log2(10) rounds to 9.999...
    population = task.population if task.population is not None else 2.0 ** task.log2_population
    if task.log2_population < 62 and N > population:
        raise ConfigError(
            f"data.N={N} is larger than the population of {task.describe()} "
            f"({population:.0f} valid items)"
        )
    if task.log2_population < 24 and N > population / 2:
        everything = task.enumerate()
        if everything is not None:
            return everything[rng.permutation(len(everything))[:N]]
    items, seen = [], set()
    tries = 0
    while len(items) < N:
        batch = task.sample(max(64, 2 * (N - len(items))), rng)
        for item, key in zip(batch, hash_cells(batch)):
            if key not in seen:
                seen.add(int(key))
                items.append(item)
                if len(items) == N:
                    break
        tries += 1
        if tries > 10_000:
            raise ConfigError(f"could not draw data.N={N} distinct items from {task.describe()}")
    return np.stack(items)


class TrainingIndex:
    """Answers, for generated items: is it a training item, and how far is the nearest one?"""

    def __init__(self, train_cells: np.ndarray, num_values: int):
        self.cells = np.ascontiguousarray(train_cells, dtype=np.uint8)
        self.num_values = num_values
        hashes = hash_cells(self.cells)
        self.order = np.argsort(hashes, kind="stable")
        self.sorted_hashes = hashes[self.order]
        self._onehot: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.cells)

    def match(self, cells: np.ndarray) -> np.ndarray:
        """int64 (n,): index of the identical training item, or -1."""
        h = hash_cells(cells)
        pos = np.searchsorted(self.sorted_hashes, h)
        pos = np.minimum(pos, len(self.sorted_hashes) - 1)
        out = np.full(len(cells), -1, dtype=np.int64)
        hit = np.nonzero(self.sorted_hashes[pos] == h)[0]
        # Walk over equal-hash runs and confirm by cells (collisions are astronomically rare).
        for i in hit:
            j = pos[i]
            while j < len(self.sorted_hashes) and self.sorted_hashes[j] == h[i]:
                cand = self.order[j]
                if np.array_equal(self.cells[cand], cells[i]):
                    out[i] = cand
                    break
                j += 1
        return out

    def nearest_hamming(self, cells: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """int64 (n,): number of cells that differ from the nearest training item.

        Agreement counts are one-hot dot products, so this is one matmul per chunk.
        """
        if self._onehot is None:
            self._onehot = self._one_hot(self.cells)
        out = []
        d = self.cells[0].size
        for start in range(0, len(cells), chunk):
            q = self._one_hot(cells[start:start + chunk])
            agree = q @ self._onehot.T                       # (chunk, N)
            out.append(d - agree.max(dim=1).values.round().long())
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)

    def _one_hot(self, cells: np.ndarray) -> torch.Tensor:
        c = torch.as_tensor(np.asarray(cells, dtype=np.int64)).reshape(len(cells), -1)
        return torch.nn.functional.one_hot(c, self.num_values).reshape(len(cells), -1).float()
