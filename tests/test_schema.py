"""One declaration per schema: a rule clock and a claim registered here, in the test alone,
reach the summary, the stop rule, the results table, the report and claims.json; the summary's
keys are those the schema declares."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY
from twoclocks.analysis import report
from twoclocks.analysis.report_claims import claims_html
from twoclocks.clocks import RULE_CLOCKS, RuleClock, clock_keys, compute_clocks
from twoclocks.config import ClockConfig, build_config
from twoclocks.records.schema import required_keys, summary_keys
from twoclocks.sweeps.claims import registry
from twoclocks.sweeps.claims.evaluate import evaluate_claims, write_claims
from twoclocks.sweeps.claims.paper import along, increases
from twoclocks.sweeps.results import summary_columns
from twoclocks.training.runner import start_run, summary_lines
from twoclocks.training.stopping import stop_reason

# valid >= theta_group (0.95): a level above tau_rule, on the curve tau_rule reads.
FOURTH = RuleClock("tau_rule_high", "_high", "valid", "theta_group", ("tab:olive", ":", "v"))
TENTH = registry.ClaimDefinition(
    10,
    "tau_mem grows with N at every {knob}",
    "main, measuring tau_mem",
    "tau_mem vs data.N, slope > 0 (a test's own claim)",
    along(("data.N",), "mem", increases),
    missing="no runs vary data.N",
)
STEPS = np.unique(np.geomspace(10, 20000, 16).round().astype(int))


@pytest.fixture
def fourth_clock():
    """FOURTH in the declaration of the rule clocks for the length of one test."""
    RULE_CLOCKS.append(FOURTH)
    try:
        yield FOURTH
    finally:
        RULE_CLOCKS.remove(FOURTH)


@pytest.fixture
def tenth_claim():
    """TENTH in the claim registry for the length of one test."""
    registry.register(TENTH)
    try:
        yield TENTH
    finally:
        registry.CLAIMS.remove(TENTH)


def rising(steps: np.ndarray, at: float, theta: float) -> np.ndarray:
    """A logistic curve in log step that crosses theta at step `at`."""
    ls = np.log(steps)
    return 1 / (1 + np.exp(-4 * (ls - np.log(at)) - np.log(theta / (1 - theta))))


def metrics(tau_rule: float, tau_group: float, tau_mem: float, M: int = 256) -> pd.DataFrame:
    df = pd.DataFrame({"step": STEPS, "samples": M, "mem_chance": 1e-4})
    df["valid"] = rising(STEPS, tau_rule, 0.9)
    df["constraint_acc"] = rising(STEPS, tau_group, 0.95)
    df["mem"] = rising(STEPS, tau_mem, 0.1) + 1e-4
    df["mem_near"], df["mem_near_chance"] = np.minimum(1, df["mem"] * 1.5), 1e-4
    df["novel_valid"] = df["valid"] * (1 - df["mem"])
    for c in ("valid", "mem", "mem_near", "novel_valid"):
        df[f"{c}_lo"], df[f"{c}_hi"] = df[c] * 0.95, np.minimum(1, df[c] * 1.05)
    return df


def results(rng: np.random.Generator) -> pd.DataFrame:
    """A results table made as a sweep makes it: compute_clocks, then summary_columns."""
    rows = []
    for G in (2, 3):
        for N in (8, 16, 32):
            for seed in (0, 1):
                jitter = float(rng.uniform(0.95, 1.05))
                clocks = compute_clocks(metrics(100 * G**2 * jitter, 8 * G**2, 60 * N * jitter), ClockConfig(), 64, N)
                name = f"parity-G{G}_dit_N{N}_seed{seed}"
                config = {"task": "parity", "task.G": G, "data.N": N, "model.family": "dit", "seed": seed}
                status = {"status": "finished", "error": None, "name": name, "run_dir": f"runs/{name}"}
                rows.append({**config, **summary_columns({**clocks, "wall_seconds": 1.0}), **status})
    return pd.DataFrame(rows)


def test_summary_has_the_declared_keys_in_their_order(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())  # start_run(build_config(TINY))
    assert list(summary) == summary_keys()
    assert set(required_keys()) <= set(summary)
    assert list(compute_clocks(metrics(300, 50, 2000), ClockConfig(), 64, 16)) == clock_keys()


def test_a_fourth_rule_clock_and_a_tenth_claim_reach_every_reader(fourth_clock, tenth_claim, tmp_path):
    rc = fourth_clock
    clocks = compute_clocks(metrics(300, 50, 2000), ClockConfig(), 64, 16)
    # valid = 0.95 lies a quarter of log(19 / 9) beyond valid = 0.9 on the logistic curve
    assert clocks[rc.tau] == pytest.approx(300 * (19 / 9) ** 0.25, rel=0.05) and not clocks[rc.tau + "_censored"]
    assert clocks[rc.key("window_log10")] == pytest.approx(np.log10(clocks["tau_mem"] / clocks[rc.tau]))
    # the stop rule waits for it, and names it once it is settled
    cfg = build_config(["train.stop_at=rule"])
    rows = [{"valid": v, "constraint_acc": a, "mem": 0.0, "mem_chance": 0.0} for v, a in [(0.1, 0.1), (0.92, 0.96)]]
    assert stop_reason(cfg, [*rows, rows[1]]) is None  # every other rule clock is settled
    assert rc.tau in stop_reason(cfg, [*rows, {**rows[1], "valid": 0.96}, {**rows[1], "valid": 0.97}])
    # a real run's summary, its text and its figure
    _, summary = start_run(build_config(TINY), tmp_path / "run", progress=False)
    assert set(rc.scalar_keys() + rc.interval_keys()) <= set(summary) and list(summary) == summary_keys()
    assert any(line.startswith(rc.tau) for line in summary_lines(summary))
    # the results table, the report's table and claims.json
    table = results(np.random.default_rng(0))
    assert set(rc.result_columns()) <= set(table.columns)
    assert table[rc.tau].notna().all() and rc.key("window_log10") in report.results_table(table)
    write_claims(evaluate_claims(table), tmp_path)
    claims = json.loads((tmp_path / "claims.json").read_text())["claims"]
    assert all(rc.tau in c["by_clock"] for c in claims)
    assert [c["id"] for c in claims] == list(range(1, 11))
    tenth = claims[-1]  # judged at every rule clock, the fourth included, and at both memorisation levels
    assert tenth["verdict"] == "supported" and list(tenth["by_clock"]) == [c.tau for c in RULE_CLOCKS]
    assert list(tenth["by_mem"]) == ["tau_mem", "tau_mem_near"] and tenth["mem_robust"]
    assert TENTH.text() in claims_html(claims) and f"verdict_{rc.tau}" in pd.read_csv(tmp_path / "claims.csv")
    assert claims[0]["by_clock"][rc.tau]["clock"] == rc.label()
    assert f"verdict_{rc.tau}" in pd.read_csv(tmp_path / "claims.csv").columns
    assert rc.label().replace(">", "&gt;") in claims_html(claims)
