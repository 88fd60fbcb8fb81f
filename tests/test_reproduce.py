"""Claim verdicts from synthetic results with known truths, and `reproduce --scale tiny` end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import add_rule_clocks
from twoclocks.cli import main as cli_main
from twoclocks.clocks import RULE_CLOCKS, compute_clocks
from twoclocks.records.formats import FORMAT, FORMAT_KEY
from twoclocks.sweeps import results as results_table
from twoclocks.sweeps import scales
from twoclocks.sweeps.claims import evaluate as reproduce
from twoclocks.sweeps.claims.evaluate import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, evaluate_claims
from twoclocks.sweeps.results import FIRST_COLUMNS, summary_columns
from twoclocks.sweeps.scales import scale_spec
from twoclocks.sweeps.spec import expand


def results(
    rule_G=2.5,
    rule_depth=-1.0,
    mem_G=0.0,
    alpha=1.0,
    families=("dit", "gpt", "mdm"),
    seeds=3,
    noise=0.03,
    censor_mem_at_N=None,
) -> pd.DataFrame:
    """tau_rule = 20 G^rule_G (depth/2)^rule_depth, tau_mem = 30 N^alpha G^mem_G, log-normal noise."""
    rng = np.random.default_rng(1)
    rows = []
    points = [(G, N, 2) for G in (2, 3, 4) for N in (16, 32, 64)] + [(2, 32, d) for d in (1, 4)]
    for fam in families:
        for G, N, depth in points:
            for s in range(seeds):
                tr = 20 * G**rule_G * (depth / 2) ** rule_depth * 10 ** rng.normal(0, noise)
                tm = 30 * N**alpha * G**mem_G * 10 ** rng.normal(0, noise)
                cens = censor_mem_at_N is not None and N >= censor_mem_at_N
                w = max(0.0, np.log10(tm / tr))
                rows.append(
                    {
                        "task": "parity",
                        "task.G": G,
                        "data.N": N,
                        "model.depth": depth,
                        "model.family": fam,
                        "seed": s,
                        "status": "finished",
                        "max_step": 10**6,
                        "tau_rule": tr,
                        "tau_rule_censored": False,
                        "tau_rule_left_censored": False,
                        "tau_mem": None if cens else tm,
                        "tau_mem_censored": cens,
                        "tau_mem_left_censored": False,
                        "window_log10": np.log10(1e6 / tr) if cens else w,
                        "window_log10_is_lower_bound": cens,
                        "window_vanished": (not cens) and tm <= tr,
                    }
                )
    return pd.DataFrame(rows)


def verdicts(df: pd.DataFrame) -> dict[int, str]:
    return {c.id: c.verdict for c in evaluate_claims(df)}


def test_paper_like_results_support_every_claim():
    # tau_rule = 20 G^2.5 passes tau_mem = 30 N at G=4, N=16: the window vanishes there.
    v = verdicts(results())
    assert v == {**{i: SUPPORTED for i in range(1, 8)}, 8: INCONCLUSIVE, 9: INCONCLUSIVE}, v
    claims = {c.id: c for c in evaluate_claims(results())}
    assert "not a knob x depth grid" in claims[8].reason  # depth is varied at G=2 only
    assert "no runs of several rules" in claims[9].reason


def test_claim_7_states_each_familys_offsets_with_cis():
    df = results()
    mdm = df["model.family"] == "mdm"
    df.loc[mdm, "tau_mem"] *= 10.0  # the MDM copies a decade later than the DiT
    claim = {c.id: c for c in evaluate_claims(df)}[7]
    assert claim.verdict == SUPPORTED and "three families" in claim.claim
    assert "gpt-dit at G=2 N=16 depth=2: d log10 tau_rule +0.0" in claim.evidence.replace("-0.0", "+0.0")
    offset = claim.evidence.split("mdm-dit at G=2 N=16 depth=2: ")[1].split(";")[0]
    mem = offset.split("d log10 tau_mem ")[1]
    value, lo, hi = (float(v) for v in mem.replace("[", "").replace("]", "").replace(",", "").split()[:3])
    assert abs(value - 1.0) < 0.05 and lo < value < hi and hi - lo < 0.2
    no_mdm = {c.id: c for c in evaluate_claims(results(families=("dit", "gpt")))}
    assert no_mdm[7].verdict == INCONCLUSIVE and "no mdm runs" in no_mdm[7].reason


def test_contrary_results_are_not_supported():
    v = verdicts(results(rule_G=-1.0, rule_depth=1.0, mem_G=2.0, alpha=0.3))
    assert v[1] == v[2] == v[3] == v[4] == NOT_SUPPORTED, v


def test_censoring_and_missing_data_make_claims_inconclusive():
    claims = {c.id: c for c in evaluate_claims(results(censor_mem_at_N=64))}
    assert claims[4].verdict == INCONCLUSIVE and "right-censored at N=64" in claims[4].evidence
    assert "more than half" in claims[4].reason
    only_dit = {c.id: c for c in evaluate_claims(results(families=("dit",)))}
    assert only_dit[7].verdict == INCONCLUSIVE and "no gpt runs" in only_dit[7].reason
    one_seed = verdicts(results(seeds=1))
    assert one_seed[1] == INCONCLUSIVE  # no CI without seeds


def test_censoring_bounds_alone_can_order_a_direction_claim():
    df = results()
    hard = df["task.G"] == 4  # the rule is never learned at G=4: tau_rule > 10^6 steps
    df.loc[hard, "tau_rule"] = None
    df.loc[hard, "tau_rule_censored"] = True
    claims = {c.id: c for c in evaluate_claims(df)}
    assert claims[1].verdict == SUPPORTED and "by censoring bounds" in claims[1].reason
    assert "3/3 right-censored at G=4" in claims[1].evidence
    easy = df["task.G"] == 2  # the opposite: censored at the simplest rule only
    df = results()
    df.loc[easy, "tau_rule"] = None
    df.loc[easy, "tau_rule_censored"] = True
    assert {c.id: c.verdict for c in evaluate_claims(df)}[1] == NOT_SUPPORTED


def test_the_families_claim_without_gpt_runs_is_inconclusive():
    claims = {c.id: c for c in evaluate_claims(results(families=("dit", "mdm")))}
    assert claims[7].verdict == INCONCLUSIVE and "no gpt runs" in claims[7].reason


def test_every_scale_is_a_valid_sweep():
    sizes = {s: len(expand(scale_spec(s))) for s in scales.SCALES}
    assert sizes["tiny"] < sizes["cpu"] < sizes["gpu"]


def test_dry_run_lists_the_points(tmp_path, capsys):
    assert cli_main(["reproduce", "--scale", "cpu", "--out", str(tmp_path / "x"), "--dry-run", "--no-bench"]) == 0
    text = capsys.readouterr().out
    assert f"{len(expand(scale_spec('cpu')))} points" in text and not (tmp_path / "x").exists()


def test_reproduce_tiny_end_to_end(tmp_path, capsys):
    out = tmp_path / "tiny"
    # one worker: the points run in this process, without starting a pool's interpreters
    assert cli_main(["reproduce", "--scale", "tiny", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    text = capsys.readouterr().out
    for i in range(1, 10):
        assert f"({i}) " in text
    claims = json.loads((out / "claims.json").read_text())["claims"]
    assert [c["id"] for c in claims] == list(range(1, 10))
    assert all(c["verdict"] in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE) for c in claims)
    assert len(pd.read_csv(out / "claims.csv")) == 9
    assert len(pd.read_parquet(out / "results.parquet")) == len(expand(scale_spec("tiny")))
    assert "Claims of the paper" in (out / "report" / "index.html").read_text()
    # Each claim at each rule clock, and the closing note.
    assert text.count("at each rule clock: tau_rule: ") == 9 and "Robust to the rule clock" in text
    assert all(list(c["by_clock"]) == [rc.tau for rc in RULE_CLOCKS] for c in claims)
    assert {f"verdict_{rc.tau}" for rc in RULE_CLOCKS} <= set(pd.read_csv(out / "claims.csv").columns)
    # A results table without the group-level columns, or (format 3) without the near-copy
    # clock, gets the same values from the runs.
    df = pd.read_parquet(out / "results.parquet")
    new = [c for c in summary_columns({}) if c not in FIRST_COLUMNS and c.startswith(("tau_group", "tau_rule_low"))]
    again, note = results_table.with_later_clocks(df.drop(columns=[*new, FORMAT_KEY]), out)
    assert "recomputed" in note
    pd.testing.assert_frame_equal(again[new].astype(float), df[new].astype(float))
    near = [c for c in summary_columns({}) if c.startswith("tau_mem_near")]
    assert df[near].notna().any().any()  # a censored flag at least
    again, note = results_table.with_later_clocks(df.drop(columns=near).assign(**{FORMAT_KEY: 3}), out)
    # Older than format 5 too: its clocks on `valid` are read again against chance (parity's
    # moves none of them) and the table is read as the current format.
    assert note == "recomputed tau_rule, tau_rule_low, tau_mem_near from the runs' metrics.parquet and samples"
    assert (again[FORMAT_KEY] == FORMAT).all()
    pd.testing.assert_frame_equal(again[df.columns].astype(str), df.astype(str))


def test_each_claim_is_judged_at_every_rule_clock():
    # Earlier rule clocks (tau_rule / 3, tau_rule / 5) keep every window open: claim 6's
    # "can vanish" holds at tau_rule only, where tau_rule = 640 > tau_mem = 480 at G=4, N=16.
    claims = {c.id: c for c in evaluate_claims(add_rule_clocks(results(), {"tau_rule_low": 1 / 3, "tau_group": 1 / 5}))}
    assert all(list(c.by_clock) == [rc.tau for rc in RULE_CLOCKS] for c in claims.values())
    six = claims[6]
    assert six.verdict == SUPPORTED and not six.robust
    assert {t: e["verdict"] for t, e in six.by_clock.items()} == {
        "tau_rule": SUPPORTED,
        "tau_rule_low": INCONCLUSIVE,
        "tau_group": INCONCLUSIVE,
    }
    assert six.across_clocks == "supported at tau_rule; inconclusive at tau_rule_low, tau_group"
    # The evidence names the clock it was judged at, not tau_rule's columns.
    assert "window_log10_group vs task.G" in six.by_clock["tau_group"]["evidence"]
    assert "vanished in 0/" in six.by_clock["tau_group"]["evidence"]
    assert "tau_group vs task.G" in claims[1].by_clock["tau_group"]["evidence"]
    assert claims[1].robust and claims[1].across_clocks == "supported at every rule clock"
    assert claims[4].across_clocks == "supported at every rule clock (the same evidence at each)"
    note = "\n".join(reproduce.robustness_note(list(claims.values())))
    assert "Robust to the rule clock (same verdict at each): 1, 2, 3, 4, 5, 7, 8, 9." in note
    assert "Depend on the rule clock: 6 (supported at tau_rule;" in note
    # A table with tau_rule only is judged at tau_rule alone, and says so.
    assert evaluate_claims(results())[0].across_clocks.startswith("judged at tau_rule only")


def test_rule_clocks_recomputed_from_the_runs_of_an_older_sweep(tmp_path):
    """results.parquet without the group-level columns: they come from each run's metrics."""
    from twoclocks.config import RunConfig
    from twoclocks.core.io import write_json, write_table

    steps = np.array([10, 20, 40, 80, 160, 320])
    rows = []
    for G, late in ((2, 1.0), (3, 2.0)):
        for seed in range(2):
            name = f"parity-G{G}_dit_N8_seed{seed}"
            # valid never holds 0.9 at G=3; constraint_acc passes 0.95 twice as late as at G=2.
            valid = np.array([0.0, 0.3, 0.95, 0.96, 0.97, 0.97]) if G == 2 else np.array([0, 0, 0.2, 0.6, 0.7, 0.8])
            acc = np.interp(np.log(steps / late), np.log(steps), [0.5, 0.9, 0.97, 0.99, 0.99, 0.99])
            mem = np.array([0, 0, 0, 0, 0.3, 0.9])
            df = pd.DataFrame({"step": steps, "valid": valid, "mem": mem, "constraint_acc": acc})
            df = df.assign(mem_chance=0.0, novel_valid=valid * (1 - mem), samples=256)
            for c in ("valid", "mem"):
                df[f"{c}_lo"], df[f"{c}_hi"] = df[c] * 0.95, np.minimum(1, df[c] * 1.05)
            write_table(tmp_path / "runs" / name / "metrics.parquet", df, parents=True)
            cfg = RunConfig(task={"name": "parity", "G": G})
            write_json(tmp_path / "runs" / name / "config.json", cfg.to_dict())
            summary = compute_clocks(df, cfg.clocks, cfg.train.batch, cfg.data.N)
            old = {k: v for k, v in summary_columns(summary).items() if k in FIRST_COLUMNS}
            rows.append(
                {
                    "task": "parity",
                    "task.G": G,
                    "data.N": 8,
                    "model.family": "dit",
                    "seed": seed,
                    "status": "finished",
                    "run_dir": f"runs/{name}",
                    **old,
                }
            )
    table = pd.DataFrame(rows)
    full, note = results_table.with_later_clocks(table, tmp_path)
    assert "recomputed" in note and "tau_group" not in table
    # The last run written (G=3, seed 1) is the last row; its tau_group is its own curve's.
    assert full["tau_group"].iloc[-1] == pytest.approx(compute_clocks(df, cfg.clocks, 64, 8)["tau_group"])
    assert full["tau_group"].iloc[-1] == pytest.approx(2 * full["tau_group"].iloc[0])
    # read_results gives the table in the current format, which the claims are judged on.
    write_table(tmp_path / "results.parquet", table)
    read = results_table.read_results(tmp_path)
    pd.testing.assert_frame_equal(read[full.columns], full, check_dtype=False)
    claims = {c.id: c for c in evaluate_claims(read)}
    assert list(claims[1].by_clock) == [rc.tau for rc in RULE_CLOCKS]
    assert claims[1].by_clock["tau_rule"]["verdict"] == SUPPORTED  # by censoring bounds at G=3
    assert "tau_group vs task.G" in claims[1].by_clock["tau_group"]["evidence"]
    assert results_table.with_later_clocks(table, tmp_path / "nowhere")[0] is table


def test_knob_claims_are_judged_on_the_slices_where_every_level_was_learned():
    # tau_rule = 20 G^2.5 (113, 312, 640) against tau_mem = 30 N: at N=16 (tau_mem 480) the G=4
    # rule is learned only by copying; make copying come much earlier there, so that the slice
    # N=16 says tau_mem falls with G while the learned slices N=32, 64 say it does not.
    df = results()
    cell = (df["data.N"] == 16) & (df["task.G"] == 4)
    df.loc[cell, "tau_mem"] /= 3
    df.loc[cell, "window_log10"] = 0.0
    df.loc[cell, "window_vanished"] = True
    claims = {c.id: c for c in evaluate_claims(df)}
    c3 = claims[3]
    assert c3.verdict == SUPPORTED and c3.basis == "fits on learned rules", (c3.verdict, c3.basis)
    assert "N=16" not in c3.evidence and "N=32" in c3.evidence and "N=64" in c3.evidence
    assert c3.all_slices.startswith("not supported (includes unlearned rules (G=4 at N=16"), c3.all_slices
    assert claims[6].basis == "fits on learned rules" and "vanished in" in claims[6].evidence
    assert claims[3].by_clock["tau_rule"]["all_slices"] == c3.all_slices
    assert "over every slice, learned or not: not supported" in reproduce.claims_text(list(claims.values()))
    # with no learned slice the verdict is the every-slice one, and its basis names the level
    only = {c.id: c for c in evaluate_claims(df[df["data.N"] == 16])}[3]
    assert (only.verdict, only.basis) == (NOT_SUPPORTED, "includes unlearned rules (G=4)")
    assert only.all_slices == f"{only.verdict} ({only.basis})"


def test_a_window_claim_on_runs_that_never_learned_the_rule_says_so_in_its_basis():
    """Claim 5 fits the window against N; where the runs copied before they learned the rule
    (every window vanished) its basis names those slices instead of reading as plain fits."""
    learned = {c.id: c for c in evaluate_claims(results())}
    assert learned[5].basis == "fits" and learned[4].basis == "fits"
    never = {c.id: c for c in evaluate_claims(results(rule_G=8.0))}  # tau_rule >= 5,120 > tau_mem <= 1,920
    assert never[5].basis.startswith("fits where the rule was not learned before copying (G=2, depth=2"), never[5].basis
    assert never[4].basis == "fits"  # tau_mem vs N does not read the rule clock


def test_claim_7_on_families_that_copy_before_learning_says_so():
    """Runs whose rule clock is censored past their copying are counted in the evidence, and the
    basis names the families that did not learn the rule before copying."""
    df = results()
    gpt = df["model.family"] == "gpt"
    df.loc[gpt, ["tau_rule", "tau_rule_censored", "window_vanished"]] = [None, True, True]
    claim = {c.id: c for c in evaluate_claims(df)}[7]
    n = int(gpt.sum())
    assert f"gpt: window open in 0/0 runs with both clocks ({n} more copied before the rule clock was reached)" in (
        claim.evidence
    )
    assert claim.basis == "the rule not learned before copying in most runs of gpt", claim.basis
    assert {c.id: c for c in evaluate_claims(results())}[7].basis == ""


def test_windows_that_all_vanished_are_no_spread_not_a_straddling_interval():
    claim = {c.id: c for c in evaluate_claims(results(rule_G=8.0))}[5]
    assert claim.verdict == INCONCLUSIVE and "no spread: every run has the same value" in claim.reason, claim.reason
