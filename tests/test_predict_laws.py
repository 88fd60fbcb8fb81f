"""The censored likelihood of the laws: it recovers known parameters from censored data, where
dropping the censored runs or counting them at their budget does not; its gradient is exact;
its predictive intervals cover what they say on data drawn from the law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from twoclocks.prediction.laws import Design, fit_law
from twoclocks.prediction.tobit import PRIOR_SD, fit_tobit, fit_tobit_batch, hessian, negative_log_posterior
from twoclocks.prediction.variables import Observed, waited_for

TRUE_BETA = np.array([3.0, 1.2])  # log10 tau = 3 + 1.2 (logN - centre)
TRUE_SIGMA = 0.15


def censored_sample(rng: np.random.Generator, n: int, budget: float):
    x = rng.uniform(-1.0, 1.0, n)
    X = np.stack([np.ones(n), x], axis=1)
    y = X @ TRUE_BETA + TRUE_SIGMA * rng.standard_normal(n)
    right = y > np.log10(budget)
    return X, np.where(right, np.log10(budget), y), right


def test_censored_fit_recovers_known_parameters_and_the_shortcuts_do_not():
    rng = np.random.default_rng(0)
    X, y, right = censored_sample(rng, 400, budget=3000.0)
    assert 0.3 < right.mean() < 0.6  # a heavily censored sample
    fit = fit_tobit(X, y, right, np.zeros_like(right))
    assert fit.beta == pytest.approx(TRUE_BETA, abs=0.06)
    assert fit.sigma == pytest.approx(TRUE_SIGMA, abs=0.03)
    # Counting a censored clock as its budget, or dropping it, puts the law below the truth
    # where the clock is slow (x = 1: log10 tau = 4.2, beyond the budget).
    at_budget, *_ = np.linalg.lstsq(X, y, rcond=None)
    dropped, *_ = np.linalg.lstsq(X[~right], y[~right], rcond=None)
    slow = np.array([1.0, 1.0])
    assert abs(slow @ fit.beta - slow @ TRUE_BETA) < 0.05
    assert slow @ at_budget < slow @ TRUE_BETA - 0.3
    assert slow @ dropped < slow @ TRUE_BETA - 0.1


def test_left_censoring_enters_the_likelihood():
    rng = np.random.default_rng(1)
    X, y, _ = censored_sample(rng, 400, budget=1e9)
    left = y < 2.9  # reached at the first evaluation
    y = np.where(left, 2.9, y)
    fit = fit_tobit(X, y, np.zeros_like(left), left)
    assert fit.beta == pytest.approx(TRUE_BETA, abs=0.06)


def test_gradient_is_that_of_the_objective():
    rng = np.random.default_rng(2)
    X, y, right = censored_sample(rng, 60, budget=2000.0)
    left = (~right) & (y < 2.6)
    penalised = np.array([0.0, 1.0])
    theta = np.array([2.8, 0.9, np.log(0.2)])
    err = optimize.check_grad(
        lambda t: negative_log_posterior(t, X, y, right, left, penalised)[0],
        lambda t: negative_log_posterior(t, X, y, right, left, penalised)[1],
        theta,
    )
    assert err < 1e-4


def test_a_group_censored_throughout_gets_a_finite_fit_above_its_bound():
    rng = np.random.default_rng(3)
    n = 30
    group = np.repeat([0.0, 1.0], n)
    X = np.stack([np.ones(2 * n), group], axis=1)
    y = np.where(group == 1, 4.0, 2.5 + 0.1 * rng.standard_normal(2 * n))
    right = group == 1
    fit = fit_tobit(X, y, right, np.zeros_like(right))
    assert np.isfinite(fit.beta).all()
    assert fit.beta[0] + fit.beta[1] > 4.0


def synthetic_runs(rng: np.random.Generator, seeds: int, budget: float) -> tuple[pd.DataFrame, Observed]:
    Ns = [4, 8, 16, 32, 64, 128]
    rows = [
        {"logN": np.log10(N), "family": "dit", "task": "parity", "layout": "", "levels": "", "bits": 18.0,
         "log2_width": 6.0, "log2_depth": 1.0, "patch": 2.0, "log2_batch": 6.0, "log10_lr": -3.0, "learned": 1.0}
        for N in Ns for _ in range(seeds)
    ]  # fmt: skip
    v = pd.DataFrame(rows)
    y = 2.0 + 1.3 * v["logN"].to_numpy() + TRUE_SIGMA * rng.standard_normal(len(v))
    right = y > np.log10(budget)
    return v, Observed(np.where(right, np.log10(budget), y), right, np.zeros_like(right))


def test_predictive_intervals_cover_new_runs_at_their_level():
    rng = np.random.default_rng(4)
    v, obs = synthetic_runs(rng, seeds=3, budget=3e4)
    law = fit_law("tau_mem", v, obs, form="power")
    assert law.design.terms == ("1", "logN")
    estimate, lo, hi = law.parameter_intervals()["logN"]
    assert lo < 1.3 < hi and lo < estimate < hi
    # Over many sweeps drawn from the law: how often each interval holds a new run at N = 32
    # (its coverage over the sweeps' estimates, not for one sweep's).
    hits = {0.8: [], 0.95: []}
    for _ in range(40):
        v, obs = synthetic_runs(rng, seeds=3, budget=3e4)
        law = fit_law("tau_mem", v, obs, form="power", draws=20)
        samples = law.samples(v.iloc[[9]], 100, rng)
        new_run = 2.0 + 1.3 * np.log10(32) + TRUE_SIGMA * rng.standard_normal(25)
        for level in hits:
            lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
            hits[level] += list((new_run >= lo) & (new_run <= hi))
    assert abs(np.mean(hits[0.8]) - 0.8) < 0.05
    assert abs(np.mean(hits[0.95]) - 0.95) < 0.03


def test_design_drops_terms_that_never_vary_and_labels_its_columns():
    rng = np.random.default_rng(6)
    v, _ = synthetic_runs(rng, seeds=2, budget=1e9)
    v.loc[v.index[:4], "family"] = "gpt"
    design = Design.learn(("1", "family", "task", "logN", "bits", "logN:family"), v)
    assert design.terms == ("1", "family", "logN", "logN:family")
    assert design.labels() == ["1", "family=gpt", "logN", "logN:family=gpt"]
    assert design.matrix(v).shape == (len(v), 4)


def test_design_drops_a_term_the_runs_cannot_tell_from_the_others():
    # G = 2 over N = 4-128, a second rule size at N = 8 only: the exponent's change with the
    # rule size (logN:bits) varies but lies in the span of 1, logN and bits, so only the prior
    # would set it; a second N for that size identifies it.
    rng = np.random.default_rng(7)
    v, _ = synthetic_runs(rng, seeds=2, budget=1e9)
    other = v[v["logN"] == np.log10(8)].assign(bits=24.0)
    form = ("1", "logN", "bits", "logN:bits")
    one_N = pd.concat([v, other], ignore_index=True)
    assert Design.learn(form, one_N).terms == ("1", "logN", "bits")
    two_N = pd.concat([one_N, other.assign(logN=np.log10(16))], ignore_index=True)
    assert Design.learn(form, two_N).terms == form


def test_a_run_stopped_at_its_rule_clocks_is_no_observation_of_tau_mem():
    table = pd.DataFrame(
        {
            "train.stop_at": ["rule", "rule", "mem", "none"],
            "tau_mem_censored": [True, False, True, True],
            "tau_rule_censored": [False, False, True, True],
        }
    )
    assert waited_for(table, "tau_mem").tolist() == [False, True, True, True]
    assert waited_for(table, "tau_rule").tolist() == [True] * 4
    assert waited_for(table.drop(columns="train.stop_at"), "tau_mem").tolist() == [True] * 4


def test_the_tobit_hessian_is_the_derivative_of_its_gradient_and_the_fit_its_optimum():
    # Exact, right- and left-censored runs together: the analytic Hessian against central
    # differences of the analytic gradient, and the trust-region fit against L-BFGS-B from
    # the same start (an independent optimiser of the same objective).
    rng = np.random.default_rng(3)
    n, p = 40, 4
    X = np.c_[np.ones(n), rng.normal(size=(n, p - 1))]
    y = X @ np.array([2.0, 0.5, -0.3, 0.1]) + 0.2 * rng.normal(size=n)
    right, left = y > 2.3, y < 1.6
    penalised = np.r_[0.0, np.ones(p - 1)]
    args = (X, y, right, left, penalised)
    theta = np.r_[rng.normal(size=p) * 0.3, np.log(0.4)]
    eps = 1e-6
    numeric = np.array(
        [
            (negative_log_posterior(theta + eps * e, *args)[1] - negative_log_posterior(theta - eps * e, *args)[1])
            / (2 * eps)
            for e in np.eye(p + 1)
        ]
    )
    np.testing.assert_allclose(hessian(theta, *args), numeric, atol=1e-6)
    fit = fit_tobit(X, y, right, left, prior_sd=np.r_[np.inf, np.full(p - 1, PRIOR_SD)])
    start = np.r_[np.linalg.lstsq(X, y, rcond=None)[0], np.log(0.2)]
    ref = optimize.minimize(negative_log_posterior, start, args=args, jac=True, method="L-BFGS-B", tol=1e-12)
    np.testing.assert_allclose(np.r_[fit.beta, np.log(fit.sigma)], ref.x, atol=1e-5)


def test_the_batched_fits_are_the_single_fits_of_each_resample():
    # Bootstrap resamples of exact, right- and left-censored runs (one group censored
    # throughout): each row of the batch against scipy's fit of that resample alone, and
    # against L-BFGS-B at a tight tolerance (scipy's trust-exact stops at a gradient of 1e-4).
    rng = np.random.default_rng(4)
    n, p, B = 36, 3, 40
    X = np.c_[np.ones(n), rng.normal(size=(n, p - 1))]
    y = X @ np.array([2.0, 0.7, -0.4]) + 0.15 * rng.normal(size=n)
    right = (y > 2.4) | (X[:, 1] > 1.0)
    left = ~right & (y < 1.5)
    full = fit_tobit(X, y, right, left)
    start = np.r_[full.beta, np.log(full.sigma)]
    idx = rng.integers(0, n, size=(B, n))
    theta = fit_tobit_batch(X[idx], y[idx], right[idx], left[idx], start=start)
    assert theta.shape == (B, p + 1) and np.isfinite(theta).all()
    penalised = np.r_[0.0, np.ones(p - 1)]
    for b in (0, 7, 19, 39):
        i = idx[b]
        single = fit_tobit(X[i], y[i], right[i], left[i], start=start)
        np.testing.assert_allclose(theta[b], np.r_[single.beta, np.log(single.sigma)], atol=1e-4)
        args = (X[i], y[i], right[i], left[i], penalised)
        ref = optimize.minimize(negative_log_posterior, start, args=args, jac=True, method="L-BFGS-B", tol=1e-14)
        np.testing.assert_allclose(theta[b], ref.x, atol=1e-5)
