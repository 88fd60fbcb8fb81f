"""Latin squares: n x n grids over n symbols where every row and every column is a permutation.

n is the knob. Two samplers:
- "jm" (default): the Jacobson-Matthews (1996) Markov chain on the incidence cube, whose
  stationary law restricted to proper squares is uniform. Each item starts from an
  independent random isotopy of the cyclic square and runs rounds of `mix_steps` moves
  (default n^3) until a round ends on a proper square. Uniform up to mixing error: a
  chi-square check against the 576 squares of order 4 is in tests/test_tasks.py (n^2 moves
  already pass it; 4 moves do not).
- "isotopy": independent uniform permutations of the rows, columns and symbols of the cyclic
  square. Fast but NOT uniform: it only reaches the isotopy class of the cyclic group (for
  n=4, 432 of the 576 squares; see docs/tasks.md).

Population: exact counts (OEIS A002860) for n <= 11, an interpolation between proven bounds
beyond (population_exact False).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from twoclocks.core.domains import BIG, Domain, closed, setting
from twoclocks.tasks._util import lines_are_permutations, random_permutations
from twoclocks.tasks.base import Task

# OEIS A002860: number of Latin squares of order n, n = 1..11 (McKay & Wanless 2005 for n=11).
LATIN_COUNTS = {
    1: 1,
    2: 2,
    3: 12,
    4: 576,
    5: 161280,
    6: 812851200,
    7: 61479419904000,
    8: 108776032459082956800,
    9: 5524751496156892842531225600,
    10: 9982437658213039871725064756920320000,
    11: 776966836171770144107444346734230682311065600000,
}
SAMPLERS = ("jm", "isotopy")
MAX_ENUMERATE_N = 5  # 161280 squares <= 2^18; n=6 has 8e8


@dataclass
class LatinParams:
    # order: an n x n grid over n symbols
    n: int = setting(5, domain=closed(2, 32, "the Jacobson-Matthews cube has n^3 cells per item"))
    sampler: str = setting(
        "jm", domain=Domain(choices=SAMPLERS)
    )  # jm (Jacobson-Matthews, uniform) | isotopy (fast, not uniform)
    mix_steps: int | None = setting(None, domain=closed(1, BIG))  # jm moves per round; None = n^3


def _log2_bounds(n: int) -> tuple[float, float]:
    """Proven bounds on log2 L(n): van der Waerden (n!)^{2n}/n^{n^2} <= L(n) <= Bregman's
    prod_k (k!)^{n/k}."""
    lower = 2 * n * math.log2(math.factorial(n)) - n * n * math.log2(n)
    upper = sum(n / k * math.log2(math.factorial(k)) for k in range(1, n + 1))
    return lower, upper


def log2_latin_count(n: int) -> tuple[float, bool]:
    """(log2 L(n), exact?). Beyond the table: lower + c (upper - lower), with c fitted at n=11
    (c = 0.626; the same c gives 122.47 instead of 122.91 at n=10)."""
    if n in LATIN_COUNTS:
        return math.log2(LATIN_COUNTS[n]), True
    lo11, up11 = _log2_bounds(11)
    c = (math.log2(LATIN_COUNTS[11]) - lo11) / (up11 - lo11)
    lo, up = _log2_bounds(n)
    return lo + c * (up - lo), False


def reduced_squares(n: int) -> np.ndarray:
    """All reduced Latin squares (first row and column 0..n-1) by backtracking: uint8 (R, n, n)."""
    grid = np.zeros((n, n), dtype=np.int64)
    grid[0] = np.arange(n)
    grid[:, 0] = np.arange(n)
    row_used = [{r} for r in range(n)]
    col_used = [{c} for c in range(n)]
    out: list[np.ndarray] = []

    def fill(pos: int) -> None:
        if pos == (n - 1) * (n - 1):
            out.append(grid.astype(np.uint8))
            return
        r, c = 1 + pos // (n - 1), 1 + pos % (n - 1)
        for s in range(n):
            if s not in row_used[r] and s not in col_used[c]:
                grid[r, c] = s
                row_used[r].add(s)
                col_used[c].add(s)
                fill(pos + 1)
                row_used[r].discard(s)
                col_used[c].discard(s)

    fill(0)
    return np.stack(out)


def isotopic_cyclic(n_items: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random row/column/symbol permutations of the cyclic square (r + c) mod n: int64 (m, n, n)."""
    pr = random_permutations(rng, (n_items,), n)
    pc = random_permutations(rng, (n_items,), n)
    ps = random_permutations(rng, (n_items,), n)
    cyc = (pr[:, :, None] + pc[:, None, :]) % n
    return np.take_along_axis(ps, cyc.reshape(n_items, -1), axis=1).reshape(n_items, n, n)


def _pick_one(line: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each row of `line` (m, n), a uniformly random index where it equals 1: int64 (m,)."""
    return np.argmax((line == 1) * (1.0 + rng.random(line.shape)), axis=1)


def jacobson_matthews(squares: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Run the Jacobson-Matthews chain from proper squares, int64 (m, n, n); returns proper
    squares, int64 (m, n, n), each taken at the end of the first round of `steps` moves
    that ends on a proper square.

    The incidence cube f[r, c, s] = 1 iff cell (r, c) holds s. A move picks a start cell with
    f = 0 (proper square: uniform among them) or the -1 cell (improper square), and a point
    (r', c', s') on the lines through it where f = 1 (a random one of the two when improper),
    then adds +-1 around the 2x2x2 sub-cube so that every line sum stays 1.
    """
    m, n, _ = squares.shape
    cube = (squares[..., None] == np.arange(n)).astype(np.int8)  # (m, n, n, n)
    improper = np.zeros(m, dtype=bool)
    bad = np.zeros((m, 3), dtype=np.int64)  # the -1 cell when improper
    active = np.arange(m)
    for t in itertools.count(1):
        if len(active) == 0:
            break
        k = len(active)
        r = rng.integers(0, n, size=k)
        c = rng.integers(0, n, size=k)
        current = np.argmax(cube[active, r, c, :], axis=1)  # the symbol at (r, c)
        s = (current + 1 + rng.integers(0, n - 1, size=k)) % n  # any other symbol
        imp = improper[active]
        r, c, s = (np.where(imp, bad[active, i], v) for i, v in enumerate((r, c, s)))
        r2 = _pick_one(cube[active, :, c, s], rng)
        c2 = _pick_one(cube[active, r, :, s], rng)
        s2 = _pick_one(cube[active, r, c, :], rng)
        for (a, b, d), delta in (
            ((r, c, s), 1),
            ((r, c2, s2), 1),
            ((r2, c, s2), 1),
            ((r2, c2, s), 1),
            ((r, c, s2), -1),
            ((r, c2, s), -1),
            ((r2, c, s), -1),
            ((r2, c2, s2), -1),
        ):
            cube[active, a, b, d] += delta
        now_bad = cube[active, r2, c2, s2] < 0
        improper[active] = now_bad
        bad[active] = np.stack([r2, c2, s2], axis=1)
        if t % steps == 0:
            # Accept only at the end of whole rounds: an improper item gets a fresh round
            # rather than stopping at its first proper state, because stopping at the first
            # entry into the proper set favours squares the chain leaves easily.
            active = np.nonzero(improper)[0]
    return np.argmax(cube, axis=3)


class LatinSquare(Task):
    name = "latin"
    kind = "puzzle"
    knob = "n"
    Params = LatinParams

    def __init__(self, params: LatinParams):
        super().__init__(params)
        self._log2, self._exact = log2_latin_count(params.n)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.params.n, self.params.n)

    @property
    def num_values(self) -> int:
        return self.params.n

    @property
    def log2_population(self) -> float:
        return self._log2

    @property
    def population_exact(self) -> bool:
        return self._exact

    @property
    def steps(self) -> int:
        return self.params.n**3 if self.params.mix_steps is None else self.params.mix_steps

    def sample(self, n: int, rng: np.random.Generator, chunk: int = 4096) -> np.ndarray:
        """uint8 (n, order, order): uniform (jm) up to mixing error, or isotopic to the cyclic
        square (isotopy, not uniform). Chunks bound the jm cube's memory (chunk * n^3 bytes)."""
        out = []
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            squares = isotopic_cyclic(m, self.params.n, rng)
            if self.params.sampler == "jm":
                squares = jacobson_matthews(squares, self.steps, rng)
            out.append(squares.astype(np.uint8))
        return np.concatenate(out) if out else np.zeros((0, *self.shape), np.uint8)

    def example(self, rng: np.random.Generator) -> np.ndarray:
        """An isotope of the cyclic square: valid at once, where one Jacobson-Matthews draw makes
        n^3 moves (about a minute at n = 32)."""
        return isotopic_cyclic(1, self.params.n, rng)[0].astype(np.uint8)

    def constraints(self, cells: np.ndarray) -> np.ndarray:
        """Rows then columns, each a permutation of the n symbols: bool (n_items, 2n)."""
        c = np.asarray(cells)
        k = self.params.n
        return np.concatenate([lines_are_permutations(c, k), lines_are_permutations(c.transpose(0, 2, 1), k)], axis=1)

    def enumerate(self) -> np.ndarray | None:
        """Every Latin square of order n <= 5: uint8 (L(n), n, n).

        Each square is uniquely a reduced square with its rows 1..n-1 permuted and then its
        columns permuted (the column permutation fixes row 0, then the row permutation
        fixes column 0), so this lists each square exactly once.
        """
        k = self.params.n
        if k > MAX_ENUMERATE_N:
            return None
        reduced = reduced_squares(k)  # (R, k, k)
        row_perms = np.array([(0, *p) for p in itertools.permutations(range(1, k))])
        col_perms = np.array(list(itertools.permutations(range(k))))
        by_rows = reduced[:, row_perms]  # (R, (k-1)!, k, k)
        squares = by_rows[:, :, :, col_perms]  # (R, (k-1)!, k, k!, k)
        return np.ascontiguousarray(squares.transpose(0, 1, 3, 2, 4)).reshape(-1, k, k)
