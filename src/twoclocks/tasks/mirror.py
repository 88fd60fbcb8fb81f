"""Mirror symmetry: an n x n binary image equal to its left-right reflection (axes="lr"), its
up-down reflection ("ud"), or both ("both").

The axes are the knob: "lr"/"ud" tie pairs of cells, "both" ties quadruples. Cells on a
mirror axis (the middle column or row when n is odd) are their own image, so flipping one of
them keeps the image valid; for even n every single-cell flip breaks validity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twoclocks.core.domains import Domain, setting
from twoclocks.tasks._util import MAX_ENUMERATE_LOG2, SIDE, bit_vectors
from twoclocks.tasks.base import Task

AXES = ("lr", "ud", "both")


@dataclass
class MirrorParams:
    n: int = setting(6, domain=SIDE)  # image side; the image has n*n bits
    axes: str = setting("lr", domain=Domain(choices=AXES))  # lr (left-right) | ud (up-down) | both


class Mirror(Task):
    name = "mirror"
    kind = "binary"
    knob = "axes"
    Params = MirrorParams

    def __init__(self, params: MirrorParams):
        super().__init__(params)
        n = params.n
        self.flip_lr = params.axes in ("lr", "both")
        self.flip_ud = params.axes in ("ud", "both")
        # The fundamental domain: the top-left half (or quarter) including any middle line.
        self.domain_rows = (n + 1) // 2 if self.flip_ud else n
        self.domain_cols = (n + 1) // 2 if self.flip_lr else n

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def domain_size(self) -> int:
        return self.domain_rows * self.domain_cols

    @property
    def log2_population(self) -> float:
        return float(self.domain_size)

    def on_axis(self) -> np.ndarray:
        """bool (n, n): cells that are their own mirror image (flipping them keeps validity)."""
        n = self.params.n
        grid = np.zeros((n, n), dtype=bool)
        if n % 2 == 1:
            if self.flip_lr and not self.flip_ud:
                grid[:, n // 2] = True
            elif self.flip_ud and not self.flip_lr:
                grid[n // 2, :] = True
            else:
                grid[n // 2, n // 2] = True  # under both reflections only the centre is fixed
        return grid

    def _unfold(self, domain: np.ndarray) -> np.ndarray:
        """uint8 (n, domain_rows, domain_cols) -> symmetric uint8 (n, n, n) images."""
        n = self.params.n
        img = domain
        if self.flip_lr:
            # Mirror the first n//2 columns; the middle column (odd n) is kept once.
            img = np.concatenate([img, img[:, :, : n // 2][:, :, ::-1]], axis=2)
        if self.flip_ud:
            img = np.concatenate([img, img[:, : n // 2][:, ::-1]], axis=1)
        return np.ascontiguousarray(img)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform: fair bits on the fundamental domain, then reflected. uint8 (n, H, W)."""
        domain = rng.integers(0, 2, size=(n, self.domain_rows, self.domain_cols), dtype=np.uint8)
        return self._unfold(domain)

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """One constraint per mirrored pair of cells (column j vs n-1-j for j < n/2, and/or
        row i vs n-1-i): bool (n, num_pairs). With axes=both each pair is checked in each
        direction, which is redundant but keeps the constraints easy to read."""
        c = np.asarray(cells)
        h = self.params.n // 2
        parts = []
        if self.flip_lr:
            parts.append((c[:, :, :h] == c[:, :, ::-1][:, :, :h]).reshape(len(c), -1))
        if self.flip_ud:
            parts.append((c[:, :h] == c[:, ::-1][:, :h]).reshape(len(c), -1))
        out = np.concatenate(parts, axis=1)
        if out.shape[1] == 0:  # n = 1: nothing to check
            out = np.ones((len(c), 1), dtype=bool)
        return out

    def enumerate(self) -> np.ndarray | None:
        """Every symmetric image, uint8 (2^domain, n, n), when the domain has <= 18 cells."""
        if self.domain_size > MAX_ENUMERATE_LOG2:
            return None
        domain = bit_vectors(self.domain_size).reshape(-1, self.domain_rows, self.domain_cols)
        return self._unfold(domain)
