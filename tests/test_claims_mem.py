"""Claims on tau_mem: whether its exponent in N is constant (claim 4), and a rule copied beyond
twice the others' tau_mem judged by its censoring bound (claim 3)."""

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
                {
                    "data.N": N,
                    "tau_mem": min(10**y, budget),
                    "tau_mem_censored": 10**y > budget,
                    "tau_mem_left_censored": False,
                    "max_step": budget,
                }
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


def level(tau: list[float | None], bound: float) -> pd.DataFrame:
    return pd.DataFrame({"tau_mem": [np.nan if t is None else t for t in tau], "max_step": bound})


def test_a_rule_copied_beyond_twice_the_others_budget_is_not_invariant_by_bounds_alone():
    from twoclocks.sweeps.claims.rule_families import judge
    from twoclocks.sweeps.claims.verdicts import INCONCLUSIVE, NOT_SUPPORTED

    g2 = level([67763.0, 97981.0, 75543.0], 160000)
    late = judge("levels", {"G=2": g2, "G=3": level([None, None, None], 241000)})
    assert late.verdict == NOT_SUPPORTED and late.why.startswith("by censoring bounds alone")
    assert "max/min > 2.46" in late.why
    early = judge("levels", {"G=2": g2, "G=3": level([None, None, None], 162329)})
    assert early.verdict == INCONCLUSIVE and "max/min > 1.66, not above 2" in early.why
