"""N-queens: n non-attacking queens on an n x n board; a cell is 1 where a queen stands.

n is the knob. Valid: exactly one queen per row and per column, at most one per diagonal and
per anti-diagonal. The solutions are enumerated once by backtracking (92 for n=8) and the
sampler draws uniformly from them, so it is exactly uniform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from twoclocks.errors import ConfigError, quote
from twoclocks.tasks.base import Task

# OEIS A000170: number of solutions for n = 1..13 (n = 2, 3 have none). n <= 13 keeps the
# pure-Python enumeration to a couple of seconds (n=14 has 365,596 solutions).
QUEENS_COUNTS = {1: 1, 4: 2, 5: 10, 6: 4, 7: 40, 8: 92, 9: 352, 10: 724, 11: 2680, 12: 14200, 13: 73712}


@dataclass
class QueensParams:
    n: int = 8  # board side and number of queens: 1 or 4..13


def queen_columns(n: int) -> np.ndarray:
    """Every solution as the queen's column in each row: int64 (count, n), lexicographic.

    Backtracking over rows with bitmasks of the attacked columns and diagonals.
    """
    out: list[tuple[int, ...]] = []
    full = (1 << n) - 1
    cols: list[int] = []

    def place(taken: int, diag: int, anti: int) -> None:
        if len(cols) == n:
            out.append(tuple(cols))
            return
        free = full & ~(taken | diag | anti)
        while free:
            bit = free & -free
            free ^= bit
            cols.append(bit.bit_length() - 1)
            # Diagonals shift by one column per row; anti-diagonals the other way.
            place(taken | bit, ((diag | bit) << 1) & full, (anti | bit) >> 1)
            cols.pop()

    place(0, 0, 0)
    return np.array(out, dtype=np.int64).reshape(-1, n)


class Queens(Task):
    name = "queens"
    kind = "puzzle"
    knob = "n"
    Params = QueensParams

    def __init__(self, params: QueensParams):
        super().__init__(params)
        if params.n not in QUEENS_COUNTS:
            raise ConfigError(f"task.n must be 1 or in [4, 13] (n=2, 3 have no solutions), got {quote(params.n)}")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def log2_population(self) -> float:
        return math.log2(QUEENS_COUNTS[self.params.n])

    @cached_property
    def _solutions(self) -> np.ndarray:
        """uint8 (count, n, n) boards, built on first use."""
        n = self.params.n
        cols = queen_columns(n)
        boards = np.zeros((len(cols), n, n), dtype=np.uint8)
        boards[np.arange(len(cols))[:, None], np.arange(n), cols] = 1
        return boards

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform over all solutions: uint8 (n, H, W)."""
        return self._solutions[rng.integers(0, len(self._solutions), size=n)]

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """Rows (one queen), columns (one queen), diagonals and anti-diagonals (at most one):
        bool (n_items, 2n + 2(2n-1))."""
        c = np.asarray(cells, dtype=np.int64)
        n = self.params.n
        offsets = np.arange(-(n - 1), n)
        diag = np.stack([np.diagonal(c, k, axis1=1, axis2=2).sum(axis=1) for k in offsets], axis=1)
        anti = np.stack([np.diagonal(c[:, :, ::-1], k, axis1=1, axis2=2).sum(axis=1) for k in offsets], axis=1)
        return np.concatenate([c.sum(axis=2) == 1, c.sum(axis=1) == 1, diag <= 1, anti <= 1], axis=1)

    def enumerate(self) -> np.ndarray | None:
        """All solutions, uint8 (count, n, n)."""
        return self._solutions.copy()
