"""Laws of the clocks: for each clock, log10 tau as a linear function of a run's variables,
fitted to finished runs with their censored clocks (`tobit`), its form chosen on held-out runs,
its uncertainty from a bootstrap over seeds.

The forms (FORMS), in the variables of `twoclocks.prediction.variables` (each numeric variable
centred at its mean over the fitted runs; a term whose variable never varies is left out):

    power     log10 tau = a_family + a_task + b logN + c bits + capacity             (P)
              capacity = d1 log2_width + d2 log2_depth + d3 patch + d4 log2_batch + d5 log10_lr
              + a_layout: tau = A N^b, one exponent b for every family and rule
    family    (P) + b_family logN                       an exponent per family
    regime    (P) + b_family logN + e logN bits         the exponent moves with the rule's size
    curved    regime + q logN^2                         curvature in log N
    learned   regime + g L + h L logN   (tau_mem only)  L = 1 when the rule was learned before
              copying began: the two regimes of copying, each with its own exponent

The form of each clock is the one whose held-out censored log-likelihood (five folds, each
holding out whole configs with all their seeds) is highest (`choose_form`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from twoclocks.prediction.tobit import TobitFit, censored_logpdf, fit_tobit
from twoclocks.prediction.variables import CATEGORICAL, NUMERIC, Observed

BASE = ("1", "family", "task", "layout", "logN", "bits", *(n for n in NUMERIC if n != "logN"))
FORMS: dict[str, tuple[str, ...]] = {
    "power": BASE,
    "family": (*BASE, "logN:family"),
    "regime": (*BASE, "logN:family", "logN:bits"),
    "curved": (*BASE, "logN:family", "logN:bits", "logN^2"),
    "learned": (*BASE, "logN:family", "logN:bits", "learned", "logN:learned"),
}
RULE_FORMS = ("power", "family", "regime", "curved")  # "learned" needs a rule clock to lean on
FOLDS = 5
BOOTSTRAP = 100
SEED = 20260501  # the seed of every draw a law makes: folds, bootstrap, predictive samples


@dataclass(frozen=True)
class Design:
    """The columns of one form over the variables of the fitted runs."""

    terms: tuple[str, ...]  # the form's terms that vary in the fitted runs
    levels: dict[str, list[str]]  # categorical -> levels seen, the first is the reference
    centres: dict[str, float]  # numeric -> mean over the fitted runs

    @classmethod
    def learn(cls, form: tuple[str, ...], v: pd.DataFrame) -> Design:
        levels = {c: sorted(v[c].unique()) for c in CATEGORICAL if c in v}
        numeric = [*NUMERIC, "bits", "learned"]
        centres = {c: float(v[c].mean()) for c in numeric if c in v}
        return cls(identified(cls(form, levels, centres), v), levels, centres)

    def columns(self, term: str, v: pd.DataFrame) -> np.ndarray:
        """The (runs, k) block of one term."""
        if term == "1":
            return np.ones((len(v), 1))
        if ":" in term:
            a, b = term.split(":")
            return self.columns(a, v) * self.columns(b, v)
        if term == "logN^2":
            return self.columns("logN", v) ** 2
        if term in self.levels:
            rest = self.levels[term][1:]
            block = np.stack([(v[term] == level).to_numpy(float) for level in rest], axis=1) if rest else None
            return block if block is not None else np.zeros((len(v), 1))
        return (v[term].to_numpy(float) - self.centres[term])[:, None]

    def matrix(self, v: pd.DataFrame) -> np.ndarray:
        return np.concatenate([self.columns(t, v) for t in self.terms], axis=1)

    def term_labels(self, term: str) -> list[str]:
        """One label per column of `columns(term)`, e.g. 'logN:family=gpt'."""
        if ":" in term:
            a, b = term.split(":")
            return [f"{x}:{y}" for x in self.term_labels(a) for y in self.term_labels(b)]
        if term in self.levels and len(self.levels[term]) > 1:
            return [f"{term}={level}" for level in self.levels[term][1:]]
        return [term]

    def labels(self) -> list[str]:
        return [label for t in self.terms for label in self.term_labels(t)]


def identified(design: Design, v: pd.DataFrame) -> tuple[str, ...]:
    """The terms of `design`, in order, that the runs `v` can tell apart from the terms before
    them: each kept term raises the rank of the design matrix by its number of columns. A term
    that varies but lies in the span of the others (an exponent per rule size where every other
    size has one N; an exponent per regime where one regime has one N per family) would be set
    by the coefficients' prior alone, and extrapolate as the prior says, not as any run does."""
    kept: list[str] = []
    block = np.ones((len(v), 0))
    for term in design.terms:
        trial = np.concatenate([block, design.columns(term, v)], axis=1)
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            kept.append(term)
            block = trial
    return tuple(kept)


@dataclass
class Law:
    """One clock's fitted law: its form, the fit to every run, and the bootstrap fits."""

    clock: str
    form: str
    design: Design
    fit: TobitFit
    draws: list[TobitFit] = field(default_factory=list)  # bootstrap over seeds
    heldout: dict[str, float] = field(default_factory=dict)  # form -> held-out log-lik per run
    runs: int = 0  # runs fitted
    seeds_per_config: float = 1.0  # k of `samples`, the mean over the fitted configs

    @property
    def dof(self) -> int:
        """Degrees of freedom of the scatter: runs less coefficients."""
        return max(self.runs - len(self.fit.beta), 1)

    @property
    def scatter(self) -> float:
        """The scatter of runs around the law: sigma with the degrees-of-freedom correction
        sqrt(n / (n - p)) (the maximum-likelihood sigma is biased low by it)."""
        return self.fit.sigma * math.sqrt(self.runs / self.dof)

    @property
    def shrinkage(self) -> float:
        k = self.seeds_per_config
        return math.sqrt(k / (k - 1)) if k > 1 else 1.0

    def samples(self, v: pd.DataFrame, per_draw: int, rng: np.random.Generator) -> np.ndarray:
        """Predictive samples of log10 tau for the single row of `v`, for each bootstrap fit b:

            y = mu(x) + c (mu_b(x) - mu(x)) + scatter * t,   t ~ Student t with n - p dof

        mu_b carries the parameters' uncertainty; c = sqrt(k / (k - 1)) undoes the shrinkage of
        a bootstrap over k seeds per config (a resample of k values with replacement keeps
        (k - 1) / k of their variance); the t (not a normal) carries the uncertainty of the
        scatter itself. The scatter is not taken from the bootstrap fits, whose sigma_b are
        shrunk the same way."""
        x = self.design.matrix(v)[0]
        mu = x @ self.fit.beta
        mus = mu + self.shrinkage * (np.array([x @ d.beta for d in self.draws]) - mu)
        t = rng.standard_t(self.dof, (len(self.draws), per_draw))
        return (mus[:, None] + self.scatter * t).ravel()

    def to_dict(self) -> dict:
        """Everything a prediction reads of the law, as JSON (`from_dict` reads it back to the
        same floats, so a cached law predicts what the fit did)."""
        return {
            "clock": self.clock,
            "form": self.form,
            "terms": list(self.design.terms),
            "levels": self.design.levels,
            "centres": self.design.centres,
            "fit": self.fit.to_dict(),
            "draws": [d.to_dict() for d in self.draws],
            "heldout": {f: (v if math.isfinite(v) else None) for f, v in self.heldout.items()},
            "runs": self.runs,
            "seeds_per_config": self.seeds_per_config,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Law:
        design = Design(tuple(d["terms"]), {k: list(v) for k, v in d["levels"].items()}, dict(d["centres"]))
        heldout = {f: (-math.inf if v is None else float(v)) for f, v in d["heldout"].items()}
        fit, draws = TobitFit.from_dict(d["fit"]), [TobitFit.from_dict(x) for x in d["draws"]]
        return cls(d["clock"], d["form"], design, fit, draws, heldout, d["runs"], d["seeds_per_config"])

    def parameter_intervals(self, level: float = 0.95) -> dict[str, tuple[float, float, float]]:
        """Each coefficient (and sigma): (estimate, lo, hi), the bootstrap percentile interval."""
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        betas = np.array([d.beta for d in self.draws])
        out = {}
        for j, name in enumerate(self.design.labels()):
            lo, hi = np.percentile(betas[:, j], q)
            out[name] = (float(self.fit.beta[j]), float(lo), float(hi))
        sigma = np.percentile([d.sigma for d in self.draws], q)
        out["sigma"] = (self.fit.sigma, float(sigma[0]), float(sigma[1]))
        return out


def cells(v: pd.DataFrame) -> np.ndarray:
    """An id per run, equal for runs that differ only in their seed."""
    return v.round(9).astype(str).agg("|".join, axis=1).factorize()[0]


def fit_form(form: str, v: pd.DataFrame, obs: Observed) -> tuple[Design, TobitFit]:
    design = Design.learn(FORMS[form], v)
    return design, fit_tobit(design.matrix(v), obs.y, obs.right, obs.left)


def heldout_loglik(form: str, v: pd.DataFrame, obs: Observed, rng: np.random.Generator) -> float:
    """Mean censored log-likelihood of held-out runs, FOLDS folds of whole configs."""
    cell = cells(v)
    fold_of = rng.permutation(cell.max() + 1) % FOLDS
    total = []
    for k in range(FOLDS):
        test = fold_of[cell] == k
        if not test.any() or test.all():
            continue
        design, fit = fit_form(form, v[~test], _subset(obs, ~test))
        mu = design.matrix(v[test]) @ fit.beta
        o = _subset(obs, test)
        total.append(censored_logpdf(mu, fit.sigma, o.y, o.right, o.left))
    return float(np.concatenate(total).mean()) if total else -np.inf


def _subset(obs: Observed, mask: np.ndarray) -> Observed:
    return Observed(obs.y[mask], obs.right[mask], obs.left[mask])


def choose_form(clock: str, v: pd.DataFrame, obs: Observed) -> tuple[str, dict[str, float]]:
    """The form with the highest held-out log-likelihood (same folds for every form)."""
    forms = [*RULE_FORMS, "learned"] if clock == "tau_mem" else list(RULE_FORMS)
    scores = {f: heldout_loglik(f, v, obs, np.random.default_rng(SEED)) for f in forms}
    return max(scores, key=lambda f: scores[f]), scores


def bootstrap(
    design: Design, v: pd.DataFrame, obs: Observed, fit: TobitFit, rng: np.random.Generator, draws: int = BOOTSTRAP
) -> list[TobitFit]:
    """Refits on resampled seeds: every config keeps its number of runs, drawn with replacement
    from its own seeds, so the design (and every censored group) stays what it is."""
    cell = cells(v)
    groups = [np.flatnonzero(cell == c) for c in range(cell.max() + 1)]
    X = design.matrix(v)
    start = np.append(fit.beta, np.log(fit.sigma))
    fits = []
    for _ in range(draws):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        fits.append(fit_tobit(X[idx], obs.y[idx], obs.right[idx], obs.left[idx], start=start))
    return fits


def fit_law(clock: str, v: pd.DataFrame, obs: Observed, form: str | None = None, draws: int = BOOTSTRAP) -> Law:
    """Choose the form (unless given), fit it to every run, and bootstrap it (`draws` refits)."""
    scores: dict[str, float] = {}
    if form is None:
        form, scores = choose_form(clock, v, obs)
    design, fit = fit_form(form, v, obs)
    fits = bootstrap(design, v, obs, fit, np.random.default_rng(SEED), draws)
    cell = cells(v)
    return Law(clock, form, design, fit, fits, scores, runs=len(v), seeds_per_config=len(v) / (cell.max() + 1))
