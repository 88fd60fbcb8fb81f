import math

import numpy as np
import pandas as pd
import pytest

from twoclocks.clocks import RULE_CLOCKS, compute_clocks, group_band, window
from twoclocks.clocks.text import format_clock
from twoclocks.config import ClockConfig
from twoclocks.core.stats import crossing, erosion, wilson_interval
from twoclocks.training.runner import summary_lines


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


def _table(valid, mem, steps, M=1000, chance=0.0, constraint_acc=None):
    df = pd.DataFrame(
        {
            "step": steps,
            "valid": valid,
            "mem": mem,
            "mem_chance": chance,
            "novel_valid": np.array(valid) * (1 - np.array(mem)),
            "constraint_acc": valid if constraint_acc is None else constraint_acc,
            "samples": M,
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


STEPS = [1000, 2000, 4000, 8000, 16000, 32000, 48000]


def test_three_rule_clocks_differ_and_match_a_hand_computation():
    # Every rule clock reached, at a different step, and lost again before copying starts.
    valid = [0.0, 0.3, 0.7, 0.95, 0.97, 0.6, 0.4]
    acc = [0.5, 0.93, 0.98, 0.997, 0.998, 0.955, 0.94]
    mem = [0.0, 0.0, 0.0, 0.0, 0.02, 0.3, 0.6]
    c = compute_clocks(_table(valid, mem, STEPS, constraint_acc=acc), ClockConfig(), batch=64, N=32)
    # Each clock interpolates in log step between the last evaluation below and the first above:
    # tau = s0 * (s1 / s0) ** ((theta - v0) / (v1 - v0)).
    tau_rule = 4000 * 2 ** ((0.9 - 0.7) / (0.95 - 0.7))  # valid >= 0.9 from step 8,000 on
    tau_low = 2000 * 2 ** ((0.5 - 0.3) / (0.7 - 0.3))  # valid >= 0.5 from step 4,000 on
    tau_group = 2000 * 2 ** ((0.95 - 0.93) / (0.98 - 0.93))  # constraint_acc >= 0.95 from 4,000
    tau_mem = 16000 * 2 ** ((0.1 - 0.02) / (0.3 - 0.02))
    assert c["tau_rule"] == pytest.approx(tau_rule) and c["tau_rule_low"] == pytest.approx(tau_low)
    assert c["tau_group"] == pytest.approx(tau_group) and c["tau_mem"] == pytest.approx(tau_mem)
    assert tau_group < tau_low < tau_rule < tau_mem
    assert c["tau_group_epochs"] == pytest.approx(tau_group * 64 / 32)
    # Erosion: the first held drop back below each threshold, interpolated the same way.
    assert c["tau_rule_lost"] == pytest.approx(16000 * 2 ** ((0.9 - 0.97) / (0.6 - 0.97)))
    assert c["tau_rule_low_lost"] == pytest.approx(32000 * 1.5 ** ((0.5 - 0.6) / (0.4 - 0.6)))
    assert c["tau_group_lost"] == pytest.approx(32000 * 1.5 ** ((0.95 - 0.955) / (0.94 - 0.955)))
    assert c["tau_rule_lost"] < tau_mem  # lost before copying
    for rc in RULE_CLOCKS:
        tau = c[rc.tau]
        assert c[rc.key("window_log10")] == pytest.approx(math.log10(tau_mem / tau))
        assert not c[rc.key("window_vanished")] and not c[f"{rc.tau}_censored"]
        early, late = c[f"{rc.tau}_ci"]
        assert early <= tau <= late
        lost_early, lost_late = c[f"{rc.tau}_lost_ci"]
        assert lost_early <= c[f"{rc.tau}_lost"] and (lost_late is None or lost_late >= c[f"{rc.tau}_lost"])
    assert (c["peak_valid"], c["peak_valid_step"]) == (0.97, 16000)
    assert (c["peak_constraint_acc"], c["peak_constraint_acc_step"]) == (0.998, 16000)
    assert c["thresholds"]["theta_group"] == 0.95 and c["thresholds"]["theta_rule_low"] == 0.5


def test_rule_learned_imperfectly_then_eroded():
    # The shape of parity G=3 at N=256: valid peaks at 0.86 (every group right 98.7% of the
    # time), drifts down, and copies appear only at the end.
    valid = [0.0, 0.1, 0.6, 0.86, 0.8, 0.55, 0.45]
    acc = [0.6, 0.9, 0.97, 0.987, 0.985, 0.96, 0.93]
    mem = [0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.2]
    c = compute_clocks(_table(valid, mem, STEPS, constraint_acc=acc), ClockConfig(), batch=64, N=256)
    assert c["tau_rule"] is None and c["tau_rule_censored"] and c["tau_rule_lost"] is None
    assert c["tau_rule_lost_ci"] == [None, None]
    tau_mem = 32000 * 1.5 ** ((0.1 - 0.01) / (0.2 - 0.01))
    assert c["tau_mem"] == pytest.approx(tau_mem)
    # The sample-level window vanished (copying began, valid >= 0.9 never held) ...
    assert c["window_vanished"] and c["window_log10"] is None
    # ... while at the low and group levels the rule was learned long before copying.
    assert c["tau_rule_low"] == pytest.approx(2000 * 2 ** ((0.5 - 0.1) / (0.6 - 0.1)))
    assert c["tau_group"] == pytest.approx(2000 * 2 ** ((0.95 - 0.9) / (0.97 - 0.9)))
    for rc in RULE_CLOCKS[1:]:
        assert not c[rc.key("window_vanished")]
        assert c[rc.key("window_log10")] == pytest.approx(math.log10(tau_mem / c[rc.tau]))
    assert c["tau_rule_low_lost"] == pytest.approx(32000 * 1.5 ** ((0.5 - 0.55) / (0.45 - 0.55)))
    assert c["tau_group_lost"] == pytest.approx(32000 * 1.5 ** ((0.95 - 0.96) / (0.93 - 0.96)))
    assert (c["peak_valid"], c["peak_valid_step"]) == (0.86, 8000)


def test_loss_needs_a_held_drop_and_the_group_band_uses_M_samples():
    steps = np.array([1, 2, 4, 8, 16])
    assert erosion(steps, np.array([0.0, 0.95, 0.85, 0.95, 0.96]), 0.9) is None  # a one-evaluation dip
    assert erosion(steps, np.array([0.0, 0.5, 0.6, 0.7, 0.8]), 0.9) is None  # never above
    assert erosion(steps, np.array([0.0, 0.95, 0.95, 0.85, 0.8]), 0.9) == pytest.approx(4 * 2**0.5)
    df = pd.DataFrame({"constraint_acc": [0.98, 0.5], "samples": [200, 200]})
    lo, hi = group_band(df, 0.95)
    ref_lo, ref_hi = wilson_interval(np.array([196, 100]), 200)
    np.testing.assert_allclose(lo, ref_lo)
    np.testing.assert_allclose(hi, ref_hi)


def test_wilson_interval_contains_fraction():
    lo, hi = wilson_interval(np.array([0, 50, 100]), 100)
    assert lo[0] == 0 and 0 < hi[0] < 0.05
    assert lo[1] < 0.5 < hi[1]
    assert hi[2] == 1 and lo[2] > 0.95


def test_terminal_summary_prints_every_rule_clock_erosion_and_windows():
    valid = [0.0, 0.1, 0.6, 0.86, 0.8, 0.55, 0.45]
    acc = [0.6, 0.9, 0.97, 0.987, 0.985, 0.96, 0.93]
    mem = [0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.2]
    c = compute_clocks(_table(valid, mem, STEPS, constraint_acc=acc), ClockConfig(), batch=64, N=256)
    run = {"task": "parity G=3", "model_family": "dit", "num_params": 10, "N": 256, "seed": 0, "mem_chance": 0.0}
    timing = {"wall_seconds": 1.0, "train_seconds": 1.0, "eval_seconds": 0.0, "eval_share": 0.0}
    lines = summary_lines({**c, **run, **timing})
    text = "\n".join(lines)
    assert "tau_rule     = > 48000 steps" in text and "valid >= 0.9" in text
    low = next(line for line in lines if line.startswith("tau_rule_low"))
    assert f"= {c['tau_rule_low']:,.0f} steps" in low and "valid >= 0.5" in low
    assert f"lost at {c['tau_rule_low_lost']:,.0f}" in low and "after tau_mem" in low
    assert next(line for line in lines if line.startswith("tau_group ")).count("constraint_acc >= 0.95") == 1
    assert "window       = vanished (copying began and tau_rule was never reached)" in text
    assert f"window_low   = {c['window_log10_low']:.2f} decades" in text
    assert "peak valid = 0.860 at step 8,000" in text


def test_rule_clocks_on_valid_are_read_against_chance_as_a_rescaled_curve():
    """With valid_chance c (sparse parity: 1/2), tau_rule and tau_rule_low are the crossings of
    (valid - c) / (1 - c), computed here directly on the rescaled curve and its rescaled Wilson
    band; tau_group (constraint_acc) is not moved, nor is anything by a c worth under a sample."""
    steps = np.array([10, 20, 40, 80, 160, 320, 640, 1280])
    valid = np.array([0.5, 0.52, 0.55, 0.6, 0.8, 0.93, 0.97, 0.98])
    M, c = 256, 0.5
    df = _table(valid, np.zeros_like(valid), steps, M=M).assign(valid_chance=c)
    got = compute_clocks(df, ClockConfig(), batch=64, N=32)
    rescale = lambda v: (np.asarray(v) - c) / (1 - c)  # noqa: E731
    for rc in RULE_CLOCKS[:2]:
        theta = getattr(ClockConfig(), rc.theta)
        tau, _ = crossing(steps, rescale(valid), theta)
        early, _ = crossing(steps, rescale(df["valid_hi"]), theta)
        late, _ = crossing(steps, rescale(df["valid_lo"]), theta)
        assert got[rc.tau] == pytest.approx(tau) and got[f"{rc.tau}_ci"] == pytest.approx([early, late])
    assert got["tau_rule_low"] > 40 and not got["tau_rule_low_left_censored"]  # chance is not learning
    plain = compute_clocks(df.drop(columns="valid_chance"), ClockConfig(), batch=64, N=32)
    assert plain["tau_rule_low"] == 10 and plain["tau_rule_low_left_censored"]  # as read before
    assert got["tau_group"] == plain["tau_group"]
    at_theta = _table([0.2, 0.5, 0.5, 0.5], [0.0] * 4, [10, 20, 40, 80], M=M).assign(valid_chance=2.0**-18)
    assert compute_clocks(at_theta, ClockConfig(), 64, 32)["tau_rule_low"] == pytest.approx(
        crossing(np.array([10, 20, 40, 80]), np.array([0.2, 0.5, 0.5, 0.5]), 0.5)[0]
    )


def test_chance_validity_is_the_valid_fraction_of_every_grid_on_a_small_rule():
    """Task.valid_chance against brute force: every 2^9 grid of a 3x3 group parity, and of a
    3x3 sparse parity, checked by the rule itself."""
    import itertools

    from twoclocks.tasks import make_task

    for task in (make_task("parity", n=3, G=3), make_task("sparse_parity", n=3, k=3)):
        grids = np.array(list(itertools.product([0, 1], repeat=9)), dtype=np.uint8).reshape(-1, 3, 3)
        assert task.valid_chance == pytest.approx(task.is_valid(grids).mean())
