import math

import numpy as np
import pandas as pd
import pytest

from twoclocks.clocks import compute_clocks, crossing, format_clock, window
from twoclocks.config import ClockConfig
from twoclocks.stats import wilson_interval


def test_crossing_interpolates_on_log_step():
    steps = np.array([10, 100, 1000])
    values = np.array([0.0, 0.5, 1.0])
    tau, left = crossing(steps, values, 0.75)
    assert not left
    assert tau == pytest.approx(10**2.5)


def test_crossing_requires_the_next_evaluation_to_hold():
    steps = np.array([1, 2, 4, 8, 16])
    values = np.array([0.0, 0.95, 0.2, 0.95, 0.96])  # a blip at step 2 does not count
    tau, _ = crossing(steps, values, 0.9)
    assert 4 < tau <= 8


def test_crossing_at_last_evaluation_counts_and_censoring():
    assert crossing(np.array([1, 2, 4]), np.array([0, 0, 0.95]), 0.9)[0] is not None
    assert crossing(np.array([1, 2, 4]), np.array([0, 0.5, 0.8]), 0.9) == (None, False)
    tau, left = crossing(np.array([5, 10]), np.array([0.95, 0.99]), 0.9)
    assert tau == 5 and left


def _table(valid, mem, steps, M=1000, chance=0.0):
    df = pd.DataFrame(
        {
            "step": steps,
            "valid": valid,
            "mem": mem,
            "mem_chance": chance,
            "novel_valid": np.array(valid) * (1 - np.array(mem)),
        }
    )
    for col in ("valid", "mem", "novel_valid"):
        lo, hi = wilson_interval(np.round(df[col] * M), M)
        df[f"{col}_lo"], df[f"{col}_hi"] = lo, hi
    return df


def test_compute_clocks_window_and_epochs():
    steps = [10, 100, 1000, 10000]
    df = _table([0.0, 0.92, 1.0, 1.0], [0.0, 0.0, 0.05, 0.6], steps)
    c = compute_clocks(df, ClockConfig(), batch=64, N=32)
    assert 10 < c["tau_rule"] < 100 and not c["tau_rule_censored"]
    assert 1000 < c["tau_mem"] < 10000
    assert c["tau_mem_epochs"] == pytest.approx(c["tau_mem"] * 64 / 32)
    assert c["window_log10"] == pytest.approx(math.log10(c["tau_mem"] / c["tau_rule"]))
    assert not c["window_vanished"]
    early, late = c["tau_rule_ci"]
    assert early <= c["tau_rule"] <= late
    assert c["peak_novel_valid_step"] == 1000
    assert c["tau_mem_high"] is not None and c["tau_mem_high"] > c["tau_mem"]


def test_mem_is_measured_above_chance():
    steps = [10, 100, 1000]
    df = _table([1, 1, 1], [0.2, 0.25, 0.28], steps, chance=0.25)
    assert compute_clocks(df, ClockConfig(), 64, 32)["tau_mem_censored"]


def test_censored_and_vanished_windows():
    assert window(100.0, None, 5000)["window_log10"] == pytest.approx(math.log10(50))
    assert window(100.0, None, 5000)["window_log10_is_lower_bound"]
    assert window(500.0, 100.0, 5000)["window_vanished"]
    assert window(None, 100.0, 5000)["window_vanished"]
    assert window(None, None, 5000)["window_log10"] is None
    assert format_clock(None, 5000) == "> 5000"


def test_wilson_interval_contains_fraction():
    lo, hi = wilson_interval(np.array([0, 50, 100]), 100)
    assert lo[0] == 0 and 0 < hi[0] < 0.05
    assert lo[1] < 0.5 < hi[1]
    assert hi[2] == 1 and lo[2] > 0.95
