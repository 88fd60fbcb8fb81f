"""Constant row weight: every row of an n x n binary image has exactly w ones.

w is the knob. At w = n/2 every cell is marginally a fair coin, so the rule is invisible to
first-order statistics and shows up only as (negative) correlations within a row; other w
also shift the mean. Any single-bit flip changes a row's weight, so it always breaks validity.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from twoclocks.core.domains import setting
from twoclocks.tasks._util import MAX_ENUMERATE_LOG2, SIDE, check_int_range
from twoclocks.tasks.base import Task


@dataclass
class HammingWeightParams:
    n: int = setting(6, domain=SIDE)  # image side; the image has n*n bits
    w: int = 3  # number of ones in every row, 0 <= w <= n


class HammingWeight(Task):
    name = "hamming_weight"
    kind = "binary"
    knob = "w"
    Params = HammingWeightParams

    def __init__(self, params: HammingWeightParams):
        super().__init__(params)
        check_int_range("w", params.w, 0, params.n, "ones per row of an n-wide image")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def log2_population(self) -> float:
        return self.params.n * math.log2(math.comb(self.params.n, self.params.w))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform: each row independently puts its w ones at the w smallest of n i.i.d.
        uniforms (a uniform w-subset). Returns uint8 (n, H, W)."""
        side = self.params.n
        ranks = np.argsort(np.argsort(rng.random((n, side, side)), axis=-1), axis=-1)
        return (ranks < self.params.w).astype(np.uint8)

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """One constraint per row (its weight is w): bool (n, H)."""
        return np.asarray(cells).sum(axis=2, dtype=np.int64) == self.params.w

    def enumerate(self) -> np.ndarray | None:
        """Every valid image, uint8 (C(n,w)^n, n, n), when that is <= 2^18."""
        if self.log2_population > MAX_ENUMERATE_LOG2 + 1e-9:
            return None
        side, w = self.params.n, self.params.w
        rows = np.zeros((math.comb(side, w), side), dtype=np.uint8)  # every valid row
        for i, ones in enumerate(itertools.combinations(range(side), w)):
            rows[i, list(ones)] = 1
        if len(rows) == 1:  # w = 0 or w = n: a single image
            return np.broadcast_to(rows[0], (1, side, side)).copy()
        # Every tuple of row choices, as a mixed-radix index grid (C^n, n).
        choice = np.indices((len(rows),) * side).reshape(side, -1).T
        return rows[choice]
