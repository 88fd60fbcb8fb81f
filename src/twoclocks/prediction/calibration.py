"""Calibrated intervals: the uncertainty a law's own fit does not carry, and the share of its
own spread it should not.

A law's predictive samples (`Law.samples`) carry the scatter of runs around it and the
uncertainty of its parameters, both as if its form were right. Held-out runs show that it is
not always: a form chosen on N = 4-16 bends away at N = 64, a width the fit never varied for
that clock moves it. They also show the law's own spread to be too wide where it pools runs
that scatter little with runs that scatter much (one sigma for every family and rule size).
So the error of a held-out prediction of log10 tau is modelled as

    y - median ~ N(0, (a sd_law)^2 + s0^2 + (kN d_N)^2 + sb^2 b_out + sx^2 n_out)        (1)

    sd_law   the standard deviation of the law's own predictive samples for that run
    a        the factor the law's own spread is off by (a < 1: too wide)
    d_N      decades of N between the run and the runs that measured the clock (`reach`)
    b_out    1 where the rule's size lies outside those runs' sizes (`reach`)
    n_out    other variables outside those runs (`reach`)
    s0       the form's error inside the evidence; kN its growth per decade of extrapolation
             in N; sb the cost of a rule size the evidence never had; sx that of each other
             variable the evidence never spanned

and (a, s0, kN, sb, sx) are fitted per clock by maximising the censored log-likelihood (1) of
the leave-one-level-out predictions (`validation`), right- and left-censored measurements
entering as P(y > bound) and P(y <= bound) as in `tobit`, plus a log-normal prior on each
parameter (median PRIOR, PRIOR_SD in natural log): scipy.optimize.minimize (L-BFGS-B, on log
parameters within BOUNDS: a in [0.2, 5], the others in [1e-3, 3] decades). a's prior median
is 1: the law's spread as it is. The prior is what a parameter falls back to where the held-out
runs carry no information on it (no held-out run had a variable outside the evidence: a
reference whose rule sizes all share one N): a factor of 2 (0.3 decades) per other variable outside,
0.3 decades per decade of N beyond, and a decade for a rule size outside (the rule clocks move
by orders of magnitude between rule sizes, docs/sweeps.md), not zero. Held-out runs that do
inform a parameter outweigh its prior. A prediction then scales each predictive sample's
distance from the samples' median by a and adds N(0, extra^2) to it,
extra^2 = s0^2 + (kN d_N)^2 + sb^2 b_out + sx^2 n_out (`calibrated_samples`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twoclocks.prediction.reach import Reach, decades
from twoclocks.prediction.tobit import censored_logpdf

PARAMS = ("a", "s0", "kN", "sb", "sx")
SPREAD = PARAMS[1:]  # the parameters of extra
BOUNDS = ((math.log(0.2), math.log(5.0)), *[(math.log(1e-3), math.log(3.0))] * len(SPREAD))
PRIOR = (1.0, 0.05, 0.3, 1.0, 0.3)  # a; decades: s0; kN per decade of N; sb; sx per variable outside
PRIOR_SD = 1.0


@dataclass(frozen=True)
class Calibration:
    """(a, s0, kN, sb, sx) of (1) per clock, and what they were fitted on."""

    clocks: dict[str, dict[str, float]]
    fitted_on: str

    def extra_sd(self, clock: str, r: Reach) -> float:
        p = self.clocks.get(clock)
        return 0.0 if p is None else extra_sd(p, r.decades_N, r.rule_outside, r.outside)

    def scale(self, clock: str) -> float:
        """a of (1): 1 for a clock the calibration has no record of."""
        p = self.clocks.get(clock)
        return 1.0 if p is None else p["a"]

    def to_dict(self) -> dict:
        return {"fitted_on": self.fitted_on, "clocks": self.clocks}

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        # A record without "a" predates the factor: the law's spread as it is (a = 1).
        clocks = {str(c): {k: _param(p, k) for k in PARAMS} for c, p in d["clocks"].items()}
        return cls(clocks, str(d["fitted_on"]))


def _param(p: dict, key: str) -> float:
    return float(p.get(key, 1.0) if key == "a" else p[key])


def extra_sd(p: dict[str, float], decades_N: float, rule_outside: float, outside: float) -> float:
    """extra of (1) for one prediction, from one clock's parameters."""
    values = np.array([p[k] for k in SPREAD])
    one = np.array([decades(decades_N)]), np.array([rule_outside]), np.array([outside])
    return float(np.sqrt(extra_variance(values, *one)[0]))


def extra_variance(params: np.ndarray, d_N: np.ndarray, b_out: np.ndarray, n_out: np.ndarray) -> np.ndarray:
    """s0^2 + (kN d_N)^2 + sb^2 b_out + sx^2 n_out of (1), params = (s0, kN, sb, sx)."""
    s0, kN, sb, sx = params
    return s0**2 + (kN * d_N) ** 2 + sb**2 * b_out + sx**2 * n_out


def calibrated_samples(y: np.ndarray, a: float, extra: float, noise: np.ndarray) -> np.ndarray:
    """Samples y of one prediction (log10 tau) with (1) applied: median + a (y - median) +
    extra * noise (`noise`: standard normal draws, one per sample or broadcastable)."""
    median = np.median(y)
    return median + a * (y - median) + extra * noise


def negative_loglik(theta: np.ndarray, part: pd.DataFrame) -> float:
    d_N = np.array([decades(x) for x in part["decades_N"]])
    b_out, n_out = part["rule_outside"].to_numpy(float), part["outside"].to_numpy(float)
    a, spread = np.exp(theta[0]), np.exp(theta[1:])
    var = (a * part["sd"].to_numpy(float)) ** 2 + extra_variance(spread, d_N, b_out, n_out)
    ll = censored_logpdf(
        part["median"].to_numpy(float),
        np.sqrt(var),  # one sigma per prediction
        part["measured"].to_numpy(float),
        part["right"].to_numpy(bool),
        part["left"].to_numpy(bool),
    )
    prior = ((theta - np.log(PRIOR)) ** 2).sum() / (2 * PRIOR_SD**2)
    return -float(ll.sum()) + float(prior)


def fit_clock(part: pd.DataFrame) -> dict[str, float]:
    """The parameters of one clock's held-out predictions (columns: median, sd, measured,
    right, left, decades_N, rule_outside, outside; log10 units)."""
    start = np.log(PRIOR)
    from scipy import optimize  # a fit only: a prediction from cached laws needs none (0.3 s)

    res = optimize.minimize(negative_loglik, start, args=(part,), method="L-BFGS-B", bounds=BOUNDS)
    return dict(zip(PARAMS, map(float, np.exp(res.x))))


def fit_calibration(records: pd.DataFrame, fitted_on: str) -> Calibration:
    """One fit per clock of the held-out records (see `fit_clock`)."""
    return Calibration({str(c): fit_clock(part) for c, part in records.groupby("clock")}, fitted_on)
