"""Calibrated intervals: the uncertainty a law's own fit does not carry, and the share of its
own spread it should not.

A law's predictive samples (`Law.samples`) carry the scatter of runs around it and the
uncertainty of its parameters, both as if its form were right. Held-out runs show that it is
not always: a form chosen on N = 4-16 bends away at N = 64, a width the fit never varied for
that clock moves it, a rule it never saw sits off its features' law. They also show the law's
own spread to be too wide where it pools runs that scatter little with runs that scatter much
(one sigma for every family and rule size). So the error of a held-out prediction of log10 tau
is modelled as

    y - median ~ N(0, (a sd_law)^2 + extra^2 + spread_rule^2)                              (1)
    extra^2 = s0^2 + (kN d_N)^2 + sb^2 b_out + sx^2 n_out + su^2 n_unvaried + sr^2 unseen

    sd_law      the standard deviation of the law's own predictive samples for that run
    spread_rule for a rule no fitted run has, the spread of the fitted rules' own offsets
                (`laws.Law.unseen_spread`, 0 otherwise): the law's, neither scaled nor fitted here
    a           the factor the law's own spread is off by (a < 1: too wide)
    d_N         decades of N between the run and the runs that measured the clock (`reach`)
    b_out       1 where the rule's size lies outside those runs' sizes
    n_out       other variables outside those runs that the fitted runs varied
    n_unvaried  variables outside that no fitted run varied (the law has no term for them)
    unseen      1 where no measured run of the family had the rule (its features' law only)
    s0          the form's error inside the evidence; kN its growth per decade of extrapolation
                in N; sb the cost of a rule size the evidence never had; sx that of each other
                variable the evidence never spanned; su that of each variable the law cannot
                place at all; sr that of a rule the law knows by its features alone

and the parameters (PARAMS) are fitted per clock by maximising the censored log-likelihood (1)
of the leave-one-level-out predictions (`validation`: every N, rule size, rule, width, depth,
patch, batch and learning rate held out in turn), right- and left-censored measurements
entering as P(y > bound) and P(y <= bound) as in `tobit`, plus a log-normal prior on each
parameter (median PRIOR, PRIOR_SD in natural log): scipy.optimize.minimize (L-BFGS-B, on log
parameters within BOUNDS: a in [0.2, 5], the others in [1e-3, 3] decades). a's prior median
is 1: the law's spread as it is. The prior is what a parameter falls back to where the held-out
runs carry no information on it (no held-out run had a variable outside the evidence: a
reference whose rule sizes all share one N): a factor of 2 (0.3 decades) per other variable outside,
0.3 decades per decade of N beyond, a decade for a rule size outside (the rule clocks move
by orders of magnitude between rule sizes, docs/sweeps.md), half a decade for a variable the law
cannot place or a rule it knows by its features alone, not zero. Held-out runs that do
inform a parameter outweigh its prior. A prediction then scales each predictive sample's
distance from the samples' median by a and adds N(0, extra^2) to it (`calibrated_samples`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twoclocks.prediction.reach import Reach, decades
from twoclocks.prediction.tobit import censored_logpdf

PARAMS = ("a", "s0", "kN", "sb", "sx", "su", "sr")
SPREAD = PARAMS[1:]  # the parameters of extra
# What each spread parameter multiplies (`reach.Reach.terms`); s0 multiplies 1, kN multiplies
# d_N (not its square: its square enters extra^2).
GROWS_WITH = {
    "s0": None,
    "kN": "decades_N",
    "sb": "rule_outside",
    "sx": "outside",
    "su": "unvaried",
    "sr": "rule_unseen",
}
REACH_TERMS = tuple(t for t in GROWS_WITH.values() if t is not None)
BOUNDS = ((math.log(0.2), math.log(5.0)), *[(math.log(1e-3), math.log(3.0))] * len(SPREAD))
PRIOR = dict(zip(PARAMS, (1.0, 0.05, 0.3, 1.0, 0.3, 0.5, 0.5)))  # a; the others in decades
PRIOR_SD = 1.0


@dataclass(frozen=True)
class Calibration:
    """The PARAMS of (1) per clock, and what they were fitted on."""

    clocks: dict[str, dict[str, float]]
    fitted_on: str

    def extra_sd(self, clock: str, r: Reach) -> float:
        p = self.clocks.get(clock)
        return 0.0 if p is None else extra_sd(p, r.terms())

    def scale(self, clock: str) -> float:
        """a of (1): 1 for a clock the calibration has no record of."""
        p = self.clocks.get(clock)
        return 1.0 if p is None else p["a"]

    def to_dict(self) -> dict:
        return {"fitted_on": self.fitted_on, "clocks": self.clocks}

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        # A parameter a record lacks (it predates it) is at its prior median.
        clocks = {str(c): {k: float(p.get(k, PRIOR[k])) for k in PARAMS} for c, p in d["clocks"].items()}
        return cls(clocks, str(d["fitted_on"]))


def extra_sd(p: dict[str, float], terms: dict[str, float]) -> float:
    """extra of (1) for one prediction (`terms`: `Reach.terms()`), from one clock's parameters."""
    values = np.array([p.get(k, PRIOR[k]) for k in SPREAD])  # a record without a parameter: its prior
    return float(np.sqrt(extra_variance(values, {k: np.array([v]) for k, v in terms.items()})[0]))


def extra_variance(params: np.ndarray, terms: dict[str, np.ndarray]) -> np.ndarray:
    """extra^2 of (1): params in SPREAD's order, terms by REACH_TERMS (arrays of equal length)."""
    out = np.full(len(terms["decades_N"]), params[0] ** 2)
    for value, name in zip(params[1:], list(GROWS_WITH.values())[1:]):
        x = terms[str(name)]
        out = out + (value * x) ** 2 if name == "decades_N" else out + value**2 * x
    return out


def calibrated_samples(y: np.ndarray, a: float, extra: float, noise: np.ndarray) -> np.ndarray:
    """Samples y of one prediction (log10 tau) with (1) applied: median + a (y - median) +
    extra * noise (`noise`: standard normal draws, one per sample or broadcastable)."""
    median = np.median(y)
    return median + a * (y - median) + extra * noise


def negative_loglik(theta: np.ndarray, part: pd.DataFrame) -> float:
    terms = {t: part[t].to_numpy(float) if t in part else np.zeros(len(part)) for t in REACH_TERMS}
    terms["decades_N"] = np.array([decades(x) for x in terms["decades_N"]])
    a, spread = np.exp(theta[0]), np.exp(theta[1:])
    var = (a * part["sd"].to_numpy(float)) ** 2 + extra_variance(spread, terms)
    if "rule_spread" in part:  # an unseen rule's offset spread, from the law: not a parameter here
        var = var + part["rule_spread"].to_numpy(float) ** 2
    ll = censored_logpdf(
        part["median"].to_numpy(float),
        np.sqrt(var),  # one sigma per prediction
        part["measured"].to_numpy(float),
        part["right"].to_numpy(bool),
        part["left"].to_numpy(bool),
    )
    prior = ((theta - np.log([PRIOR[k] for k in PARAMS])) ** 2).sum() / (2 * PRIOR_SD**2)
    return -float(ll.sum()) + float(prior)


def fit_clock(part: pd.DataFrame) -> dict[str, float]:
    """The parameters of one clock's held-out predictions (columns: median, sd, measured,
    right, left and REACH_TERMS; log10 units)."""
    start = np.log([PRIOR[k] for k in PARAMS])
    from scipy import optimize  # a fit only: a prediction from cached laws needs none (0.3 s)

    res = optimize.minimize(negative_loglik, start, args=(part,), method="L-BFGS-B", bounds=BOUNDS)
    return dict(zip(PARAMS, map(float, np.exp(res.x))))


def fit_calibration(records: pd.DataFrame, fitted_on: str) -> Calibration:
    """One fit per clock of the held-out records (see `fit_clock`)."""
    return Calibration({str(c): fit_clock(part) for c, part in records.groupby("clock")}, fitted_on)
