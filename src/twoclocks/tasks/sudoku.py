"""Completed Sudoku grids, size 4 (2x2 boxes) or 9 (3x3 boxes); a cell holds digit-1.

Valid: every row, column and box is a permutation of the digits (one constraint each).

Samplers:
- size 4: exactly uniform, a uniform draw from the 288 enumerated grids.
- size 9: NOT uniform over all 6.67e21 grids. A pool of `bases` grids is filled once by
  randomised backtracking (seeded by `base_seed`); each sample picks a pool grid uniformly and
  applies a uniform element of the validity-preserving group G: digit relabelling (9!), row
  permutations within bands and of bands ((3!)^4), the same for columns and stacks ((3!)^4),
  and transposition (2); |G| = 1.22e12. A uniform element of G maps a grid to a uniform
  point of its orbit, so the sampler is uniform over the union of the pool's orbits (at most
  bases * |G| ~ 2^46 grids for bases=64, a 2^-26 fraction of all grids). Were the pool grids
  themselves uniform draws, this would be exactly uniform (the uniform law is G-invariant);
  with a finite pool, the support is what is biased. `orbit_bias` measures it on 4x4, where
  the orbits can be compared with the enumeration (see docs/tasks.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from twoclocks.core.domains import closed, setting
from twoclocks.errors import ConfigError, quote
from twoclocks.tasks._util import lines_are_permutations, random_permutations
from twoclocks.tasks.base import Task

# Number of completed grids: 4x4 by enumeration; 9x9 from Felgenhauer & Jarvis (2005).
GRID_COUNTS = {4: 288, 9: 6_670_903_752_021_072_936_960}


@dataclass
class SudokuParams:
    size: int = 9  # grid side: 4 (2x2 boxes) or 9 (3x3 boxes)
    bases: int = setting(64, domain=closed(1, 100_000))  # size 9: pool grids whose orbits the sampler covers
    base_seed: int = 0  # size 9: seed of the backtracking fill of the pool


def fill_grids(b: int, rng: np.random.Generator | None = None, limit: int | None = None) -> np.ndarray:
    """Completed grids of side s = b*b by backtracking: uint8 (count, s, s), digits 0..s-1.

    With `rng`, digits are tried in a random order (a randomised fill; not uniform over grids).
    Without, in increasing order, so limit=None enumerates every grid (only sane for b=2).
    Always branches on the empty cell with the fewest candidates, so dead ends are rare.
    """
    s = b * b
    full = (1 << s) - 1
    rows, cols, boxes = [0] * s, [0] * s, [0] * s
    grid = [[-1] * s for _ in range(s)]
    found: list[np.ndarray] = []

    def candidates(r: int, c: int) -> int:
        return full & ~(rows[r] | cols[c] | boxes[(r // b) * b + c // b])

    def solve(empty: int) -> bool:
        if empty == 0:
            found.append(np.array(grid, dtype=np.uint8))
            return limit is not None and len(found) >= limit
        best, best_count = (0, 0), s + 1
        for r in range(s):
            for c in range(s):
                if grid[r][c] < 0:
                    count = bin(candidates(r, c)).count("1")
                    if count < best_count:
                        best, best_count = (r, c), count
        r, c = best
        mask = candidates(r, c)
        digits = [d for d in range(s) if mask >> d & 1]
        if rng is not None:
            digits = [digits[i] for i in rng.permutation(len(digits))]
        k = (r // b) * b + c // b
        for d in digits:
            bit = 1 << d
            grid[r][c] = d
            rows[r] |= bit
            cols[c] |= bit
            boxes[k] |= bit
            if solve(empty - 1):
                return True
            rows[r] &= ~bit
            cols[c] &= ~bit
            boxes[k] &= ~bit
            grid[r][c] = -1
        return False

    solve(s * s)
    return np.stack(found)


def group_size(b: int) -> int:
    """|G| of the transformations `transform_grids` draws from: (s)! * (b!)^(2b+2) * 2."""
    return math.factorial(b * b) * math.factorial(b) ** (2 * b + 2) * 2


def transform_grids(bases: np.ndarray, n: int, rng: np.random.Generator, b: int) -> np.ndarray:
    """n grids, each a uniform pool grid under a uniform element of the Sudoku group.

    bases: uint8 (P, s, s) valid grids. Returns uint8 (n, s, s). Fully vectorised: every
    factor of the group is an independent uniform permutation drawn by argsort.
    """
    s = b * b
    which = rng.integers(0, len(bases), size=n)

    def line_perm() -> np.ndarray:
        # Permute the bands (stacks), then the lines inside each: int64 (n, s).
        band = random_permutations(rng, (n,), b)
        within = random_permutations(rng, (n, b), b)
        return (band[:, :, None] * b + within).reshape(n, s)

    rows, cols = line_perm(), line_perm()
    grids = bases[which[:, None, None], rows[:, :, None], cols[:, None, :]]
    transpose = rng.random(n) < 0.5
    grids = np.where(transpose[:, None, None], grids.transpose(0, 2, 1), grids)
    relabel = random_permutations(rng, (n,), s)
    flat = np.take_along_axis(relabel, grids.reshape(n, -1).astype(np.int64), axis=1)
    return flat.reshape(n, s, s).astype(np.uint8)


def orbit_bias(bases: np.ndarray, everything: np.ndarray, draws: int, rng: np.random.Generator, b: int) -> dict:
    """Measure the transformation sampler against the full population (for small grids).

    bases: uint8 (P, s, s) pool; everything: uint8 (T, s, s) all valid grids. Returns the
    number of grids the sampler ever hit, the total, and the total-variation distance between
    the empirical sampling law and the uniform law on all T grids.
    """
    from twoclocks.encoding import hash_cells

    samples = transform_grids(bases, draws, rng, b)
    all_keys = hash_cells(everything)
    order = np.argsort(all_keys)
    idx = order[np.searchsorted(all_keys[order], hash_cells(samples))]
    counts = np.bincount(idx, minlength=len(everything))
    freq = counts / draws
    return {
        "support": int((counts > 0).sum()),
        "population": len(everything),
        "tv_to_uniform": float(0.5 * np.abs(freq - 1.0 / len(everything)).sum()),
    }


class Sudoku(Task):
    name = "sudoku"
    kind = "puzzle"
    knob = "size"
    Params = SudokuParams

    def __init__(self, params: SudokuParams):
        super().__init__(params)
        if params.size not in GRID_COUNTS:
            raise ConfigError(f"task.size must be 4 or 9 (2x2 or 3x3 boxes), got {quote(params.size)}")
        self.box = math.isqrt(params.size)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.size, self.params.size)

    @property
    def num_values(self) -> int:
        return self.params.size

    @property
    def log2_population(self) -> float:
        return math.log2(GRID_COUNTS[self.params.size])

    @cached_property
    def _all_grids(self) -> np.ndarray:
        return fill_grids(self.box)

    @cached_property
    def base_grids(self) -> np.ndarray:
        """The size-9 sampler's pool, uint8 (bases, 9, 9); built on first use (~2 ms per grid)."""
        rng = np.random.default_rng(self.params.base_seed)
        return np.concatenate([fill_grids(self.box, rng, limit=1) for _ in range(self.params.bases)])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """uint8 (n, s, s). Uniform for size 4; for size 9 uniform over the pool's orbits only
        (see the module docstring)."""
        if self.params.size == 4:
            return self._all_grids[rng.integers(0, len(self._all_grids), size=n)]
        return transform_grids(self.base_grids, n, rng, self.box)

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """Rows, then columns, then boxes (raster order), each a permutation: bool (n, 3s)."""
        c = np.asarray(cells)
        n, s, b = len(c), self.params.size, self.box
        boxes = c.reshape(n, b, b, b, b).transpose(0, 1, 3, 2, 4).reshape(n, s, s)
        return np.concatenate(
            [
                lines_are_permutations(c, s),
                lines_are_permutations(c.transpose(0, 2, 1), s),
                lines_are_permutations(boxes, s),
            ],
            axis=1,
        )

    def enumerate(self) -> np.ndarray | None:
        """All 288 grids for size 4 (uint8 (288, 4, 4)); None for size 9."""
        return self._all_grids.copy() if self.params.size == 4 else None
