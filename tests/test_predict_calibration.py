"""Calibrated intervals: the extra uncertainty is recovered from held-out errors, grows with
the distance from the runs that measured a clock, and only censored-free evidence counts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predict_tables import synthetic_runs
from twoclocks.config import build_config
from twoclocks.errors import ConfigError
from twoclocks.prediction.calibration import Calibration, fit_clock
from twoclocks.prediction.predict import Laws, predict_config
from twoclocks.prediction.reference import reference_calibration, reference_runs
from twoclocks.prediction.validation import calibrate, leave_one_level_out
from twoclocks.prediction.variables import config_variables

BASE = ["model.width=64", "model.heads=4", "eval.samples=512"]


def held_out(n: int, s0: float, kN: float, a: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Held-out predictions whose errors have a known spread: the law's own sd_law (0.02-0.3
    decades) times a, and extra sqrt(s0^2 + (kN d)^2) for d in 0 .. 1 decades of N."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 1, n) * (rng.uniform(size=n) < 0.5)
    sd = rng.uniform(0.02, 0.3, n)
    err = rng.standard_normal(n) * np.sqrt((a * sd) ** 2 + s0**2 + (kN * d) ** 2)
    return pd.DataFrame(
        {
            "median": 3.0,
            "sd": sd,
            "measured": 3.0 + err,
            "right": False,
            "left": False,
            "decades_N": d,
            "rule_outside": 0,
            "outside": 0,
        }
    )


def test_the_extra_spread_of_held_out_errors_is_recovered():
    p = fit_clock(held_out(2000, s0=0.15, kN=0.4))
    assert p["s0"] == pytest.approx(0.15, abs=0.03)
    assert p["kN"] == pytest.approx(0.4, abs=0.08)
    # Errors no wider than the law's own: nothing extra inside the evidence.
    none = fit_clock(held_out(2000, s0=0.0, kN=0.0))
    assert none["s0"] < 0.03 and none["kN"] < 0.1
    assert p["a"] == pytest.approx(1.0, abs=0.15) and none["a"] == pytest.approx(1.0, abs=0.1)


def test_a_law_spread_too_wide_is_narrowed():
    # Errors half as wide as the law's own spread says: a = 0.5, nothing extra.
    p = fit_clock(held_out(2000, s0=0.0, kN=0.0, a=0.5))
    assert p["a"] == pytest.approx(0.5, abs=0.06) and p["s0"] < 0.03
    # And twice as wide: a = 2, not an extra spread the same for every prediction.
    wide = fit_clock(held_out(2000, s0=0.0, kN=0.0, a=2.0))
    assert wide["a"] == pytest.approx(2.0, abs=0.2) and wide["s0"] < 0.05


def test_a_censored_held_out_run_counts_as_a_bound():
    records = held_out(1000, s0=0.2, kN=0.0)
    exact = fit_clock(records)["s0"]
    # The same runs censored where they came out late: bounds at 3.1, beyond which the
    # truth lies. Treated as bounds, the spread stays near the truth; treated as exact
    # values at 3.1 it would shrink.
    late = records["measured"] > 3.1
    censored = records.assign(measured=np.where(late, 3.1, records["measured"]), right=late)
    assert fit_clock(censored)["s0"] == pytest.approx(exact, abs=0.04)
    clipped = records.assign(measured=np.where(late, 3.1, records["measured"]))
    assert fit_clock(clipped)["s0"] < exact - 0.04


def test_reach_counts_only_runs_that_measured_the_clock():
    laws = Laws.fit(synthetic_runs())  # tau_mem is censored at N = 64 in most runs
    table = laws.runs.table
    measured_64 = (~table.loc[table["data.N"] == 64, "tau_mem_censored"].astype(bool)).sum()
    v = config_variables(build_config([*BASE, "data.N=128", "task.G=2"]))
    mem, rule = laws.reaches(v)["tau_mem"], laws.reaches(v)["tau_rule"]
    assert rule.decades_N == pytest.approx(math.log10(128 / 64))
    largest = 64 if measured_64 else 32
    assert mem.N_range is not None and mem.N_range[1] == pytest.approx(largest)
    # A rule size no run had: outside for every clock.
    v4 = config_variables(build_config([*BASE, "data.N=16", "task.G=4"]))
    assert laws.reaches(v4)["tau_rule"].rule_outside == 1 and rule.rule_outside == 0


def test_a_layout_no_measured_run_had_counts_as_outside():
    laws = Laws.fit(synthetic_runs())  # every run has the contiguous layout
    same = config_variables(build_config([*BASE, "data.N=16", "task.G=2"]))
    other = config_variables(build_config([*BASE, "data.N=16", "task.G=2", "task.layout=random"]))
    assert laws.reaches(same)["tau_rule"].outside == 0
    r = laws.reaches(other)["tau_rule"]
    # No fitted run varied the layout: the law has no term for it (`unvaried`, not `outside`).
    assert r.unvaried == 1 and r.outside == 0 and r.outside_vars == ("layout",) and r.rule_outside == 0
    p = predict_config(laws, build_config([*BASE, "data.N=16", "task.G=2", "task.layout=random"]))
    assert [w for w in p.warnings if "layout" in w] == [
        "task.layout=random: no fitted run has it (they have contiguous); not in the law"
    ]


def test_a_calibrated_prediction_is_wider_the_further_it_reaches():
    laws = Laws.fit(synthetic_runs())
    cal = Calibration({c: {"a": 1.0, "s0": 0.0, "kN": 0.5, "sb": 1.0, "sx": 0.3} for c in laws.laws}, "test")
    inside = build_config([*BASE, "data.N=16", "task.G=2", "train.steps=100000"])
    beyond = build_config([*BASE, "data.N=640", "task.G=2", "train.steps=100000"])

    def width(laws: Laws, cfg) -> float:
        lo, hi = predict_config(laws, cfg).clocks["tau_rule"].intervals[0.95]
        return math.log10(hi / lo)

    assert width(laws.calibrated(cal), inside) == pytest.approx(width(laws, inside), rel=0.05)
    # One decade beyond N = 64: 0.5 decades of extra sd, about +-1 decade at 95%.
    assert width(laws.calibrated(cal), beyond) > width(laws, beyond) + 1.2
    p = predict_config(laws.calibrated(cal), beyond)
    assert p.calibrated_on == "test" and "intervals calibrated on test" in p.lines()
    assert "data.N=640 is 10x above the largest data.N fitted for dit on parity (64): extrapolated" in p.warnings


def test_a_clock_measured_over_a_narrower_range_says_so_once():
    laws = Laws.fit(synthetic_runs())
    p = predict_config(laws, build_config([*BASE, "data.N=128", "task.G=3"]))
    assert p.warnings == [
        "data.N=128 is 2x above the largest data.N fitted for dit on parity (64): extrapolated",
        "tau_mem: data.N=128 is 4x above the largest N of the runs of dit on parity with this rule size "
        "that measured it (32): extrapolated",
    ]


def test_calibration_widens_what_the_law_alone_gets_wrong():
    # A law whose exponent bends (1.0 below N = 16, 1.6 above): held out at the ends, a
    # straight law's intervals miss; calibrated on the other folds they cover more.
    runs = synthetic_runs(seeds=3, Ns=(4, 8, 16, 32, 64, 128), budget=10**7)
    table = runs.table.copy()
    logN = np.log10(table["data.N"].to_numpy(float))
    bend = 0.6 * np.maximum(logN - math.log10(16), 0.0)
    table["tau_mem"] = table["tau_mem"].to_numpy(float) * 10**bend
    runs = type(runs)(table, runs.sources)
    scored = leave_one_level_out(runs, factors=("data.N",), draws=10)
    mem = scored[scored["clock"] == "tau_mem"]
    assert mem["covered80_law"].mean() < 0.75  # the law alone: too narrow where it bends
    assert mem["covered80"].mean() >= mem["covered80_law"].mean() + 0.1
    assert mem["covered95"].mean() >= mem["covered95_law"].mean()


def test_the_shipped_calibration_belongs_to_the_shipped_runs():
    runs = reference_runs()
    record = reference_calibration(runs)
    assert record is not None, "reference/calibration.json is missing or was fitted on other runs"
    cal = Calibration.from_dict(record)
    assert set(cal.clocks) == {"tau_rule", "tau_rule_low", "tau_group", "tau_mem"}
    assert all(0.2 - 1e-9 <= p["a"] <= 5.0 + 1e-9 for p in cal.clocks.values())
    assert all(0 < p[k] <= 3.0 + 1e-9 for p in cal.clocks.values() for k in p if k != "a")  # decades
    fewer = type(runs)(runs.table.iloc[1:], runs.sources)
    assert reference_calibration(fewer) is None


def test_runs_the_laws_cannot_be_fitted_on_are_refused_with_the_reason():
    # A budget of 100 steps: no run reaches a rule clock (log10 tau ~ 2.3), as in a reference
    # where the rule was learned in too few runs; calibrating them is refused in one line.
    runs = synthetic_runs(Ns=(4, 8), seeds=2, budget=100)
    refused = r"cannot calibrate on .*no held-out run could be predicted \(tau_rule: only 0"
    with pytest.raises(ConfigError, match=refused):
        calibrate(runs, draws=4)
