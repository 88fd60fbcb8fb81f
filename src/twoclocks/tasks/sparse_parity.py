"""Sparse parity on an n x n binary image: a hidden subset of k bits has even parity and every
other bit is free.

k is the complexity knob: the rule is a single k-th order interaction hidden among n*n - k
uniform bits, so every statistic over fewer than k cells is exactly uniform. The subset is
drawn once from `subset_seed`, so it is part of the rule (and of the task's content hash).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twoclocks.core.domains import setting
from twoclocks.tasks._util import MAX_ENUMERATE_LOG2, SIDE, bit_vectors, check_int_range
from twoclocks.tasks.base import Task


@dataclass
class SparseParityParams:
    n: int = setting(6, domain=SIDE)  # image side; the image has n*n bits
    k: int = 3  # size of the hidden parity subset, 1 <= k <= n*n
    subset_seed: int = 0  # seed of the draw of the hidden subset


class SparseParity(Task):
    name = "sparse_parity"
    kind = "binary"
    knob = "k"
    Params = SparseParityParams

    def __init__(self, params: SparseParityParams):
        super().__init__(params)
        check_int_range("k", params.k, 1, params.n * params.n, "the subset lies in the n*n image")
        subset_rng = np.random.default_rng(params.subset_seed)
        # Sorted flat raster indices of the hidden subset, int64 (k,).
        self.subset = np.sort(subset_rng.choice(self.num_cells, size=params.k, replace=False))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def log2_population(self) -> float:
        return float(self.num_cells - 1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform: all bits i.i.d. fair, then the last subset bit is set to fix the parity.

        Returns uint8 (n, H, W).
        """
        flat = rng.integers(0, 2, size=(n, self.num_cells), dtype=np.uint8)
        return self._fix_parity(flat).reshape(n, *self.shape)

    def _fix_parity(self, flat: np.ndarray) -> np.ndarray:
        """Make the subset's parity even by setting its last bit; flat uint8 (n, H*W), in place."""
        rest = flat[:, self.subset[:-1]].sum(axis=1, dtype=np.int64) % 2
        flat[:, self.subset[-1]] = rest.astype(np.uint8)
        return flat

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """One constraint, the subset's parity: bool (n, 1)."""
        flat = np.asarray(cells).reshape(len(cells), -1)
        return (flat[:, self.subset].sum(axis=1, dtype=np.int64) % 2 == 0)[:, None]

    def enumerate(self) -> np.ndarray | None:
        """Every valid image, uint8 (2^(n*n-1), n, n), when n*n - 1 <= 18."""
        k = self.num_cells - 1
        if k > MAX_ENUMERATE_LOG2:
            return None
        free = np.delete(np.arange(self.num_cells), self.subset[-1])
        flat = np.zeros((2**k, self.num_cells), dtype=np.uint8)
        flat[:, free] = bit_vectors(k)
        return self._fix_parity(flat).reshape(-1, *self.shape)
