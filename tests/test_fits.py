"""Scaling fits on synthetic results tables with known exponents and known censoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import add_rule_clocks
from twoclocks.clocks import RULE_CLOCKS
from twoclocks.sweeps.claims.fits import fit_relation, fits_frame, standard_fits


def table(
    alpha: float = 1.0, rule_exp: float = 0.0, Ns=(8, 16, 32, 64), Gs=(2,), seeds=3, noise=0.05, seed=0
) -> pd.DataFrame:
    """Rows shaped like results.parquet: tau_mem = 30 N^alpha, tau_rule = 100 G^rule_exp, noisy."""
    rng = np.random.default_rng(seed)
    rows = []
    for G in Gs:
        for N in Ns:
            for s in range(seeds):
                tm = 30 * N**alpha * 10 ** rng.normal(0, noise)
                tr = 100 * G**rule_exp * 10 ** rng.normal(0, noise)
                rows.append(
                    {
                        "task": "parity",
                        "task.G": G,
                        "data.N": N,
                        "model.family": "dit",
                        "seed": s,
                        "train.steps": 100_000,
                        "status": "finished",
                        "max_step": 100_000,
                        "tau_mem": tm,
                        "tau_mem_censored": False,
                        "tau_mem_left_censored": False,
                        "tau_mem_epochs": tm * 64 / N,
                        "tau_rule": tr,
                        "tau_rule_censored": False,
                        "tau_rule_left_censored": False,
                        "tau_rule_epochs": tr * 64 / N,
                        "window_log10": max(0.0, np.log10(tm / tr)),
                        "window_vanished": tm <= tr,
                        "window_log10_is_lower_bound": False,
                    }
                )
    return pd.DataFrame(rows)


def test_recovers_known_exponent_with_ci():
    [fit] = fit_relation(table(alpha=1.0), "data.N", "tau_mem")
    assert fit.slope == pytest.approx(1.0, abs=0.05)
    assert fit.ci[0] < 1.0 < fit.ci[1] and fit.ci[0] > 0.8 and fit.ci[1] < 1.2
    [fit_half] = fit_relation(table(alpha=0.5), "data.N", "tau_mem")
    assert fit_half.ci[1] < 0.6
    # epochs = steps * batch / N: exponent alpha - 1.
    [ep] = fit_relation(table(alpha=1.0), "data.N", "tau_mem_epochs")
    assert ep.slope == pytest.approx(0.0, abs=0.05)


def test_bootstrap_is_deterministic_and_wider_with_noise():
    a = fit_relation(table(noise=0.1), "data.N", "tau_mem")[0]
    b = fit_relation(table(noise=0.1), "data.N", "tau_mem")[0]
    assert a.ci == b.ci
    quiet = fit_relation(table(noise=0.01), "data.N", "tau_mem")[0]
    assert quiet.ci[1] - quiet.ci[0] < a.ci[1] - a.ci[0]


def test_right_censored_runs_are_dropped_and_counted():
    df = table()
    late = df["data.N"] == 64
    df.loc[late, ["tau_mem", "tau_mem_epochs"]] = None
    df.loc[late, "tau_mem_censored"] = True
    [fit] = fit_relation(df, "data.N", "tau_mem")
    g64 = [g for g in fit.groups if g.x == 64][0]
    assert (g64.n, g64.used, g64.right_censored) == (3, 0, 3)
    assert fit.n_used == 9 and fit.censored == 3
    # tau_mem > 100,000 steps at N=64, where the fit predicts ~1,900: the fit is contradicted.
    assert fit.censoring_limits and "N=64" in fit.note
    assert fit.slope == pytest.approx(1.0, abs=0.25)  # fitted on the uncensored N only
    assert "3/3 right-censored at N=64" in fit.evidence()


def test_censored_runs_below_the_line_do_not_limit_the_fit():
    df = table()
    late = df["data.N"] == 64
    df.loc[late, ["tau_mem", "tau_mem_epochs"]] = None
    df.loc[late, "tau_mem_censored"] = True
    df.loc[late, "max_step"] = 1000  # a short budget: tau_mem > 1,000 agrees with the line (~1,900)
    [fit] = fit_relation(df, "data.N", "tau_mem")
    assert not fit.censoring_limits and fit.censored == 3 and fit.note == ""


def test_minority_censoring_is_counted_but_not_limiting():
    df = table()
    i = df.index[df["data.N"] == 32][0]
    df.loc[i, "tau_mem_left_censored"] = True
    [fit] = fit_relation(df, "data.N", "tau_mem")
    assert fit.censored == 1 and not fit.censoring_limits and fit.n_used == 11


def test_slices_by_other_varied_columns_and_not_by_steps():
    df = table(Gs=(2, 3))
    df.loc[df["data.N"] == 64, "train.steps"] = 200_000  # a budget field does not split slices
    fits = fit_relation(df, "data.N", "tau_mem")
    assert sorted(f.where["task.G"] for f in fits) == [2, 3]
    assert all("train.steps" not in f.where for f in fits)


def test_flat_relation_ci_straddles_zero_and_window_uses_vanished_as_zero():
    df = table(Gs=(2, 3, 4, 6), Ns=(16,), rule_exp=2.0)
    [rule] = fit_relation(df, "task.G", "tau_rule")
    assert rule.slope == pytest.approx(2.0, abs=0.1) and rule.ci[0] > 0
    [mem] = fit_relation(df, "task.G", "tau_mem")
    assert mem.ci[0] < 0 < mem.ci[1]
    # tau_rule = 100 G^2 overtakes tau_mem = 480 at G >= 3: those windows vanish and count as 0.
    [win] = fit_relation(df, "task.G", "window_log10")
    assert win.n_used == len(df) and win.slope < 0
    assert [g.center for g in win.groups][-1] == 0.0


def test_one_run_per_x_has_no_ci_and_single_x_no_fit():
    [fit] = fit_relation(table(seeds=1), "data.N", "tau_mem")
    assert fit.slope is not None and fit.ci is None and "no bootstrap CI" in fit.note
    assert fit_relation(table(Ns=(16,)), "data.N", "tau_mem") == []


def test_standard_fits_and_frame():
    fits = standard_fits(table(Gs=(2, 3)))
    labels = [f.label() for f in fits]
    assert any(lbl.startswith("tau_mem vs data.N") for lbl in labels)
    assert any(lbl.startswith("tau_rule vs task.G") for lbl in labels)
    frame = fits_frame(fits)
    assert len(frame) == len(fits) and {"slope", "ci_lo", "ci_hi", "censored"} <= set(frame.columns)
    assert "log-log slope" in fits[0].evidence()


def test_every_rule_clock_is_fitted_with_its_own_window_columns():
    df = add_rule_clocks(table(Gs=(2, 3, 4), rule_exp=2.0), {"tau_rule_low": 0.5, "tau_group": 0.1})
    # At tau_rule = 100 G^2 the window at G=4, N=8 (tau_mem = 240) vanished; at tau_group it is open.
    labels = {f.label() for f in standard_fits(df)}
    for rc in RULE_CLOCKS:
        assert {f"{rc.tau} vs data.N [G=2]", f"{rc.tau} vs task.G [N=8]"} <= labels
        assert f"{rc.key('window_log10')} vs task.G [N=8]" in labels
    rule = fit_relation(df, "task.G", "tau_group", n_boot=200)[0]  # the slice at N=8
    assert rule.slope == pytest.approx(2.0, abs=0.1)
    [vanished] = [f for f in fit_relation(df, "task.G", "window_log10") if f.where == {"data.N": 8}]
    [opened] = [f for f in fit_relation(df, "task.G", "window_log10_group") if f.where == {"data.N": 8}]
    assert [g.center for g in vanished.groups][-1] == 0.0  # a vanished window counts as width 0
    assert [g.center for g in opened.groups][-1] == pytest.approx(np.log10(240 / 160), abs=0.1)
    # A table from before the group-level clocks is fitted at tau_rule only.
    assert not any("tau_group" in f.label() for f in standard_fits(table(Gs=(2, 3))))


def test_runs_on_images_fit_tau_gen_and_its_window_against_n():
    """tau_gen flat in N (Bonnaire et al.'s reading) is a fit with its CI: the slope of
    log10 tau_gen on log10 N, equal to least squares on noiseless data; its window to tau_mem
    rises as tau_mem does. A table without tau_gen fits neither."""
    df = table(alpha=1.0, noise=0.0)
    gen = 400.0 * df["data.N"] ** 0.1
    df = df.assign(tau_gen=gen, tau_gen_censored=False, tau_gen_left_censored=False)
    df = df.assign(window_log10_gen=np.log10(df["tau_mem"] / gen), window_vanished_gen=False)
    df = df.assign(window_log10_is_lower_bound_gen=False)
    fits = {f.label(): f for f in standard_fits(df, n_boot=200)}
    expected = np.polyfit(np.log10(df["data.N"]), np.log10(gen), 1)[0]
    assert fits["tau_gen vs data.N"].slope == pytest.approx(expected, abs=1e-6)
    window = np.polyfit(np.log10(df["data.N"]), df["window_log10_gen"], 1)[0]
    assert fits["window_log10_gen vs data.N"].slope == pytest.approx(window, abs=1e-6)
    assert not any("gen" in label for label in (f.label() for f in standard_fits(table(), n_boot=50)))
