"""Leave-one-level-out validation: censored measurements are scored as bounds, extrapolation
in N is told apart, and the figures come out of real held-out fits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from predict_tables import synthetic_runs
from twoclocks.prediction.validation import leave_one_level_out, score, summarise


def test_a_censored_measurement_is_missed_only_when_the_interval_lies_below_its_bound():
    table = pd.DataFrame(
        {
            "tau_mem": [1000.0, None, None, 50.0],
            "tau_mem_censored": [False, True, True, False],
            "tau_mem_left_censored": [False, False, False, True],
            "max_step": [4000, 4000, 4000, 4000],
        }
    )
    # log10 predictions: the first covers 1000; the second's interval ends at 10**3.7 > 4000
    # (covered: the truth may lie above 4000 inside it); the third ends at 10**3.5 < 4000
    # (missed); the fourth (tau <= 50) starts at 10**1.5 < 50 (covered).
    records = pd.DataFrame(
        {
            "row": [0, 1, 2, 3],
            "clock": "tau_mem",
            "median": [3.1, 3.5, 3.3, 1.9],
            "lo80": [2.9, 3.3, 3.1, 1.5],
            "hi80": [3.2, 3.7, 3.5, 2.2],
            "lo95": [2.8, 3.2, 3.0, 1.4],
            "hi95": [3.3, 3.8, 3.55, 2.3],
        }
    )
    scored = score(records, table)
    assert scored["covered80"].tolist() == [True, True, False, True]
    assert scored["error"].iloc[0] == np.abs(3.1 - 3.0)
    assert scored["error"].iloc[1:].isna().all()  # no error for a bound


def test_leave_one_N_out_on_runs_of_a_known_law():
    runs = synthetic_runs(seeds=3, Ns=(4, 8, 16, 32, 64), budget=100000)
    scored = leave_one_level_out(runs, factors=("data.N",), draws=20)
    assert set(scored["level"]) == {"4", "8", "16", "32", "64"}
    # Holding out N = 64 (or 4) leaves N up to 32 (from 8): a 2x extrapolation.
    assert set(scored.loc[scored["level"].isin(["4", "64"]), "beyond_N"]) == {2.0}
    assert set(scored.loc[~scored["level"].isin(["4", "64"]), "beyond_N"]) == {1.0}
    summary = summarise(scored).set_index("clock")
    # Laws of the right form on data with a scatter of 0.08 decades.
    assert summary.loc["tau_mem", "inside"] < 0.1
    assert set(scored.loc[scored["inside"], "level"]) == {"8", "16", "32"}
    assert 0.6 <= summary.loc["tau_mem", "coverage80"] <= 1.0
    assert summary["predictions"].eq(len(runs.table)).all()
    assert not math.isnan(summary.loc["tau_mem", "N_2x_beyond"])


def test_a_held_out_rule_whose_rule_clock_no_three_rules_reached_is_counted_as_not_predicted():
    from test_predict_rules import RULES, rule_runs
    from twoclocks.prediction.reference import Runs

    runs = rule_runs(rules=RULES[:4], Ns=(8, 16, 32))
    table = runs.table.copy()
    never = table["task"].isin(RULES[2:4]).to_numpy()  # sparse_parity and linear_code never reach tau_rule
    table.loc[never, ["tau_rule", "tau_rule_censored"]] = [np.nan, True]
    refused: list[dict] = []
    scored = leave_one_level_out(Runs(table, runs.sources), factors=("task",), draws=4, refused=refused)
    # Holding out parity or mirror leaves tau_rule measured on one rule, holding out either of the
    # others on two: in no fold is it carried to the held-out rule.
    assert scored[scored["clock"] == "tau_rule"].empty
    by_level = pd.DataFrame(refused).query("clock == 'tau_rule'").groupby("level").size().to_dict()
    assert by_level == {rule: int((table["task"] == rule).sum()) for rule in RULES[:4]}
    assert all(r["factor"] == "task" and "too few" in r["why"] for r in refused)
    assert set(scored.loc[scored["clock"] == "tau_mem", "level"]) == set(RULES[:4])  # every rule reached tau_mem


def test_coverage_of_the_measured_runs_leaves_the_censored_bounds_out():
    # Two measured runs, one inside its interval; two censored runs whose bounds the intervals cover.
    scored = pd.DataFrame(
        {
            "clock": "tau_group",
            "right": [False, False, True, True],
            "left": False,
            "error": [0.1, 0.9, np.nan, np.nan],
            "inside": True,
            "beyond_N": 1.0,
            **{f"covered{q}{law}": [True, False, True, True] for q in (80, 95) for law in ("", "_law")},
        }
    )
    row = summarise(scored).set_index("clock").loc["tau_group"]
    assert row["coverage80"] == 0.75 and row["coverage80_measured"] == 0.5 == row["coverage95_measured"]
    assert row["censored"] == 2
