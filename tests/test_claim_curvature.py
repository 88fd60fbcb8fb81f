"""Claim 4's second reading: whether tau_mem's exponent in N is constant."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twoclocks.sweeps.claims.curvature import tau_mem_curvature

NS = (4, 8, 16, 32, 64, 128)


def table(exponent, scatter: float = 0.03, budget: float = 1e9, seeds: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for N in NS:
        for _ in range(seeds):
            y = 2.4 + exponent(np.log10(N)) + scatter * rng.standard_normal()
            rows.append(
                {"data.N": N, "tau_mem": min(10**y, budget), "tau_mem_censored": 10**y > budget, "max_step": budget}
            )
    return pd.DataFrame(rows)


def test_a_power_law_shows_no_curvature():
    shape = tau_mem_curvature(table(lambda x: 1.0 * x))
    assert shape is not None and not shape.rises and not shape.falls
    assert shape.ci[0] < 0 < shape.ci[1]
    assert all(abs(s - 1.0) < 0.15 for _, _, s in shape.local if s is not None)
    assert "no curvature shown" in shape.words()


def test_an_exponent_that_rises_with_N_is_told():
    # 1.0 up to N = 16, then 1.4: the local slopes rise, the curvature's interval lies above 0.
    bend = lambda x: 1.0 * x + 0.4 * np.maximum(x - np.log10(16), 0)  # noqa: E731
    shape = tau_mem_curvature(table(bend))
    assert shape is not None and shape.rises
    assert shape.slope_ends[1] > shape.slope_ends[0] + 0.2
    assert "the exponent rises with N" in shape.words()


def test_censored_runs_are_bounds_not_values():
    # A straight exponent of 1.2; the N = 128 runs censored at a budget below their tau_mem.
    # As bounds the fit stays straight; clipped to the budget it would bend down.
    straight = table(lambda x: 1.2 * x, budget=10 ** (2.4 + 1.2 * np.log10(100)))
    assert straight["tau_mem_censored"].sum() == 3
    shape = tau_mem_curvature(straight)
    assert shape is not None and not shape.falls
    assert shape.local[-1][2] is None  # the last level's median is a bound
    clipped = straight.assign(tau_mem_censored=False)
    assert tau_mem_curvature(clipped).falls


def test_two_levels_are_not_enough():
    assert tau_mem_curvature(table(lambda x: x)[lambda d: d["data.N"] <= 8]) is None
