"""Sampling speed of every task (items/s on one core) and the measured bias of the samplers
that are not exactly uniform.

    OMP_NUM_THREADS=1 python benchmarks/bench_task_sampling.py [--n 20000] [--skip-bias]

Speeds exclude one-off setup (the sudoku pool, the queens enumeration), which is timed
separately. Bias checks compare samplers with the enumerated population where it exists.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twoclocks.data import hash_cells
from twoclocks.tasks import TASKS, make_task
from twoclocks.tasks.sudoku import fill_grids, orbit_bias

EXTRA = [
    ("sudoku", {"size": 4}),
    ("latin", {"n": 4}),
    ("latin", {"n": 7}),
    ("latin", {"n": 9}),
    ("latin", {"sampler": "isotopy", "n": 9}),
    ("queens", {"n": 12}),
    ("ca", {"rule": 110}),
    ("linear_code", {"check_size": 6}),
]


def rate(task, n: int, rng: np.random.Generator) -> float:
    """Items per second for one call of task.sample(n) after a warm-up call."""
    task.sample(8, rng)
    start = time.perf_counter()
    task.sample(n, rng)
    return n / (time.perf_counter() - start)


def speeds(n: int) -> None:
    rng = np.random.default_rng(0)
    print(f"{'task':<52} {'items/s':>12} {'setup s':>8}")
    for name, params in [(name, {}) for name in TASKS] + EXTRA:
        start = time.perf_counter()
        task = make_task(name, **params)
        task.sample(1, rng)  # builds lazy tables
        setup = time.perf_counter() - start
        m = n if not (name == "latin" and params.get("sampler", "jm") == "jm") else max(500, n // 20)
        print(f"{task.describe():<52} {rate(task, m, rng):>12,.0f} {setup:>8.2f}")


def counts_over(everything: np.ndarray, cells: np.ndarray) -> np.ndarray:
    keys = hash_cells(everything)
    order = np.argsort(keys)
    idx = order[np.searchsorted(keys[order], hash_cells(cells))]
    return np.bincount(idx, minlength=len(everything))


def describe_counts(counts: np.ndarray) -> str:
    draws, P = counts.sum(), len(counts)
    expected = draws / P
    chi2 = ((counts - expected) ** 2 / expected).sum()
    tv = 0.5 * np.abs(counts / draws - 1 / P).sum()
    return f"support {int((counts > 0).sum())}/{P}, TV to uniform {tv:.3f}, chi2 {chi2:.0f} (df {P - 1}, {draws} draws)"


def intercalates(squares: np.ndarray) -> np.ndarray:
    """Number of 2x2 Latin subsquares of each square: int64 (n,)."""
    n = squares.shape[1]
    total = np.zeros(len(squares), dtype=np.int64)
    for r1 in range(n):
        for r2 in range(r1 + 1, n):
            a, b = squares[:, r1], squares[:, r2]  # (m, n)
            same = (a[:, :, None] == b[:, None, :]) & (b[:, :, None] == a[:, None, :])
            total += np.triu(same, k=1).sum(axis=(1, 2))
    return total


def bias() -> None:
    rng = np.random.default_rng(1)
    grids4 = fill_grids(2)
    print("\nsudoku 4x4: the 9x9 transformation sampler, run on 4x4 pools")
    for label, pool in [
        ("base = first grid", grids4[:1]),
        ("base = last grid", grids4[-1:]),
        ("4 random-fill bases", np.concatenate([fill_grids(2, rng, 1) for _ in range(4)])),
        ("64 random-fill bases", np.concatenate([fill_grids(2, rng, 1) for _ in range(64)])),
        ("all 288 grids as bases", grids4),
    ]:
        r = orbit_bias(pool, grids4, 288 * 200, rng, b=2)
        print(f"  {label:<24} support {r['support']}/{r['population']}, TV to uniform {r['tv_to_uniform']:.3f}")
    task = make_task("sudoku", size=4)
    print(f"  size=4 task sampler      {describe_counts(counts_over(grids4, task.sample(288 * 200, rng)))}")
    sq = make_task("sudoku")
    print(
        f"  size=9: support <= bases*|G| = 2^{np.log2(sq.params.bases * 1218998108160):.1f} "
        f"of 2^{sq.log2_population:.1f} grids"
    )

    print("\nlatin n=4 against the 576 squares")
    squares4 = make_task("latin", n=4).enumerate()
    for params in ({"sampler": "isotopy"}, {"mix_steps": 4}, {"mix_steps": 16}, {}):
        task = make_task("latin", n=4, **params)
        print(f"  {task.describe():<42} {describe_counts(counts_over(squares4, task.sample(576 * 100, rng)))}")

    print("\nlatin n=5: mean number of intercalates (exact over all 161280 squares)")
    exact = intercalates(make_task("latin", n=5).enumerate()).mean()
    print(f"  population                                 {exact:.4f}")
    for params in ({"sampler": "isotopy"}, {"mix_steps": 5}, {}):
        task = make_task("latin", n=5, **params)
        values = intercalates(task.sample(20000, rng))
        print(f"  {task.describe():<42} {values.mean():.4f} +- {values.std() / np.sqrt(len(values)):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="items per speed measurement")
    parser.add_argument("--skip-bias", action="store_true", help="only measure speeds")
    args = parser.parse_args()
    speeds(args.n)
    if not args.skip_bias:
        bias()


if __name__ == "__main__":
    main()
