"""Elementary cellular automaton space-time images: row 0 is free, and every later row is the
rule-`rule` update of the row above (periodic boundary).

The rule number is the knob: 90 (XOR of the two neighbours, linear), 30 (chaotic), 110
(Turing complete), ... Each first row gives exactly one image, so the population is 2^width.
Raster token order is already causal (a row depends only on the row above), so the task has
no special token order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twoclocks.core.domains import closed, setting
from twoclocks.tasks._util import MAX_ENUMERATE_LOG2, bit_vectors
from twoclocks.tasks.base import Task


@dataclass
class CAParams:
    rows: int = setting(
        6, domain=closed(2, 255, "the first row and at least one update")
    )  # image height: the first row plus rows-1 updates
    width: int = setting(
        6, domain=closed(3, 255, "each cell needs two distinct neighbours")
    )  # image width = automaton size (periodic boundary)
    rule: int = setting(90, domain=closed(0, 255, "Wolfram numbering of elementary rules"))  # e.g. 90, 30, 110


class CellularAutomaton(Task):
    name = "ca"
    kind = "binary"
    knob = "rule"
    Params = CAParams

    def __init__(self, params: CAParams):
        super().__init__(params)
        # table[4*left + 2*centre + right] = next state (Wolfram's numbering).
        self.table = ((params.rule >> np.arange(8)) & 1).astype(np.uint8)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.rows, self.params.width)

    @property
    def log2_population(self) -> float:
        return float(self.params.width)

    def step(self, row: np.ndarray) -> np.ndarray:
        """One update of a batch of rows: uint8 (n, width) -> uint8 (n, width)."""
        r = row.astype(np.int64)
        code = 4 * np.roll(r, 1, axis=-1) + 2 * r + np.roll(r, -1, axis=-1)
        return self.table[code]

    def evolve(self, first: np.ndarray) -> np.ndarray:
        """Space-time images from first rows: uint8 (n, width) -> uint8 (n, rows, width)."""
        out = np.empty((len(first), *self.shape), dtype=np.uint8)
        out[:, 0] = first
        for t in range(1, self.params.rows):
            out[:, t] = self.step(out[:, t - 1])
        return out

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform (each first row gives one image): uint8 (n, rows, width)."""
        return self.evolve(rng.integers(0, 2, size=(n, self.params.width), dtype=np.uint8))

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """One constraint per cell of rows 1..: it equals the update of the row above.

        Returns bool (n, (rows-1) * width).
        """
        c = np.asarray(cells, dtype=np.uint8)
        expected = self.step(c[:, :-1])  # step acts on the last axis of every row
        return (c[:, 1:] == expected).reshape(len(c), -1)

    def enumerate(self) -> np.ndarray | None:
        """Every valid image, uint8 (2^width, rows, width), when width <= 18."""
        if self.params.width > MAX_ENUMERATE_LOG2:
            return None
        return self.evolve(bit_vectors(self.params.width))
