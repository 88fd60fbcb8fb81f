"""A random sparse binary linear code on an n x n image: m parity checks, each over
`check_size` random bits; an image is valid when every check has even parity.

check_size is the complexity knob (the order of each interaction); m sets how many bits the
rule pins down. The checks are drawn once from `code_seed`. The valid images form the null
space of the m x n*n parity-check matrix over GF(2), so the population is exactly
2^(n*n - rank), and sampling is uniform: a uniform random combination of a null-space basis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twoclocks.core.domains import BIG, closed, setting
from twoclocks.tasks._util import MAX_ENUMERATE_LOG2, SIDE, bit_vectors, check_int_range
from twoclocks.tasks.base import Task


@dataclass
class LinearCodeParams:
    n: int = setting(6, domain=SIDE)  # image side; the image has n*n bits
    m: int | None = setting(None, domain=closed(1, BIG))  # number of parity checks; None = n*n // 2
    check_size: int = 3  # bits per check, 1 <= check_size <= n*n
    code_seed: int = 0  # seed of the draw of the checks


def gf2_row_reduce(H: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Reduced row echelon form of a binary matrix over GF(2).

    H: uint8 (m, d). Returns (R, pivots): R uint8 (rank, d) with an identity on the pivot
    columns, and the list of pivot columns (len = rank).
    """
    R = H.copy() % 2
    pivots: list[int] = []
    row = 0
    for col in range(R.shape[1]):
        if row == R.shape[0]:
            break
        hits = np.nonzero(R[row:, col])[0]
        if len(hits) == 0:
            continue
        r = row + hits[0]
        R[[row, r]] = R[[r, row]]
        # Clear this column everywhere else (XOR = addition over GF(2)).
        others = np.nonzero(R[:, col])[0]
        others = others[others != row]
        R[others] ^= R[row]
        pivots.append(col)
        row += 1
    return R[:row], pivots


def gf2_null_space(H: np.ndarray) -> np.ndarray:
    """A basis of {x : H x = 0 over GF(2)}: uint8 (d - rank, d), one basis vector per row."""
    R, pivots = gf2_row_reduce(H)
    d = H.shape[1]
    free = [c for c in range(d) if c not in set(pivots)]
    basis = np.zeros((len(free), d), dtype=np.uint8)
    for i, f in enumerate(free):
        basis[i, f] = 1
        # Row j of R reads x_{pivot_j} + sum_free R[j, f] x_f = 0, so x_{pivot_j} = R[j, f].
        basis[i, pivots] = R[:, f]
    return basis


class LinearCode(Task):
    name = "linear_code"
    kind = "binary"
    knob = "check_size"
    Params = LinearCodeParams

    def __init__(self, params: LinearCodeParams):
        super().__init__(params)
        d = params.n * params.n
        if params.m is not None:
            check_int_range("m", params.m, 1)
        check_int_range("check_size", params.check_size, 1, d, "a check covers bits of the n*n image")
        m = self.num_checks
        code_rng = np.random.default_rng(params.code_seed)
        # checks: int64 (m, check_size) flat raster indices, distinct within a check.
        self.checks = np.sort(np.argsort(code_rng.random((m, d)), axis=1)[:, : params.check_size], axis=1)
        H = np.zeros((m, d), dtype=np.uint8)
        H[np.arange(m)[:, None], self.checks] = 1
        self.H = H
        self.basis = gf2_null_space(H)  # uint8 (dim, d)
        self.rank = d - len(self.basis)

    @property
    def num_checks(self) -> int:
        return self.params.m if self.params.m is not None else max(1, self.params.n**2 // 2)

    @property
    def dimension(self) -> int:
        """Dimension of the code (log2 of the population)."""
        return len(self.basis)

    @property
    def covered(self) -> np.ndarray:
        """bool (n*n,): bits that appear in at least one check (flipping one breaks validity)."""
        return np.asarray(self.H.any(axis=0))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def log2_population(self) -> float:
        return float(self.dimension)

    def _combine(self, coeffs: np.ndarray) -> np.ndarray:
        """uint8 (n, dim) coefficients -> uint8 (n, H, W) code words (sums of basis rows mod 2)."""
        words = (coeffs.astype(np.int64) @ self.basis.astype(np.int64)) % 2
        return words.astype(np.uint8).reshape(-1, *self.shape)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform over the code: i.i.d. fair coefficients of the null-space basis (a bijection
        from GF(2)^dim onto the code). Returns uint8 (n, H, W)."""
        return self._combine(rng.integers(0, 2, size=(n, self.dimension), dtype=np.uint8))

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """One constraint per check (its parity is even): bool (n, m)."""
        flat = np.asarray(cells).reshape(len(cells), -1)
        return flat[:, self.checks].sum(axis=2, dtype=np.int64) % 2 == 0

    def enumerate(self) -> np.ndarray | None:
        """Every code word, uint8 (2^dim, n, n), when dim <= 18."""
        if self.dimension > MAX_ENUMERATE_LOG2:
            return None
        return self._combine(bit_vectors(self.dimension))
