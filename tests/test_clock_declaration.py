"""A clock is one declaration: a memorisation level and a rule clock added to the lists of
twoclocks.clocks, in this test alone, reach a run's summary and figure, the results table, the
fits, every claim (judged at them, its evidence naming them), the report and the notebook view."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TINY
from test_schema import metrics, results
from twoclocks.analysis import report
from twoclocks.analysis.notebook import with_censored_at
from twoclocks.clocks import FIRST_CLOCK, MEM_CLOCKS, RULE_CLOCKS, MemClock, RuleClock, clock_keys, compute_clocks
from twoclocks.config import ClockConfig, build_config
from twoclocks.plots import clocks_figure
from twoclocks.records.schema import summary_keys
from twoclocks.sweeps.claims.evaluate import claims_text, evaluate_claims, rules_text
from twoclocks.sweeps.claims.fits import standard_fits
from twoclocks.sweeps.results import summary_columns
from twoclocks.training.runner import start_run, summary_lines

# Near copies at the stricter threshold, and constraint_acc at the looser one: thresholds that
# ClockConfig already has, so that the clocks' lists are the one thing changed.
NEAR_HIGH = MemClock(
    "tau_mem_near_high",
    "theta_mem_high",
    FIRST_CLOCK,
    FIRST_CLOCK,
    curve="mem_near",
    chance="mem_near_chance",
    first=False,
    style=("tab:brown", "-."),
)
GROUP_LOW = RuleClock("tau_group_low", "_group_low", "constraint_acc", "theta_rule_low", ("tab:green", ":", "P"))


@pytest.fixture
def new_clocks():
    """NEAR_HIGH and GROUP_LOW in the declarations of the clocks for the length of one test."""
    MEM_CLOCKS.append(NEAR_HIGH)
    RULE_CLOCKS.append(GROUP_LOW)
    try:
        yield
    finally:
        MEM_CLOCKS.remove(NEAR_HIGH)
        RULE_CLOCKS.remove(GROUP_LOW)


def test_a_new_clock_is_in_a_runs_summary_and_figure(new_clocks, tmp_path):
    clocks = compute_clocks(metrics(300, 50, 2000), ClockConfig(), 64, 16)
    assert list(clocks) == clock_keys() and clocks[NEAR_HIGH.tau] > clocks["tau_mem_near"]
    assert clocks[GROUP_LOW.tau] < clocks["tau_group"]
    _, summary = start_run(build_config(TINY), tmp_path / "run", progress=False)
    assert list(summary) == summary_keys() and {NEAR_HIGH.tau, GROUP_LOW.key("window_log10")} <= set(summary)
    lines = summary_lines(summary)
    assert any(line.startswith(NEAR_HIGH.tau) for line in lines) and any(GROUP_LOW.tau in line for line in lines)
    legend = clocks_figure(metrics(300, 50, 2000), clocks).axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert NEAR_HIGH.tau in texts and GROUP_LOW.label(clocks["thresholds"]) in texts


def test_a_new_clock_reaches_the_results_fits_claims_and_report(new_clocks):
    table = results(np.random.default_rng(0))
    assert set(NEAR_HIGH.result_columns() + GROUP_LOW.result_columns()) <= set(summary_columns({}))
    assert table[NEAR_HIGH.tau].notna().all() and table[GROUP_LOW.tau].notna().all()
    fitted = {(f.x, f.y) for f in standard_fits(table, n_boot=50)}
    assert {("data.N", NEAR_HIGH.tau), ("task.G", GROUP_LOW.tau), ("data.N", GROUP_LOW.key("window_log10"))} <= fitted
    claims = {c.id: c for c in evaluate_claims(table)}
    assert all(list(c.by_clock) == [rc.tau for rc in RULE_CLOCKS] for c in claims.values())
    assert all(list(c.by_mem) == ["tau_mem", "tau_mem_near", NEAR_HIGH.tau] for c in claims.values())
    # judged at the new clocks, and saying so in its own words: no column renamed afterwards
    assert f"{GROUP_LOW.tau} vs task.G" in claims[1].by_clock[GROUP_LOW.tau]["evidence"]
    assert f"{NEAR_HIGH.tau} vs data.N" in claims[4].by_mem[NEAR_HIGH.tau]["evidence"]
    assert f"{GROUP_LOW.key('window_log10')} vs data.N" in claims[5].by_clock[GROUP_LOW.tau]["evidence"]
    assert claims[1].by_mem[NEAR_HIGH.tau]["clock"] == NEAR_HIGH.label()
    assert f"{NEAR_HIGH.tau}: " in claims_text(list(claims.values())) and NEAR_HIGH.label() in rules_text()
    shown = report.results_table(table)
    assert {NEAR_HIGH.tau, GROUP_LOW.tau, GROUP_LOW.key("window_log10")} <= set(shown.columns)
    assert {f"{NEAR_HIGH.tau}_censored_at", f"{GROUP_LOW.tau}_censored_at"} <= set(with_censored_at(table).columns)
